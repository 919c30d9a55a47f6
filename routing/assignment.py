"""Who in a team gets a conversation: round robin, least open, or nobody (manual).

Pure over a snapshot of the team's members. Only agents who are online and under their
capacity can receive work; away and offline agents are skipped, and so are agents invited
but never signed in (their availability is only the default). A contact goes back to
the agent who helped them before when that agent is in the team and can take it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from routing.vocabulary import AssignmentStrategy as Strategy
from routing.vocabulary import Availability

STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)

Reason = Literal["sticky", "round_robin", "least_open", "manual", "nobody_available"]

_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class AgentState:
    id: int
    availability: Availability = "online"
    capacity: int | None = None  # open conversations they can hold; None is unlimited
    open_count: int = 0
    last_assigned_at: dt.datetime | None = None
    signed_in: bool = True  # False: invited, has never signed in

    @property
    def can_take_more(self) -> bool:
        """Signed in at some point, online and under capacity."""
        has_room = self.capacity is None or self.open_count < self.capacity
        return self.signed_in and self.availability == "online" and has_room


@dataclass(frozen=True, slots=True)
class Assignment:
    """The chosen agent (None: leave it with the team) and the round-robin pointer to keep.

    `rr_pointer` is the id of the agent round robin served last in this team; the caller
    stores it with the team and passes it back next time.
    """

    agent_id: int | None
    rr_pointer: int | None
    reason: Reason


def choose_agent(
    strategy: Strategy,
    members: Sequence[AgentState],
    *,
    previous_agent_id: int | None = None,
    rr_pointer: int | None = None,
    sticky: bool = True,
) -> Assignment:
    """Pick the member who should get the next conversation of the team."""
    if strategy == "manual":
        return Assignment(None, rr_pointer, "manual")
    eligible = [m for m in members if m.can_take_more]
    if sticky and previous_agent_id is not None:
        if any(m.id == previous_agent_id for m in eligible):
            # Stickiness is not a turn: the rotation pointer stays where it was.
            return Assignment(previous_agent_id, rr_pointer, "sticky")
    if not eligible:
        return Assignment(None, rr_pointer, "nobody_available")
    if strategy == "round_robin":
        chosen = _next_in_turn(eligible, rr_pointer)
        return Assignment(chosen.id, chosen.id, "round_robin")
    if strategy == "least_open":
        chosen = min(eligible, key=lambda m: (m.open_count, m.last_assigned_at or _EPOCH, m.id))
        return Assignment(chosen.id, rr_pointer, "least_open")
    raise ValueError(f"unknown assignment strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")


def _next_in_turn(eligible: Sequence[AgentState], pointer: int | None) -> AgentState:
    """The first eligible agent after `pointer` in id order, wrapping around.

    Turns follow agent ids, not list order or who is present, so the rotation stays fair
    when agents join, leave, or step away and come back.
    """
    ordered = sorted(eligible, key=lambda m: m.id)
    if pointer is not None:
        for member in ordered:
            if member.id > pointer:
                return member
    return ordered[0]
