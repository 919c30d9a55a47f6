"""Macros: a named list of actions (reply, note, status, assign, team, tags, priority,
snooze) applied to a conversation in ONE transaction — all of them, or none.

A personal macro is its owner's alone; a shared one every agent may apply, and its owner
or an admin edits it. Reply and note texts may hold the variables `{{contact.name}}`,
`{{contact.first_name}}`, `{{agent.name}}` and `{{ticket.number}}`, filled per
conversation by `fill_variables` (plain substitution, no template engine on user text;
an unknown variable stays as typed).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete, select

from inbox.actions.conversations import MAX_TAG, ConversationChanges, change_conversation, check_changes
from inbox.actions.replies import MAX_TEXT, prepare_reply, write_reply
from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Forbidden, Invalid, NotFound
from inbox.queries.conversations import find_visible
from inbox.queries.macros import describe, usable_by, variables_of
from inbox.store.models import Macro
from routing.vocabulary import CONVERSATION_STATUSES, PRIORITIES

MAX_NAME = 255
MAX_ACTIONS = 20
MAX_SNOOZE = dt.timedelta(days=365)
ACTION_KINDS = ("reply", "note", "status", "assign", "team", "add_tags", "priority", "snooze")
_DURATION = TypeAdapter(dt.timedelta)
_VARIABLE = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")


def fill_variables(text: str, values: Mapping[str, str]) -> str:
    """`{{name}}` replaced by `values[name]`; a name not in `values` stays as typed."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def parse_duration(value: object) -> dt.timedelta:
    """An ISO-8601 duration ("PT4H", "P1DT12H", "P1W"), positive and at most a year."""
    if not isinstance(value, str) or not value.strip().upper().startswith("P"):
        raise Invalid('snooze: an ISO-8601 duration such as "PT4H"')
    try:
        duration = _DURATION.validate_python(value.strip().upper())
    except ValidationError:
        raise Invalid(f"snooze: {value!r} is not an ISO-8601 duration") from None
    if duration <= dt.timedelta(0) or duration > MAX_SNOOZE:
        raise Invalid("snooze: more than nothing and at most a year")
    return duration


def check_actions(raw: object) -> list[dict[str, Any]]:
    """The macro's actions, each `{kind: value}` with one kind, checked and normalised."""
    if not isinstance(raw, list) or not raw:
        raise Invalid("actions: a list of one or more actions")
    if len(raw) > MAX_ACTIONS:
        raise Invalid(f"actions: at most {MAX_ACTIONS}")
    checked: list[dict[str, Any]] = []
    for n, item in enumerate(raw, 1):
        if not isinstance(item, dict) or len(item) != 1:
            raise Invalid(f"action {n}: one key, one of {', '.join(ACTION_KINDS)}")
        [(kind, value)] = item.items()
        checked.append({kind: _check_action(n, kind, value)})
    return checked


def _check_action(n: int, kind: str, value: object) -> Any:
    if kind in ("reply", "note"):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            raise Invalid(f"action {n}: {kind} needs a text of 1 to {MAX_TEXT} characters")
        return value.strip()
    if kind == "status":
        if value not in CONVERSATION_STATUSES or value == "snoozed":
            raise Invalid(
                f"action {n}: status must be one of {', '.join(s for s in CONVERSATION_STATUSES if s != 'snoozed')} (snooze has its own action)"
            )
        return value
    if kind == "priority":
        if value not in PRIORITIES:
            raise Invalid(f"action {n}: priority must be one of {', '.join(PRIORITIES)}")
        return value
    if kind in ("assign", "team"):
        if not isinstance(value, str) or not value.strip() or len(value) > 320:
            raise Invalid(f"action {n}: {kind} needs a name")
        return value.strip().lower() if kind == "assign" else value.strip()
    if kind == "add_tags":
        if not isinstance(value, list) or not value or not all(isinstance(t, str) and t.strip() for t in value):
            raise Invalid(f"action {n}: add_tags needs a list of tags")
        if any(len(t.strip()) > MAX_TAG for t in value):
            raise Invalid(f"action {n}: a tag is at most {MAX_TAG} characters")
        return sorted({t.strip() for t in value})
    if kind == "snooze":
        parse_duration(value)
        return str(value).strip().upper()
    raise Invalid(f"action {n}: unknown action {kind!r} (one of {', '.join(ACTION_KINDS)})")


def _name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise Invalid(f"name: 1 to {MAX_NAME} characters")
    return name


def _unique(tx: Tx, owner_id: int | None, name: str, macro_id: int | None = None) -> None:
    clash = select(Macro.id).where(Macro.owner_id.is_(None) if owner_id is None else Macro.owner_id == owner_id, Macro.name == name)
    if macro_id is not None:
        clash = clash.where(Macro.id != macro_id)
    if tx.conn.scalar(clash) is not None:
        raise Conflict(f"you already have a macro named {name!r}")


async def create_macro(ctx: Context, actor: Actor, name: str, actions: object, *, shared: bool = False) -> dict[str, Any]:
    name, checked = _name(name), check_actions(actions)

    def work(tx: Tx) -> dict[str, Any]:
        _unique(tx, actor.agent_id, name)
        macro = Macro(name=name, actions=checked, shared=shared, owner_id=actor.agent_id, created_at=tx.now, updated_at=tx.now)
        tx.session.add(macro)
        tx.session.flush()
        tx.audit("macro.create", f"macro:{macro.id}", {"name": name, "actions": checked, "shared": shared})
        return describe(macro)

    return await perform(ctx.db, ctx.bus, actor, work)


def _editable(tx: Tx, actor: Actor, macro_id: int) -> Macro:
    macro = tx.session.scalar(select(Macro).where(Macro.id == macro_id, usable_by(actor.agent_id)))
    if macro is None:
        raise NotFound.of("macro")
    if not actor.is_admin and macro.owner_id != actor.agent_id:
        raise Forbidden("only its owner or an admin edits a shared macro")
    return macro


async def update_macro(
    ctx: Context, actor: Actor, macro_id: int, *, name: str | None = None, actions: object = None, shared: bool | None = None
) -> dict[str, Any]:
    """Change what is given (None leaves it); the audit entry lists what changed."""
    new_name = _name(name) if name is not None else None
    checked = check_actions(actions) if actions is not None else None

    def work(tx: Tx) -> dict[str, Any]:
        macro = _editable(tx, actor, macro_id)
        changed: dict[str, Any] = {}
        if new_name is not None and new_name != macro.name:
            _unique(tx, macro.owner_id, new_name, macro.id)
            macro.name = changed["name"] = new_name
        if checked is not None and checked != macro.actions:
            macro.actions = changed["actions"] = checked
        if shared is not None and shared != macro.shared:
            macro.shared = changed["shared"] = shared
        if changed:
            macro.updated_at = tx.now
            tx.audit("macro.update", f"macro:{macro.id}", changed)
        tx.session.flush()
        return describe(macro)

    return await perform(ctx.db, ctx.bus, actor, work)


async def delete_macro(ctx: Context, actor: Actor, macro_id: int) -> None:
    def work(tx: Tx) -> None:
        macro = _editable(tx, actor, macro_id)
        tx.conn.execute(delete(Macro).where(Macro.id == macro.id))
        tx.audit("macro.delete", f"macro:{macro.id}", {"name": macro.name})

    await perform(ctx.db, ctx.bus, actor, work)


@dataclass(frozen=True, slots=True)
class Plan:
    """A macro ready to apply: its texts (unfilled) and its conversation changes, with the
    snooze as a duration (its end is the applying transaction's now)."""

    macro_id: int
    name: str
    texts: tuple[tuple[str, bool], ...]  # (text, private)
    changes: ConversationChanges
    snooze: dt.timedelta | None

    def changes_at(self, now: dt.datetime) -> ConversationChanges:
        if self.snooze is None:
            return self.changes
        return replace(self.changes, status="snoozed", snoozed_until=now + self.snooze)


def plan_of(macro: Macro) -> Plan:
    """Fold the stored actions into one plan (a later status or priority wins)."""
    actions = check_actions(macro.actions)
    texts: list[tuple[str, bool]] = []
    fields: dict[str, Any] = {}
    add_tags: list[str] = []
    snooze: dt.timedelta | None = None
    for action in actions:
        [(kind, value)] = action.items()
        if kind in ("reply", "note"):
            texts.append((value, kind == "note"))
        elif kind == "assign":
            fields["assignee"] = value
        elif kind in ("status", "team", "priority"):
            fields[kind] = value
            if kind == "status":
                snooze = None
        elif kind == "add_tags":
            add_tags.extend(value)
        elif kind == "snooze":
            snooze = parse_duration(value)
            fields.pop("status", None)
    changes = ConversationChanges(**fields, add_tags=tuple(add_tags))
    check_changes(changes)
    return Plan(macro.id, macro.name, tuple(texts), changes, snooze)


def load_plan(tx: Tx, actor: Actor, macro_id: int) -> Plan:
    macro = tx.session.scalar(select(Macro).where(Macro.id == macro_id, usable_by(actor.agent_id)))
    if macro is None:
        raise NotFound.of("macro")
    return plan_of(macro)


def apply_plan(tx: Tx, conversation_id: int, plan: Plan) -> dict[str, Any]:
    """Every action of the plan on one visible conversation, inside the caller's
    transaction: the texts (variables filled) as replies and notes, then the changes."""
    values = variables_of(tx.conn, conversation_id, tx.actor.agent_id) if plan.texts else {}
    messages = []
    for text, private in plan.texts:
        reply = prepare_reply(tx.actor, fill_variables(text, values), private=private)
        messages.append(write_reply(tx, conversation_id, reply))
    shown = change_conversation(tx, conversation_id, plan.changes_at(tx.now))
    details = {"macro_id": plan.macro_id, "name": plan.name, "messages": messages, "changes": shown}
    tx.audit("macro.apply", f"conversation:{conversation_id}", details)
    return {"conversation_id": conversation_id, **details}


async def apply_macro(ctx: Context, actor: Actor, conversation_id: int, macro_id: int) -> dict[str, Any]:
    """Apply a macro to a conversation: all its actions in one transaction (one failing
    refuses them all). Returns the message ids written and the changes made."""

    def work(tx: Tx) -> dict[str, Any]:
        if find_visible(tx.session, actor.principal, conversation_id) is None:
            raise NotFound.of("conversation")
        return apply_plan(tx, conversation_id, load_plan(tx, actor, macro_id))

    return await perform(ctx.db, ctx.bus, actor, work)
