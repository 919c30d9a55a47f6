"""The routing part of the configuration file: teams, business hours and SLA policies.

    [[teams]]
    name = "billing"
    members = ["ana@example.com"]
    assignment = "round_robin"

    [business_hours.default]
    timezone = "Europe/Madrid"
    mon = ["09:00-14:00", "15:00-18:00"]
    holidays = [2026-12-25, 2027-01-01]

    [[sla]]
    priority = "P1"
    first_response = "1h"
    resolution = "8h"
    business_hours = "default"

The inbox embeds these models in its Config and calls `check_routing` for the checks
that span several sections.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from routing.assignment import Strategy
from routing.business_hours import WEEKDAYS, BusinessHours, InvalidBusinessHours, parse_span, zone
from routing.priority import Priority
from routing.rules import InvalidRule, Rule, validate_rules
from routing.sla import SLAPolicy

ALWAYS_OPEN = "24x7"
DEFAULT_CALENDAR = "default"

_DURATION = re.compile(r"^(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?$")


def parse_duration(value: Any) -> int:
    """ "1h", "90m", "1h30m" or a number of minutes -> minutes (business time for SLAs)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30m, 4h or 1h30m")
    if isinstance(value, int):
        minutes = value
    elif isinstance(value, str) and (match := _DURATION.match(value.strip())) and any(match.groups()):
        minutes = int(match[1] or 0) * 60 + int(match[2] or 0)
    else:
        hint = " (days are ambiguous in business time; write hours, e.g. 24h)" if "d" in str(value) else ""
        raise ValueError(f"expected a duration such as 30m, 4h or 1h30m, got {value!r}{hint}")
    if minutes <= 0:
        raise ValueError("a duration must be more than zero minutes")
    return minutes


Minutes = Annotated[int, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TeamConfig(_Strict):
    name: str = Field(min_length=1, max_length=255)
    members: list[str] = []  # agents' email addresses
    assignment: Strategy = "round_robin"  # round_robin | least_open | manual
    sticky: bool = True  # a returning contact goes to the agent who helped them before

    @field_validator("members")
    @classmethod
    def _emails(cls, members: list[str]) -> list[str]:
        for member in members:
            if "@" not in member:
                raise ValueError(f"expected agents' email addresses, got {member!r}")
        return members


class BusinessHoursConfig(_Strict):
    timezone: str = "UTC"
    mon: list[str] = []
    tue: list[str] = []
    wed: list[str] = []
    thu: list[str] = []
    fri: list[str] = []
    sat: list[str] = []
    sun: list[str] = []
    holidays: list[dt.date] = []

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zone(value)
        except InvalidBusinessHours as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator(*WEEKDAYS)
    @classmethod
    def _spans(cls, spans: list[str]) -> list[str]:
        for span in spans:
            try:
                parse_span(span)
            except InvalidBusinessHours as exc:
                raise ValueError(str(exc)) from None
        return spans

    @model_validator(mode="after")
    def _ever_open(self) -> BusinessHoursConfig:
        if not any(getattr(self, day) for day in WEEKDAYS):
            raise ValueError('never open: give the open hours of at least one day, e.g. mon = ["09:00-17:00"]')
        return self

    def to_business_hours(self) -> BusinessHours:
        return BusinessHours(self.timezone, {day: getattr(self, day) for day in WEEKDAYS}, self.holidays)


class SLAConfig(_Strict):
    priority: Priority
    first_response: Minutes
    resolution: Minutes
    business_hours: str = ALWAYS_OPEN  # a [business_hours.NAME], or "24x7"
    due_soon: Minutes = 30  # warn this long (wall-clock) before a target is due

    @model_validator(mode="after")
    def _ordered(self) -> SLAConfig:
        if self.resolution < self.first_response:
            raise ValueError("resolution must not be shorter than first_response")
        return self


def calendars(business_hours: Mapping[str, BusinessHoursConfig]) -> dict[str, BusinessHours]:
    """Every named calendar, plus "24x7"."""
    built = {name: cfg.to_business_hours() for name, cfg in business_hours.items()}
    built.setdefault(ALWAYS_OPEN, BusinessHours.always())
    return built


def default_calendar(business_hours: Mapping[str, BusinessHoursConfig]) -> BusinessHours:
    """The calendar rules' `business_hours = "in" | "out"` use: [business_hours.default],
    else open around the clock."""
    cfg = business_hours.get(DEFAULT_CALENDAR)
    return cfg.to_business_hours() if cfg is not None else BusinessHours.always()


def sla_policies(sla: Sequence[SLAConfig], business_hours: Mapping[str, BusinessHoursConfig]) -> dict[Priority, SLAPolicy]:
    """The SLA policy of each priority that has one (run `check_routing` first)."""
    known = calendars(business_hours)
    return {
        s.priority: SLAPolicy(
            priority=s.priority,
            first_response_minutes=s.first_response,
            resolution_minutes=s.resolution,
            business_hours=known[s.business_hours],
            due_soon_minutes=s.due_soon,
        )
        for s in sla
    }


def check_routing(
    *,
    teams: Sequence[TeamConfig] = (),
    rules: Sequence[Mapping[str, Any] | Rule] = (),
    sla: Sequence[SLAConfig] = (),
    business_hours: Mapping[str, BusinessHoursConfig] | None = None,
    agents: Sequence[str] | None = None,
    templates: Sequence[str] | None = None,
) -> list[str]:
    """Problems that span sections, one line each, keyed like the file ("sla[1].priority")."""
    problems: list[str] = []
    team_names = [t.name for t in teams]
    for dup in sorted({n for n in team_names if team_names.count(n) > 1}):
        problems.append(f"teams: the name {dup!r} is used twice")
    if agents is not None:
        known_agents = {a.casefold() for a in agents}
        for i, team in enumerate(teams):
            for member in team.members:
                if member.casefold() not in known_agents:
                    problems.append(f"teams[{i}].members: no agent with email {member!r}")
    try:
        validate_rules(rules, teams=team_names, agents=agents, templates=templates)
    except InvalidRule as exc:
        problems.extend(exc.problems)
    names = set(business_hours or {}) | {ALWAYS_OPEN}
    seen: set[str] = set()
    for i, policy in enumerate(sla):
        if policy.business_hours not in names:
            known = ", ".join(sorted(names))
            problems.append(f"sla[{i}].business_hours: no [business_hours.{policy.business_hours}]; known: {known}")
        if policy.priority in seen:
            problems.append(f"sla[{i}].priority: {policy.priority} already has a policy")
        seen.add(policy.priority)
    return problems


__all__ = [
    "ALWAYS_OPEN",
    "BusinessHoursConfig",
    "SLAConfig",
    "TeamConfig",
    "calendars",
    "check_routing",
    "default_calendar",
    "parse_duration",
    "sla_policies",
]
