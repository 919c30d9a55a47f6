"""GDPR: everything we hold about a contact (export), and erasing it (right to be forgotten)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Table, delete, or_, select, update

from inbox import events
from inbox.store.models import (
    Attachment,
    AuditEntry,
    Blob,
    Channel,
    Contact,
    ContactIdentity,
    Conversation,
    Message,
    utcnow,
)

contacts_t = cast(Table, Contact.__table__)
identities_t = cast(Table, ContactIdentity.__table__)
conversations_t = cast(Table, Conversation.__table__)
messages_t = cast(Table, Message.__table__)
attachments_t = cast(Table, Attachment.__table__)
blobs_t = cast(Table, Blob.__table__)
channels_t = cast(Table, Channel.__table__)
audit_t = cast(Table, AuditEntry.__table__)

ERASED = "[erased]"


class UnknownContact(LookupError):
    pass


def find_contact(conn: Connection, key: str) -> int:
    """A contact by id or by email address."""
    query = select(contacts_t.c.id)
    query = query.where(contacts_t.c.id == int(key)) if key.isdigit() else query.where(contacts_t.c.email == key.lower())
    found = conn.scalar(query.order_by(contacts_t.c.id))
    if found is None:
        raise UnknownContact(f"no contact {key!r}")
    return int(found)


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
        "contact": {"id": contact.id, "name": contact.name, "email": contact.email, "language": contact.language, "created_at": contact.created_at.isoformat()},
        "identities": [{"channel": i.name, "type": i.type, "address": i.address, "username": i.username} for i in identities],
        "conversations": conversations,
    }


def erase(conn: Connection, contact_id: int, actor: str) -> dict[str, int]:
    """Remove the contact's personal data; conversations stay as empty shells for statistics."""
    events.lock_writers(conn)
    conversation_ids = list(conn.scalars(select(conversations_t.c.id).where(conversations_t.c.contact_id == contact_id)))
    message_ids = list(
        conn.scalars(select(messages_t.c.id).where(or_(messages_t.c.contact_id == contact_id, messages_t.c.conversation_id.in_(conversation_ids))))
    )
    hashes = set(conn.scalars(select(attachments_t.c.sha256).where(attachments_t.c.message_id.in_(message_ids))))
    hashes |= {h for h in conn.scalars(select(messages_t.c.raw_sha256).where(messages_t.c.id.in_(message_ids))) if h}
    conn.execute(delete(attachments_t).where(attachments_t.c.message_id.in_(message_ids)))
    conn.execute(
        update(messages_t)
        .where(messages_t.c.id.in_(message_ids))
        .values(text=ERASED, html=None, original_text=None, subject=None, raw_sha256=None, meta={})
    )
    conn.execute(update(conversations_t).where(conversations_t.c.id.in_(conversation_ids)).values(subject=None, meta={}))
    identities = conn.execute(delete(identities_t).where(identities_t.c.contact_id == contact_id)).rowcount
    conn.execute(update(contacts_t).where(contacts_t.c.id == contact_id).values(name="Erased contact", email=None, language=None, tags=[]))
    still_used = set(conn.scalars(select(attachments_t.c.sha256).where(attachments_t.c.sha256.in_(hashes))))
    still_used |= set(conn.scalars(select(messages_t.c.raw_sha256).where(messages_t.c.raw_sha256.in_(hashes))))
    blobs = conn.execute(delete(blobs_t).where(blobs_t.c.sha256.in_(hashes - still_used))).rowcount
    conn.execute(audit_t.insert().values(agent_id=None, action="contact.erase", target=f"contact:{contact_id}", details={"by": actor}, created_at=utcnow()))
    return {"conversations": len(conversation_ids), "messages": len(message_ids), "identities": identities, "blobs": blobs}
