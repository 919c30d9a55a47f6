"""Reading an agent's own notifications: the list (newest first), the unread count, and
agents' addresses for @-completion."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.auth import Principal
from inbox.store.models import Agent, Conversation, Notification


async def unread_count(session: AsyncSession, who: Principal) -> int:
    query = select(func.count(Notification.id)).where(Notification.agent_id == who.agent_id, Notification.read_at.is_(None))
    return int(await session.scalar(query) or 0)


async def list_notifications(
    session: AsyncSession, who: Principal, *, unread: bool | None, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    query = (
        select(Notification, Conversation.subject, Agent.email, Agent.name)
        .join(Conversation, Conversation.id == Notification.conversation_id)
        .outerjoin(Agent, Agent.id == Notification.by_agent_id)
        .where(Notification.agent_id == who.agent_id)
    )
    if unread is True:
        query = query.where(Notification.read_at.is_(None))
    elif unread is False:
        query = query.where(Notification.read_at.is_not(None))
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    rows = (await session.execute(query.order_by(Notification.id.desc()).limit(limit))).all()
    return [
        {
            "id": n.id,
            "kind": n.kind,
            "conversation_id": n.conversation_id,
            "message_id": n.message_id,
            "subject": subject,
            "by": {"email": email, "name": name} if email else None,
            "created_at": n.created_at.isoformat(),
            "read_at": n.read_at.isoformat() if n.read_at else None,
        }
        for n, subject, email, name in rows
    ]


async def agents_matching(session: AsyncSession, prefix: str, limit: int = 8) -> list[dict[str, str]]:
    """Active agents whose address or name starts with `prefix` (for @-completion)."""
    pattern = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = (
        select(Agent.email, Agent.name)
        .where(Agent.active.is_(True), or_(Agent.email.like(pattern, escape="\\"), func.lower(Agent.name).like(pattern, escape="\\")))
        .order_by(Agent.email)
        .limit(limit)
    )
    return [{"email": r.email, "name": r.name} for r in await session.execute(query)]
