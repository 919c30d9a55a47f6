"""SLA policies: when a first response and a resolution are due, and how a ticket stands.

The clock runs only in the policy's business hours, and stops while the ticket waits on
the customer (its paused intervals). Due times are recomputed from the creation time and
the pauses, so they never drift however often they are recomputed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from routing.business_hours import BusinessHours, Segment, advance
from routing.priority import Priority

SLAState = Literal["ok", "due_soon", "breached", "met"]
SLAEvent = Literal["sla.due_soon", "sla.breached"]

DEFAULT_DUE_SOON = dt.timedelta(minutes=30)

# A pause as (from, until); `until` is None while the ticket still waits on the customer.
Pause = tuple[dt.datetime, dt.datetime | None]


@dataclass(frozen=True, slots=True)
class SLAPolicy:
    priority: Priority
    first_response_minutes: int
    resolution_minutes: int
    business_hours: BusinessHours = field(default_factory=BusinessHours.always)
    due_soon_minutes: int = 30

    def __post_init__(self) -> None:
        if self.first_response_minutes <= 0 or self.resolution_minutes <= 0:
            raise ValueError("SLA targets must be positive numbers of minutes")

    @property
    def due_soon(self) -> dt.timedelta:
        """How long before a target it counts as due soon (pass to `sla_state`)."""
        return dt.timedelta(minutes=self.due_soon_minutes)


class DueTimes(NamedTuple):
    """None means the clock is stopped (paused) before the target was reached."""

    first_response_due: dt.datetime | None
    resolution_due: dt.datetime | None


def _merged_pauses(pauses: Iterable[Pause]) -> list[tuple[dt.datetime, dt.datetime | None]]:
    ordered = sorted(pauses, key=lambda p: p[0])
    merged: list[tuple[dt.datetime, dt.datetime | None]] = []
    for start, end in ordered:
        if end is not None and end <= start:
            continue
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                break  # an open-ended pause swallows every later one
            if start <= last_end:
                new_end = None if end is None else max(last_end, end)
                merged[-1] = (last_start, new_end)
                continue
        merged.append((start, end))
    return merged


def _running(segments: Iterator[Segment], pauses: Sequence[Pause]) -> Iterator[Segment]:
    """The open segments with the paused intervals cut out."""
    merged = _merged_pauses(pauses)
    i = 0
    for seg_start, seg_end in segments:
        cursor = seg_start
        while cursor < seg_end:
            while i < len(merged) and (end := merged[i][1]) is not None and end <= cursor:
                i += 1
            if i == len(merged) or merged[i][0] >= seg_end:
                yield cursor, seg_end
                break
            pause_start, pause_end = merged[i]
            if pause_start > cursor:
                yield cursor, pause_start
            if pause_end is None:
                return  # paused until further notice: the clock stops here
            cursor = max(cursor, pause_end)


def due_at(
    start: dt.datetime,
    minutes: int,
    hours: BusinessHours,
    paused_intervals: Sequence[Pause] = (),
) -> dt.datetime | None:
    """When `minutes` of running clock have passed since `start`, or None if paused first."""
    reached = advance(_running(hours.open_segments(start), paused_intervals), dt.timedelta(minutes=minutes))
    return None if reached is None else reached.astimezone(start.tzinfo)


def due_times(
    created_at: dt.datetime,
    policy: SLAPolicy,
    paused_intervals: Sequence[Pause] = (),
) -> DueTimes:
    """The first-response and resolution due times of a ticket under `policy`."""
    hours = policy.business_hours
    return DueTimes(
        first_response_due=due_at(created_at, policy.first_response_minutes, hours, paused_intervals),
        resolution_due=due_at(created_at, policy.resolution_minutes, hours, paused_intervals),
    )


def sla_state(
    now: dt.datetime,
    due: dt.datetime | None,
    met_at: dt.datetime | None = None,
    *,
    due_soon: dt.timedelta = DEFAULT_DUE_SOON,
) -> SLAState:
    """How one target stands at `now`.

    Met on time is "met", met late stays "breached". With no due time (no policy, or the
    clock paused) nothing can be late, so it is "ok".
    """
    if met_at is not None:
        return "met" if due is None or met_at <= due else "breached"
    if due is None:
        return "ok"
    if now >= due:
        return "breached"
    if now >= due - due_soon:
        return "due_soon"
    return "ok"


def sla_event(previous: SLAState, current: SLAState) -> SLAEvent | None:
    """The event to publish when a target's state changes, if any (each fires once)."""
    if current == previous:
        return None
    if current == "due_soon" and previous == "ok":
        return "sla.due_soon"
    if current == "breached" and previous in ("ok", "due_soon"):
        return "sla.breached"
    return None
