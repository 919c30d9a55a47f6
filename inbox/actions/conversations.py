"""Changing a conversation: status, assignee, team, priority, tags, snooze; marking it read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Invalid, NotFound
from inbox.pipeline import csat
from inbox.queries.conversations import find_visible
from inbox.store.models import Agent, Conversation, ConversationRead, Team, utcnow
from routing.vocabulary import CONVERSATION_STATUSES, PRIORITIES

MAX_TAG = 64


@dataclass(frozen=True, slots=True)
class ConversationChanges:
    """What to change; None leaves a field as it is."""

    status: str | None = None
    assignee: str | None = None  # email, or "" to unassign
    team: str | None = None  # name, or "" to clear
    priority: str | None = None  # P1..P5, or "" to clear
    tags: list[str] | None = None
    snoozed_until: dt.datetime | None = None  # with status "snoozed"
    add_tags: tuple[str, ...] = ()  # added to the tags it has (or to `tags`)
    remove_tags: tuple[str, ...] = ()


async def update_conversation(ctx: Context, actor: Actor, conversation_id: int, changes: ConversationChanges) -> dict[str, Any]:
    """Change a conversation; one `conversation.updated` event and one `conversation.update`
    audit entry list what changed (nothing changed: neither). Returns the changes shown."""
    check_changes(changes)

    def work(tx: Tx) -> dict[str, Any]:
        if find_visible(tx.session, actor.principal, conversation_id) is None:
            raise NotFound.of("conversation")
        return change_conversation(tx, conversation_id, changes)

    return await perform(ctx.db, ctx.bus, actor, work)


def change_conversation(tx: Tx, conversation_id: int, changes: ConversationChanges) -> dict[str, Any]:
    """The work of `update_conversation` inside a transaction some action already holds
    (a macro, a bulk change), for a conversation the caller has found visible. The
    changes must have passed `check_changes`."""
    values, shown = _values(tx, conversation_id, changes)
    if not values:
        return {}
    values["updated_at"] = tx.now
    tx.conn.execute(update(Conversation).where(Conversation.id == conversation_id).values(**values))
    tx.event("conversation.updated", {"conversation_id": conversation_id, "changes": shown, "by": tx.actor.name}, conversation_id)
    tx.audit("conversation.update", f"conversation:{conversation_id}", shown)
    if changes.status == "resolved":
        csat.ask(tx.conn, conversation_id, tx.feed, now=tx.now)
    elif changes.status is not None:  # reopened (or snoozed, pending): a survey not yet out is withdrawn
        csat.withdraw(tx.conn, [conversation_id])
    return shown


def check_changes(changes: ConversationChanges) -> None:
    """Refuse impossible changes before any transaction (Invalid)."""
    if changes.status is not None:
        if changes.status not in CONVERSATION_STATUSES:
            raise Invalid(f"status must be one of {', '.join(CONVERSATION_STATUSES)}")
        if changes.status == "snoozed" and changes.snoozed_until is None:
            raise Invalid("snoozing needs snoozed_until")
        if changes.status == "snoozed" and changes.snoozed_until is not None:
            check_wake_up(changes.snoozed_until)
    if changes.priority and changes.priority not in PRIORITIES:
        raise Invalid(f"priority must be one of {', '.join(PRIORITIES)}")
    every_tag = [*(changes.tags or ()), *changes.add_tags, *changes.remove_tags]
    if any(len(t.strip()) > MAX_TAG for t in every_tag):
        raise Invalid(f"a tag is at most {MAX_TAG} characters")


def check_wake_up(until: dt.datetime) -> None:
    """A snooze's wake-up time: an instant (with its offset) still to come."""
    if until.tzinfo is None or until.utcoffset() is None:
        raise Invalid("snoozed_until must carry a time zone offset", code="snooze_until_bad")
    if until <= utcnow():
        raise Invalid("snoozed_until must be in the future", code="snooze_until_past")


def _values(tx: Tx, conversation_id: int, changes: ConversationChanges) -> tuple[dict[str, Any], dict[str, Any]]:
    """The column values and the changes as shown (emails and names, not ids)."""
    values: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    if changes.status is not None:
        values["status"] = changes.status
        values["resolved_at"] = tx.now if changes.status == "resolved" else None
        values["snoozed_until"] = changes.snoozed_until if changes.status == "snoozed" else None
        shown["status"] = changes.status
    if changes.assignee is not None:
        values["assignee_id"] = None
        if changes.assignee:
            email = changes.assignee.strip().lower()
            values["assignee_id"] = tx.conn.scalar(select(Agent.id).where(Agent.email == email, Agent.active.is_(True)))
            if values["assignee_id"] is None:
                raise Invalid(f"no active agent {changes.assignee!r}")
        shown["assignee"] = changes.assignee or None
    if changes.team is not None:
        values["team_id"] = None
        if changes.team:
            values["team_id"] = tx.conn.scalar(select(Team.id).where(Team.name == changes.team))
            if values["team_id"] is None:
                raise Invalid(f"no team {changes.team!r}")
        shown["team"] = changes.team or None
    if changes.priority is not None:
        values["priority"] = shown["priority"] = changes.priority or None
    if changes.tags is not None or changes.add_tags or changes.remove_tags:
        tags = changes.tags
        if tags is None:
            tags = list(tx.conn.scalar(select(Conversation.tags).where(Conversation.id == conversation_id)) or [])
        removed = {t.strip() for t in changes.remove_tags}
        wanted = sorted({t.strip() for t in [*tags, *changes.add_tags] if t.strip() and t.strip() not in removed})
        if changes.tags is not None or wanted != sorted(set(tags)):
            values["tags"] = shown["tags"] = wanted
    return values, shown


async def mark_read(ctx: Context, actor: Actor, conversation_id: int) -> None:
    """The agent has seen the conversation as it is now (the inbox's unread marker)."""
    if actor.agent_id is None:
        return

    def work(tx: Tx) -> None:
        if find_visible(tx.session, actor.principal, conversation_id) is None:
            raise NotFound.of("conversation")
        dialect = postgresql if tx.conn.dialect.name == "postgresql" else sqlite
        tx.conn.execute(
            dialect.insert(ConversationRead)
            .values(agent_id=actor.agent_id, conversation_id=conversation_id, read_at=tx.now)
            .on_conflict_do_update(index_elements=["agent_id", "conversation_id"], set_={"read_at": tx.now})
        )

    await perform(ctx.db, ctx.bus, actor, work)


UNDOABLE = ("open", "pending", "snoozed")  # what a resolve can be undone back to


async def undo_resolve(ctx: Context, actor: Actor, conversation_id: int, previous: str, snoozed_until: dt.datetime | None = None) -> None:
    """Put a conversation the agent just resolved back as it was (`previous`, with its
    wake-up time when it was snoozed). Refused (Conflict `not_resolved`) when it is no
    longer resolved: someone reopened or replied meanwhile, and that stands. The survey
    the resolve queued is withdrawn if it has not gone out (docs/csat.md)."""
    if previous not in UNDOABLE:
        raise Invalid(f"previous must be one of {', '.join(UNDOABLE)}")
    if previous == "snoozed" and snoozed_until is None:
        previous = "open"  # the wake-up time is unknown: open is the safe side

    def work(tx: Tx) -> None:
        found = find_visible(tx.session, actor.principal, conversation_id)
        if found is None:
            raise NotFound.of("conversation")
        if found.status != "resolved":
            raise Conflict("the conversation is no longer resolved", code="not_resolved")
        change_conversation(tx, conversation_id, ConversationChanges(status=previous, snoozed_until=snoozed_until))
        tx.audit("conversation.undo_resolve", f"conversation:{conversation_id}", {"status": previous})

    await perform(ctx.db, ctx.bus, actor, work)


SNOOZE = Actor.system("snooze")
WAKE_BATCH = 500  # conversations woken per pass (the next pass takes the rest)


async def wake_snoozed(ctx: Context, now: dt.datetime | None = None) -> list[int]:
    """Snoozed conversations whose wake-up time has come are open again: each one's
    `conversation.updated` event and `conversation.update` audit entry, by "snooze"."""

    def work(tx: Tx) -> list[int]:
        due = list(
            tx.conn.scalars(
                select(Conversation.id)
                .where(Conversation.status == "snoozed", Conversation.snoozed_until <= (now or tx.now))
                .order_by(Conversation.snoozed_until, Conversation.id)
                .limit(WAKE_BATCH)
            )
        )
        for conversation_id in due:
            change_conversation(tx, conversation_id, ConversationChanges(status="open"))
        return due

    return await perform(ctx.db, ctx.bus, SNOOZE, work)
