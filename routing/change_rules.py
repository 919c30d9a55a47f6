"""Rules that act on changes, as the routing rules act on inbound messages.

A change rule is a rule with `on = "change"`. It is looked at every time a change enters
a status (when it is created, in draft, and at every status change after that), so a rule
fires at most once per status change. Its conditions are over the change: its type, risk,
status (and the status it came from) and the services and configuration items it touches.
Its actions notify: a team (every active member, by e-mail and on Slack when they are on
Slack), e-mail addresses (a team list), Slack channels (a team's channel, by id).

`evaluate_change` is pure: it says which rules fire and whom to tell; the change action
(inbox/pipeline/change_rules.py) queues the messages through the outbox.

Stored like the other rules (the `rule` table), with the trigger kept in its conditions
(`{"on": "change", ...}`): `split_trigger` and `stored_conditions` translate.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from routing.rules import InvalidRule, _describe
from routing.vocabulary import CHANGE_STATUSES, CHANGE_TYPES, ChangeStatus, ChangeType, Level

TRIGGER_KEY = "on"
CHANGE = "change"


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _address(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) or len(value) > 320:
        raise ValueError(f"expected an e-mail address, got {value!r}")
    return value.lower()


_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
_Names = Annotated[tuple[_Text, ...], BeforeValidator(_listify), Field(min_length=1, max_length=100)]
_Addresses = Annotated[tuple[Annotated[str, AfterValidator(_address)], ...], BeforeValidator(_listify), Field(min_length=1, max_length=20)]


_SlackChannels = Annotated[
    tuple[Annotated[str, StringConstraints(pattern=r"^[CG][A-Z0-9]{2,20}$")], ...],
    BeforeValidator(_listify),
    Field(min_length=1, max_length=20),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChangeConditions(_Strict):
    """All given conditions must hold; a list means any one of its items."""

    type: tuple[ChangeType, ...] | None = None
    risk: tuple[Level, ...] | None = None
    status: tuple[ChangeStatus, ...] | None = None
    previous: tuple[ChangeStatus, ...] | None = None  # the status it left (a new change has none: never matches)
    items: _Names | None = None  # touches any one of these services or configuration items (by name)

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: _listify(v) if k in ("type", "risk", "status", "previous") else v for k, v in data.items()}
        return data


class ChangeActions(_Strict):
    notify_team: _Text | None = None
    notify_email: _Addresses | None = None
    notify_slack: _SlackChannels | None = None  # Slack channel ids (C…, G…): a post in each

    @model_validator(mode="after")
    def _some(self) -> ChangeActions:
        if self.notify_team is None and self.notify_email is None and self.notify_slack is None:
            raise ValueError("a change rule notifies someone: give notify_team, notify_email and/or notify_slack")
        return self


class ChangeRule(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    name: _Text
    on: Literal["change"]
    if_: ChangeConditions = Field(default_factory=ChangeConditions, alias="if")
    then: ChangeActions
    enabled: bool = True


@dataclass(frozen=True)
class ChangeSnapshot:
    """What a change rule sees of a change as it enters `status`."""

    change_id: int
    number: int
    title: str
    type: ChangeType
    risk: Level
    status: ChangeStatus
    previous: ChangeStatus | None
    items: frozenset[str]  # the names of the services and configuration items it touches


@dataclass(frozen=True)
class Notify:
    rule: str
    team: str | None
    emails: tuple[str, ...]
    slack: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangeDecision:
    notify: tuple[Notify, ...]
    trace: tuple[tuple[str, str, str | None], ...]  # (rule, fired|no_match|disabled|failed, why)


def _one_of(what: str, actual: object, expected: Sequence[str]) -> str:
    return f"{what} {actual!r} is not one of {', '.join(expected)}"


def mismatch(conditions: ChangeConditions, change: ChangeSnapshot) -> str | None:
    """Why the change does not match (the first failing condition), or None if it does."""
    if conditions.type is not None and change.type not in conditions.type:
        return "type: " + _one_of("type", change.type, conditions.type)
    if conditions.risk is not None and change.risk not in conditions.risk:
        return "risk: " + _one_of("risk", change.risk, conditions.risk)
    if conditions.status is not None and change.status not in conditions.status:
        return "status: " + _one_of("status", change.status, conditions.status)
    if conditions.previous is not None and change.previous not in conditions.previous:
        return "previous: " + _one_of("previous status", change.previous, conditions.previous)
    if conditions.items is not None:
        wanted = {n.casefold() for n in conditions.items}
        if not any(n.casefold() in wanted for n in change.items):
            return f"items: the change touches none of {', '.join(conditions.items)}"
    return None


def evaluate_change(rules: Iterable[ChangeRule], change: ChangeSnapshot, *, teams: Collection[str] | None = None) -> ChangeDecision:
    """Walk the change rules in order; each that matches notifies. Never raises for a rule;
    a rule naming a team that does not exist (when `teams` is given) fails and is skipped."""
    notify: list[Notify] = []
    trace: list[tuple[str, str, str | None]] = []
    for rule in rules:
        if not rule.enabled:
            trace.append((rule.name, "disabled", None))
            continue
        why = mismatch(rule.if_, change)
        if why is not None:
            trace.append((rule.name, "no_match", why))
        elif teams is not None and rule.then.notify_team is not None and rule.then.notify_team not in teams:
            trace.append((rule.name, "failed", f"no team named {rule.then.notify_team!r}"))
        else:
            trace.append((rule.name, "fired", None))
            notify.append(Notify(rule.name, rule.then.notify_team, rule.then.notify_email or (), rule.then.notify_slack or ()))
    return ChangeDecision(tuple(notify), tuple(trace))


def notice_text(change: ChangeSnapshot, rule: str, url: str) -> tuple[str, str]:
    """The subject and text of a change notice (English: it goes to agents and team lists)."""
    moved = f"{change.previous} → {change.status}" if change.previous else f"created ({change.status})"
    subject = f"Change #{change.number} {change.status}: {change.title}"[:998]
    items = ", ".join(sorted(change.items)) or "-"
    text = f'Change #{change.number}: {change.title}\n\n{moved}\nType: {change.type} · Risk: {change.risk}\nTouches: {items}\n\n{url}\n\n(rule "{rule}")'
    return subject, text


# --- the trigger, and validation ------------------------------------------------------


def is_change_rule(data: Mapping[str, Any]) -> bool:
    """A rule as written (`on = "change"`) or as stored (the trigger in its conditions)."""
    conditions = data.get("if")
    return data.get(TRIGGER_KEY) == CHANGE or (isinstance(conditions, Mapping) and conditions.get(TRIGGER_KEY) == CHANGE)


def stored_conditions(conditions: Mapping[str, Any]) -> dict[str, Any]:
    """The conditions as the `rule` table keeps them for a change rule."""
    return {TRIGGER_KEY: CHANGE, **conditions}


def split_trigger(item: Mapping[str, Any]) -> dict[str, Any]:
    """A stored rule (name, if with the trigger, then, enabled) as written (on, if, then)."""
    conditions = dict(item.get("if") or {})
    conditions.pop(TRIGGER_KEY, None)
    return {**item, TRIGGER_KEY: CHANGE, "if": conditions}


_KEYS: dict[str, list[str]] = {
    "": ["name", "on", "if", "then", "enabled"],
    "if": list(ChangeConditions.model_fields),
    "then": list(ChangeActions.model_fields),
}


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(key, message) per error, unknown keys with the keys a change rule knows."""
    out: list[tuple[str, str]] = []
    for (key, message), err in zip(_describe(exc), exc.errors(), strict=True):
        if err["type"] == "extra_forbidden":
            where, _, unknown = key.rpartition(".")
            known = _KEYS.get(where, [])
            message = f"unknown key {unknown!r}"
            close = difflib.get_close_matches(unknown, known, n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
            message += f"; expected one of: {', '.join(known)}"
        out.append((key, message))
    return out


def validate_change_rule(data: Mapping[str, Any], *, teams: Collection[str] | None = None) -> ChangeRule:
    """A change rule from the config file, fully checked; raises InvalidRule."""
    try:
        rule = ChangeRule.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidRule(_problems(exc)) from None
    if teams is not None and rule.then.notify_team is not None and rule.then.notify_team not in teams:
        raise InvalidRule([("then.notify_team", f"no team named {rule.then.notify_team!r}")])
    return rule


def load_change_rules(items: Iterable[Mapping[str, Any]]) -> tuple[list[ChangeRule], list[tuple[str, str]]]:
    """The stored change rules that read back, and (name, why) for those that do not."""
    rules: list[ChangeRule] = []
    failures: list[tuple[str, str]] = []
    for item in items:
        try:
            rules.append(ChangeRule.model_validate(split_trigger(item)))
        except ValidationError as exc:
            failures.append((str(item.get("name")), "; ".join(f"{k}: {m}" for k, m in _problems(exc))))
    return rules, failures


__all__ = [
    "CHANGE_STATUSES",
    "CHANGE_TYPES",
    "ChangeActions",
    "ChangeConditions",
    "ChangeDecision",
    "ChangeRule",
    "ChangeSnapshot",
    "Notify",
    "evaluate_change",
    "is_change_rule",
    "load_change_rules",
    "mismatch",
    "notice_text",
    "split_trigger",
    "stored_conditions",
    "validate_change_rule",
]
