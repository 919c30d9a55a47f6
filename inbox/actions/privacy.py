"""GDPR erasure (the right to be forgotten): a contact's personal data removed, its
conversations kept as empty shells for statistics. Audited as `contact.erase` with counts."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Connection, Table, delete, or_, select, update

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.queries.privacy import find_contact
from inbox.store.models import Attachment, Blob, Contact, ContactIdentity, Conversation, Message

contacts_t = cast(Table, Contact.__table__)
identities_t = cast(Table, ContactIdentity.__table__)
conversations_t = cast(Table, Conversation.__table__)
messages_t = cast(Table, Message.__table__)
attachments_t = cast(Table, Attachment.__table__)
blobs_t = cast(Table, Blob.__table__)

ERASED = "[erased]"


async def erase_contact(ctx: Context, actor: Actor, key: str) -> dict[str, int]:
    """Erase the contact found by id or email; returns what was removed, by kind."""

    def work(tx: Tx) -> dict[str, int]:
        contact_id = find_contact(tx.conn, key)
        counts = erase(tx.conn, contact_id)
        tx.audit("contact.erase", f"contact:{contact_id}", counts)
        return counts

    return await perform(ctx.db, ctx.bus, actor, work)


def erase(conn: Connection, contact_id: int) -> dict[str, int]:
    """Remove the contact's personal data; conversations stay as empty shells for statistics."""
    # Run by `perform`, which holds the writers' lock: no ingest may reuse a blob while it
    # is being deleted.
    conversation_ids = list(conn.scalars(select(conversations_t.c.id).where(conversations_t.c.contact_id == contact_id)))
    message_ids = list(
        conn.scalars(
            select(messages_t.c.id).where(or_(messages_t.c.contact_id == contact_id, messages_t.c.conversation_id.in_(conversation_ids)))
        )
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
    return {"conversations": len(conversation_ids), "messages": len(message_ids), "identities": identities, "blobs": blobs}
