"""Notifications: an agent named (`@email`) in a private note hears of it; they mark what
they have read. Only ever one's own."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select, update

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Forbidden, Invalid
from inbox.store.models import Agent, Notification

# An address after "@" at a word start (so "ana@example.com" in prose is no mention);
# trailing dots and the like belong to the sentence.
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
MAX_IDS = 500


def mentioned_emails(text: str) -> list[str]:
    """The addresses `@`-mentioned in `text`, lower-cased, each once, in order."""
    seen: dict[str, None] = {}
    for match in MENTION.finditer(text):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)


def notify_mentions(tx: Tx, conversation_id: int, message_id: int, text: str) -> list[int]:
    """Inside a private note's transaction: one "mention" notification per active agent
    named, except the writer, each announced as `notification.created`. Returns the agents."""
    emails = mentioned_emails(text)
    if not emails:
        return []
    agents = tx.conn.execute(select(Agent.id, Agent.email).where(Agent.email.in_(emails), Agent.active.is_(True))).all()
    notified = []
    for agent in sorted(agents, key=lambda a: emails.index(a.email)):
        if agent.id == tx.actor.agent_id:
            continue  # mentioning yourself tells you nothing
        row = Notification(
            agent_id=agent.id,
            kind="mention",
            conversation_id=conversation_id,
            message_id=message_id,
            by_agent_id=tx.actor.agent_id,
            created_at=tx.now,
        )
        tx.session.add(row)
        tx.session.flush()
        payload = {"id": row.id, "agent_id": agent.id, "kind": "mention", "conversation_id": conversation_id, "message_id": message_id}
        tx.event("notification.created", payload, conversation_id)
        notified.append(agent.id)
    return notified


async def mark_read(ctx: Context, actor: Actor, ids: Sequence[int] = (), *, everything: bool = False) -> int:
    """Mark the caller's notifications read (the ids given, or all); returns how many changed.
    Another agent's ids are ignored, as if they did not exist."""
    if actor.agent_id is None:
        raise Forbidden("notifications belong to agents")
    if not everything and not ids:
        raise Invalid('give "ids" or "all"')
    if len(ids) > MAX_IDS:
        raise Invalid(f"at most {MAX_IDS} ids at once")
    agent_id = actor.agent_id

    def work(tx: Tx) -> int:
        query = update(Notification).where(Notification.agent_id == agent_id, Notification.read_at.is_(None))
        if not everything:
            query = query.where(Notification.id.in_(list(ids)))
        return int(tx.conn.execute(query.values(read_at=tx.now)).rowcount or 0)

    return await perform(ctx.db, ctx.bus, actor, work)
