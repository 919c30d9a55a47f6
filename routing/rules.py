"""Routing rules: small named rules, as data, walked in order over every inbound message.

A rule has conditions (`if`, all must hold; a list means "any of") and actions (`then`).
`evaluate` is pure: it returns a Decision (what fired, what to do, what failed) and
changes nothing. A rule that cannot be applied (a bad pattern, a team that does not
exist) is skipped and reported in `Decision.errors`; the other rules still run.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from routing.conditions import CHECKS, compile_pattern
from routing.decision import ConversationStatus, Decision, DecisionBuilder, RuleFailure, RuleTrace
from routing.priority import Level, Priority, incident_priority
from routing.snapshot import MessageSnapshot
from routing.tickets import TicketKind
from routing.timeline import AppliedAction

__all__ = [
    "Decision",
    "InvalidRule",
    "MessageSnapshot",
    "Rule",
    "RuleActions",
    "RuleConditions",
    "RuleFailure",
    "evaluate",
    "load_rules",
    "rule_problems",
    "validate_rule",
    "validate_rules",
]


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _email(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
        raise ValueError(f"expected an agent's email address, got {value!r}")
    return value


def _template_name(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9_]+", value):
        raise ValueError(f"expected a template name (a-z, 0-9, _), e.g. auto_reply; got {value!r}")
    return value


_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# A list of names; a single string is taken as a list of one.
_Names = Annotated[tuple[_Text, ...], BeforeValidator(_listify), Field(min_length=1)]
_Pattern = Annotated[str, StringConstraints(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleConditions(_Strict):
    """All given conditions must hold; each list means any one of its items."""

    channel: _Names | None = None
    channel_type: _Names | None = None
    sender: _Names | None = None  # globs: "*@example.com"
    sender_domain: _Names | None = None
    contact_tags: _Names | None = None
    subject_matches: _Pattern | None = None  # Python regular expressions, re.search
    text_matches: _Pattern | None = None
    language: _Names | None = None
    business_hours: Literal["in", "out"] | None = None
    conversation: Literal["new", "existing"] | None = None
    automated: bool | None = None
    request_type: _Names | None = None
    # `field.<name> = "value"` (or a list): the request's answer to that field of its form.
    field: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")], _Names] | None = None


class RuleActions(_Strict):
    assign_agent: Annotated[str, AfterValidator(_email)] | None = None
    assign_team: _Text | None = None
    priority: Priority | None = None
    tag: _Names | None = None
    status: ConversationStatus | None = None
    convert: Literal["ticket", "request", "incident"] | None = None
    impact: Level | None = None
    urgency: Level | None = None
    auto_reply: Annotated[str, AfterValidator(_template_name)] | None = None
    stop: bool = False

    @model_validator(mode="after")
    def _coherent(self) -> RuleActions:
        if (self.impact or self.urgency) and self.convert != "incident":
            raise ValueError('impact and urgency only go with convert = "incident"')
        if self.priority and self.convert == "incident":
            raise ValueError('an incident\'s priority comes from its impact and urgency; give those instead of "priority"')
        if not self.model_fields_set - {"stop"} and not self.stop:
            raise ValueError("the rule has no action")
        return self

    @property
    def ticket_kind(self) -> TicketKind | None:
        """ "ticket" is another name for a request."""
        if self.convert is None:
            return None
        return "incident" if self.convert == "incident" else "request"


class Rule(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    if_: RuleConditions = Field(default_factory=RuleConditions, alias="if")
    then: RuleActions
    enabled: bool = True

    def actions(self) -> list[AppliedAction]:
        """This rule's actions, in the order they are applied."""
        then, name = self.then, self.name
        out: list[AppliedAction] = []
        kind = then.ticket_kind
        if kind == "incident":
            impact, urgency = then.impact or "medium", then.urgency or "medium"
            out.append(AppliedAction(name, "convert", kind, impact=impact, urgency=urgency))
            out.append(AppliedAction(name, "priority", incident_priority(impact, urgency)))
        elif kind == "request":
            out.append(AppliedAction(name, "convert", kind))
        if then.assign_team:
            out.append(AppliedAction(name, "assign_team", then.assign_team))
        if then.assign_agent:
            out.append(AppliedAction(name, "assign_agent", then.assign_agent))
        if then.priority:
            out.append(AppliedAction(name, "priority", then.priority))
        if then.tag:
            out.append(AppliedAction(name, "tag", then.tag))
        if then.status:
            out.append(AppliedAction(name, "status", then.status))
        if then.auto_reply:
            out.append(AppliedAction(name, "auto_reply", then.auto_reply))
        if then.stop:
            out.append(AppliedAction(name, "stop"))
        return out


# --- evaluation -------------------------------------------------------------------


def evaluate(
    rules: Iterable[Rule],
    snapshot: MessageSnapshot,
    *,
    teams: Collection[str] | None = None,
    agents: Collection[str] | None = None,
    templates: Collection[str] | None = None,
) -> Decision:
    """Walk `rules` in order over `snapshot`. Never raises for a bad rule.

    When `teams`, `agents` (emails) or `templates` are given, a rule naming one that is
    not there fails and is skipped as a whole.
    """
    builder = DecisionBuilder(automated=snapshot.automated)
    for rule in rules:
        if builder.stopped_by is not None:
            builder.trace.append(RuleTrace(rule.name, "not_reached", f'stopped by rule "{builder.stopped_by}"'))
            continue
        if not rule.enabled:
            builder.trace.append(RuleTrace(rule.name, "disabled"))
            continue
        try:
            mismatch = _mismatch(rule, snapshot)
            missing = _missing_references(rule, teams, agents, templates)
        except re.error as exc:
            _fail(builder, rule, f"bad regular expression: {exc}")
            continue
        except Exception as exc:  # a broken rule must never lose the message
            _fail(builder, rule, f"{type(exc).__name__}: {exc}")
            continue
        if mismatch is not None:
            builder.trace.append(RuleTrace(rule.name, "no_match", mismatch))
        elif missing:
            _fail(builder, rule, "; ".join(message for _, message in missing))
        else:
            builder.trace.append(RuleTrace(rule.name, "fired"))
            for action in rule.actions():
                builder.apply(action)
    return builder.build()


def _fail(builder: DecisionBuilder, rule: Rule, error: str) -> None:
    builder.errors.append(RuleFailure(rule.name, error))
    builder.trace.append(RuleTrace(rule.name, "failed", error))


def _mismatch(rule: Rule, snapshot: MessageSnapshot) -> str | None:
    """Why the rule does not match (the first failing condition), or None if it does."""
    for key, check in CHECKS.items():
        expected = getattr(rule.if_, key)
        if expected is not None:
            reason = check(expected, snapshot)
            if reason is not None:
                return f"{key}: {reason}"
    return None


@dataclass(frozen=True, slots=True)
class ConditionResult:
    """One condition of a rule on a message: `reason` None when it holds, else why not."""

    key: str
    expected: Any
    reason: str | None

    @property
    def matched(self) -> bool:
        return self.reason is None


def conditions_of(rule: Rule, snapshot: MessageSnapshot) -> list[ConditionResult]:
    """Every condition `rule` sets, checked on `snapshot` (not only up to the first that
    fails, as `evaluate` does): what the rule tester shows."""
    out = []
    for key, check in CHECKS.items():
        expected = getattr(rule.if_, key)
        if expected is None:
            continue
        try:
            reason = check(expected, snapshot)
        except re.error as exc:
            reason = f"bad regular expression: {exc}"
        out.append(ConditionResult(key, expected, reason))
    return out


def _missing_references(
    rule: Rule,
    teams: Collection[str] | None,
    agents: Collection[str] | None,
    templates: Collection[str] | None,
) -> list[tuple[str, str]]:
    """(action key, what is missing) for every name the rule uses that is not there."""
    then = rule.then
    missing = []
    if teams is not None and then.assign_team is not None and then.assign_team not in teams:
        missing.append(("assign_team", f"no team named {then.assign_team!r}"))
    if agents is not None and then.assign_agent is not None:
        if then.assign_agent.casefold() not in {a.casefold() for a in agents}:
            missing.append(("assign_agent", f"no agent with email {then.assign_agent!r}"))
    if templates is not None and then.auto_reply is not None and then.auto_reply not in templates:
        missing.append(("auto_reply", f"no auto-reply template named {then.auto_reply!r}"))
    return missing


# --- validation (config files, API, UI) -----------------------------------------


class InvalidRule(ValueError):
    """One or more rules are invalid.

    `details` holds (key, message) pairs, e.g. ("if.chanel", "unknown key ..."); `problems`
    the same as printable lines, e.g. "if.chanel: unknown key ...".
    """

    def __init__(self, details: list[tuple[str, str]]) -> None:
        self.details = details
        self.problems = [f"{key}: {message}" if key else message for key, message in details]
        super().__init__("\n".join(self.problems))


_KEYS: dict[tuple[str, ...], list[str]] = {
    (): ["name", "if", "then", "enabled"],
    ("if",): list(RuleConditions.model_fields),
    ("then",): list(RuleActions.model_fields),
}


def _unknown_key_message(loc: tuple[str, ...]) -> str:
    known = _KEYS.get(loc[:-1], [])
    message = f"unknown key {loc[-1]!r}"
    close = difflib.get_close_matches(loc[-1], known, n=1)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    if known:
        message += f"; expected one of: {', '.join(known)}"
    return message


_MESSAGES = {
    "missing": "required key is missing",
    "too_short": "expected at least one item (an empty list never matches)",
}


def _key(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _describe(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not str(p).startswith(("function-", "literal[")))
        if err["type"] == "extra_forbidden":
            message = _unknown_key_message(tuple(str(p) for p in loc))
        else:
            message = _MESSAGES.get(err["type"], err["msg"].removeprefix("Value error, "))
        problems.append((_key(loc), message))
    return problems


def rule_problems(
    rule: Rule,
    *,
    teams: Collection[str] | None = None,
    agents: Collection[str] | None = None,
    templates: Collection[str] | None = None,
) -> list[tuple[str, str]]:
    """What a well-formed rule still gets wrong, as (key, message): bad patterns, unknown names."""
    problems = []
    for key in ("subject_matches", "text_matches"):
        pattern = getattr(rule.if_, key)
        if pattern is not None:
            try:
                compile_pattern(pattern)
            except re.error as exc:
                problems.append((f"if.{key}", f"not a valid regular expression: {exc}"))
    for key, missing in _missing_references(rule, teams, agents, templates):
        problems.append((f"then.{key}", missing))
    return problems


def validate_rule(
    data: Mapping[str, Any] | Rule,
    *,
    teams: Collection[str] | None = None,
    agents: Collection[str] | None = None,
    templates: Collection[str] | None = None,
) -> Rule:
    """A rule from a config file or the API, fully checked; raises InvalidRule."""
    if isinstance(data, Rule):
        rule = data
    elif not isinstance(data, Mapping):
        raise InvalidRule([("", f"expected a table with name, if and then, got {type(data).__name__}")])
    else:
        try:
            rule = Rule.model_validate(data)
        except ValidationError as exc:
            raise InvalidRule(_describe(exc)) from None
    problems = rule_problems(rule, teams=teams, agents=agents, templates=templates)
    if problems:
        raise InvalidRule(problems)
    return rule


def validate_rules(
    items: Sequence[Mapping[str, Any] | Rule],
    *,
    teams: Collection[str] | None = None,
    agents: Collection[str] | None = None,
    templates: Collection[str] | None = None,
    prefix: str = "rules",
) -> list[Rule]:
    """Every rule checked, names unique; InvalidRule lists all problems as rules[i].key."""
    rules: list[Rule] = []
    problems: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        try:
            rules.append(validate_rule(item, teams=teams, agents=agents, templates=templates))
        except InvalidRule as exc:
            where = f"{prefix}[{i}]"
            problems.extend((f"{where}.{key}" if key else where, msg) for key, msg in exc.details)
    names = [r.name for r in rules]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append((prefix, f"the rule name {dup!r} is used twice; names must be unique"))
    if problems:
        raise InvalidRule(problems)
    return rules


def load_rules(items: Iterable[Mapping[str, Any]]) -> tuple[list[Rule], list[RuleFailure]]:
    """Rules as stored (e.g. database rows as dicts): the readable ones, and failures for
    the rest, so one damaged row skips one rule and not the whole chain."""
    rules: list[Rule] = []
    failures: list[RuleFailure] = []
    for i, item in enumerate(items):
        name = str(item.get("name") or f"#{i}") if isinstance(item, Mapping) else f"#{i}"
        try:
            rules.append(Rule.model_validate(item))
        except ValidationError as exc:
            failures.append(RuleFailure(name, "; ".join(f"{k}: {m}" if k else m for k, m in _describe(exc))))
    return rules, failures
