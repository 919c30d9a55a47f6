"""Routing rules made in the UI or the API: create, change, delete. A rule is checked as
a whole (the teams, agents and templates it names must exist) before it is stored; rules
of the config file are provisioned at start and read-only here.

The audit entry of a create or an update holds the whole rule as stored (the audit log
leaves out any secret-looking key), so the log shows what ran from then on."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Invalid, NotFound
from inbox.queries.rules import RuleView, known_names, rule_view
from inbox.store.models import Rule
from routing.change_rules import CHANGE, TRIGGER_KEY, is_change_rule, stored_conditions, validate_change_rule
from routing.rules import InvalidRule, validate_rule

RuleKind = Literal["message", "change"]
RULE_KINDS: tuple[RuleKind, ...] = ("message", "change")

MAX_POSITION = 100_000
_AS_GIVEN = {"conditions": "if", "actions": "then"}  # the keys' names in a rule's body


class RuleChanges(TypedDict, total=False):
    name: str
    conditions: dict[str, Any]
    actions: dict[str, Any]
    enabled: bool
    position: int


def _checked(tx: Tx, ctx: Context, name: str, conditions: Any, actions: Any, enabled: Any, on: RuleKind = "message") -> Any:
    """The conditions as stored: a change rule's carry its trigger (routing.change_rules)."""
    teams, agents = known_names(tx.conn)
    templates = ctx.policy.templates.names if ctx.policy.templates else None
    try:
        if on == CHANGE:
            bare = {k: v for k, v in conditions.items() if k != TRIGGER_KEY} if isinstance(conditions, dict) else conditions
            validate_change_rule({"name": name, "on": CHANGE, "if": bare, "then": actions, "enabled": enabled}, teams=teams)
            return stored_conditions(bare)
        if isinstance(conditions, dict) and is_change_rule({"if": conditions}):
            raise InvalidRule([("if.on", 'a rule on changes is made with "on": "change"')])
        validate_rule(
            {"name": name, "if": conditions, "then": actions, "enabled": enabled}, teams=teams, agents=agents, templates=templates
        )
        return conditions
    except InvalidRule as exc:
        raise Invalid("; ".join(exc.problems)) from None


def _checked_position(position: Any) -> int:
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= MAX_POSITION:
        raise Invalid(f"position: a whole number from 0 to {MAX_POSITION}")
    return position


def _kind(conditions: Any) -> RuleKind:
    return "change" if isinstance(conditions, dict) and is_change_rule({"if": conditions}) else "message"


def _details(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "on": _kind(rule.conditions),
        "if": rule.conditions,
        "then": rule.actions,
        "enabled": rule.enabled,
        "position": rule.position,
    }


async def create_rule(
    ctx: Context,
    actor: Actor,
    name: str,
    conditions: Any,
    actions: Any,
    *,
    enabled: bool = True,
    position: int | None = None,
    on: RuleKind = "message",
) -> RuleView:
    """A new rule, last unless `position` is given: on messages (routing.rules) or, with
    `on="change"`, on changes (routing.change_rules)."""
    name = name.strip()
    if position is not None:
        _checked_position(position)
    if on not in RULE_KINDS:
        raise Invalid(f"on: one of {', '.join(RULE_KINDS)}")

    def work(tx: Tx) -> RuleView:
        stored = _checked(tx, ctx, name, conditions, actions, enabled, on)
        if tx.conn.scalar(select(Rule.id).where(Rule.name == name)) is not None:
            raise Conflict(f"a rule named {name!r} exists")
        at = position if position is not None else int(tx.conn.scalar(select(func.max(Rule.position))) or 0) + 1
        rule = Rule(name=name, conditions=stored, actions=actions, enabled=enabled, position=at, created_at=tx.now)
        tx.session.add(rule)
        tx.session.flush()
        tx.audit("rule.create", f"rule:{rule.id}", _details(rule))
        return rule_view(rule)

    try:
        return await perform(ctx.db, ctx.bus, actor, work)
    except IntegrityError:
        raise Conflict(f"a rule named {name!r} exists") from None


def _editable(tx: Tx, rule_id: int, verb: str) -> Rule:
    rule = tx.session.get(Rule, rule_id)
    if rule is None:
        raise NotFound.of("rule")
    if rule.provisioned:
        raise Conflict(f"this rule comes from the config file; {verb} it there", code="read_only")
    return rule


async def update_rule(ctx: Context, actor: Actor, rule_id: int, changes: RuleChanges) -> RuleView:
    """Change what is given; the rule that results is checked as a whole."""
    unknown = sorted(set(changes) - set(RuleChanges.__annotations__))
    if unknown:
        raise Invalid(f"{', '.join(unknown)}: not part of a rule")
    if "position" in changes:
        _checked_position(changes["position"])

    def work(tx: Tx) -> RuleView:
        rule = _editable(tx, rule_id, "change")
        name = changes["name"].strip() if "name" in changes else rule.name
        conditions = changes.get("conditions", rule.conditions)
        actions = changes.get("actions", rule.actions)
        enabled = changes.get("enabled", rule.enabled)
        # A rule keeps its kind: a change rule's conditions are given without the trigger.
        stored = _checked(tx, ctx, name, conditions, actions, enabled, _kind(rule.conditions))
        if name != rule.name and tx.conn.scalar(select(Rule.id).where(Rule.name == name)) is not None:
            raise Conflict(f"a rule named {name!r} exists")
        rule.name, rule.conditions, rule.actions, rule.enabled = name, stored, actions, enabled
        rule.position = changes.get("position", rule.position)
        tx.audit("rule.update", f"rule:{rule.id}", {**_details(rule), "changed": sorted(_AS_GIVEN.get(k, k) for k in changes)})
        return rule_view(rule)

    return await perform(ctx.db, ctx.bus, actor, work)


async def delete_rule(ctx: Context, actor: Actor, rule_id: int) -> None:
    def work(tx: Tx) -> None:
        rule = _editable(tx, rule_id, "remove")
        tx.audit("rule.delete", f"rule:{rule.id}", {"name": rule.name})
        tx.session.delete(rule)

    await perform(ctx.db, ctx.bus, actor, work)
