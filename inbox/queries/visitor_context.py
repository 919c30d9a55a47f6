"""What the widget told us about a chat visitor: the page they wrote from, its title, the
referrer, their browser's language and time zone (stored on their messages' meta)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.store.models import Contact, Message

# The newest context wins; one older message is enough to find it when the newest has none.
LOOK_BACK = 20


@dataclass(frozen=True, slots=True)
class VisitorContext:
    url: str | None
    title: str | None
    referrer: str | None
    language: str | None
    time_zone: str | None
    unverified_email: str | None  # claimed in the pre-chat form, never verified


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


async def visitor_context(session: AsyncSession, conversation_id: int, contact_id: int) -> VisitorContext | None:
    """The newest page context of the conversation's visitor, or None for other channels."""
    metas = (
        await session.scalars(
            select(Message.meta)
            .where(Message.conversation_id == conversation_id, Message.direction == "in")
            .order_by(Message.id.desc())
            .limit(LOOK_BACK)
        )
    ).all()
    context = next((m["context"] for m in metas if isinstance(m, dict) and isinstance(m.get("context"), dict)), None)
    claimed = await session.scalar(select(Contact.unverified_email).where(Contact.id == contact_id))
    if context is None and claimed is None:
        return None
    context = context or {}
    return VisitorContext(
        url=_text(context.get("url")),
        title=_text(context.get("title")),
        referrer=_text(context.get("referrer")),
        language=_text(context.get("language")),
        time_zone=_text(context.get("time_zone")),
        unverified_email=_text(claimed),
    )
