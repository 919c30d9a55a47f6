"""GDPR access: everything we hold about a contact, as one JSON document."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.errors import NotFound
from inbox.store.models import Attachment, Channel, Contact, ContactIdentity, Conversation, Message

contacts_t = cast(Table, Contact.__table__)
identities_t = cast(Table, ContactIdentity.__table__)
conversations_t = cast(Table, Conversation.__table__)
messages_t = cast(Table, Message.__table__)
attachments_t = cast(Table, Attachment.__table__)
channels_t = cast(Table, Channel.__table__)


def find_contact(conn: Connection, key: str) -> int:
    """A contact by id or by email address."""
    query = select(contacts_t.c.id)
    query = query.where(contacts_t.c.id == int(key)) if key.isdigit() else query.where(contacts_t.c.email == key.strip().lower())
    found = conn.scalar(query.order_by(contacts_t.c.id))
    if found is None:
        raise NotFound(f"no contact {key!r}")
    return int(found)


async def export_contact(session: AsyncSession, key: str) -> dict[str, Any]:
    """The contact found by id or email, its identities and its public conversations."""
    return await session.run_sync(lambda s: export(s.connection(), find_contact(s.connection(), key)))


def export(conn: Connection, contact_id: int) -> dict[str, Any]:
    contact = conn.execute(select(contacts_t).where(contacts_t.c.id == contact_id)).one()
    identities = conn.execute(
        select(identities_t.c.address, identities_t.c.username, channels_t.c.name, channels_t.c.type)
        .join(channels_t, channels_t.c.id == identities_t.c.channel_id)
        .where(identities_t.c.contact_id == contact_id)
    ).all()
    conversations = []
    for c in conn.execute(select(conversations_t).where(conversations_t.c.contact_id == contact_id).order_by(conversations_t.c.id)):
        messages = conn.execute(
            select(messages_t).where(messages_t.c.conversation_id == c.id, messages_t.c.private.is_(False)).order_by(messages_t.c.id)
        ).all()
        conversations.append(
            {
                "id": c.id,
                "subject": c.subject,
                "status": c.status,
                "created_at": c.created_at.isoformat(),
                "messages": [
                    {
                        "direction": m.direction,
                        "text": m.text,
                        "sent_at": (m.sent_at or m.created_at).isoformat(),
                        "attachments": [
                            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
                            for a in conn.execute(select(attachments_t).where(attachments_t.c.message_id == m.id))
                        ],
                    }
                    for m in messages
                ],
            }
        )
    return {
        "contact": {
            "id": contact.id,
            "name": contact.name,
            "email": contact.email,
            "language": contact.language,
            "created_at": contact.created_at.isoformat(),
        },
        "identities": [{"channel": i.name, "type": i.type, "address": i.address, "username": i.username} for i in identities],
        "conversations": conversations,
    }
