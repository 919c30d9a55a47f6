"""The outcome of walking the rules over one message: what fired, what it does, what failed.

Single-valued actions (assignee, team, priority, status, conversion, auto-reply) are
decided by the last rule that sets them; tags add up. Actions that end up with no effect
(overridden by a later rule, a tag already added, an auto-reply to a robot) are kept
apart in `superseded`, so the timeline shows only what really happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from routing.priority import Level, Priority
from routing.tickets import TicketKind
from routing.timeline import ActionName, AppliedAction

ConversationStatus = Literal["open", "pending", "resolved"]
RuleOutcome = Literal["fired", "no_match", "disabled", "failed", "not_reached"]


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """A rule that could not be applied and was skipped; the caller logs it."""

    rule: str
    error: str


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """What happened to one rule, for `frontdesk rules test` and backtests."""

    rule: str
    outcome: RuleOutcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    applied: tuple[AppliedAction, ...] = ()
    superseded: tuple[AppliedAction, ...] = ()
    trace: tuple[RuleTrace, ...] = ()
    errors: tuple[RuleFailure, ...] = ()
    stopped_by: str | None = None

    @property
    def fired(self) -> tuple[str, ...]:
        """Names of the rules that matched and were applied, in order."""
        return tuple(t.rule for t in self.trace if t.outcome == "fired")

    def _last(self, action: ActionName) -> AppliedAction | None:
        return next((a for a in reversed(self.applied) if a.action == action), None)

    def _value(self, action: ActionName) -> str | None:
        found = self._last(action)
        return None if found is None else str(found.value)

    @property
    def assign_agent(self) -> str | None:
        return self._value("assign_agent")

    @property
    def assign_team(self) -> str | None:
        return self._value("assign_team")

    @property
    def priority(self) -> Priority | None:
        return cast("Priority | None", self._value("priority"))

    @property
    def status(self) -> ConversationStatus | None:
        return cast("ConversationStatus | None", self._value("status"))

    @property
    def convert(self) -> TicketKind | None:
        return cast("TicketKind | None", self._value("convert"))

    @property
    def impact(self) -> Level | None:
        found = self._last("convert")
        return None if found is None else found.impact

    @property
    def urgency(self) -> Level | None:
        found = self._last("convert")
        return None if found is None else found.urgency

    @property
    def auto_reply(self) -> str | None:
        return self._value("auto_reply")

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(t for a in self.applied if a.action == "tag" for t in a.values)

    def timeline(self, language: str | None = "en") -> list[str]:
        """One line per applied action, for the conversation timeline."""
        return [a.text(language) for a in self.applied]


class DecisionBuilder:
    """Accumulates the actions of fired rules into a Decision."""

    def __init__(self, *, automated: bool = False) -> None:
        self._automated = automated
        self.applied: list[AppliedAction] = []
        self.superseded: list[AppliedAction] = []
        self.trace: list[RuleTrace] = []
        self.errors: list[RuleFailure] = []
        self.stopped_by: str | None = None

    def apply(self, action: AppliedAction) -> None:
        if action.action == "tag":
            self._add_tags(action)
        elif action.action == "auto_reply" and self._automated:
            self.superseded.append(action)  # robots are never answered
        elif action.action == "stop":
            self.applied.append(action)
            self.stopped_by = action.rule
        else:
            self._replace(action)

    def _add_tags(self, action: AppliedAction) -> None:
        have = {t.casefold() for a in self.applied if a.action == "tag" for t in a.values}
        new: list[str] = []
        for tag in action.values:
            if tag.casefold() not in have:
                have.add(tag.casefold())
                new.append(tag)
        if new:
            self.applied.append(AppliedAction(action.rule, "tag", tuple(new)))
        else:
            self.superseded.append(action)

    def _replace(self, action: AppliedAction) -> None:
        previous = next((a for a in self.applied if a.action == action.action), None)
        same = previous is not None and (previous.value, previous.impact, previous.urgency) == (
            action.value,
            action.impact,
            action.urgency,
        )
        if same:
            self.superseded.append(action)  # already so: the earlier rule keeps the credit
            return
        if previous is not None:
            self.applied.remove(previous)
            self.superseded.append(previous)
        self.applied.append(action)

    def build(self) -> Decision:
        return Decision(
            applied=tuple(self.applied),
            superseded=tuple(self.superseded),
            trace=tuple(self.trace),
            errors=tuple(self.errors),
            stopped_by=self.stopped_by,
        )
