"""GDPR erasure (the right to be forgotten): a contact's personal data removed, its
conversations kept as empty shells for statistics. Audited as `contact.erase` with counts."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Connection, Table, delete, or_, select, update

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Forbidden
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

    if not actor.is_admin:
        raise Forbidden("erasing a contact needs the admin role")

    def work(tx: Tx) -> dict[str, int]:
        contact_id = find_contact(tx.conn, key)
        counts = erase(tx.conn, contact_id)
        tx.audit("contact.erase", f"contact:{contact_id}", counts)
        return counts

    return await perform(ctx.db, ctx.bus, actor, work)


def erase(conn: Connection, contact_id: int) -> dict[str, int]:
    """Remove the contact's personal data; conversations stay as empty shells for statistics.

    Set-based: a handful of statements whatever the number of conversations and messages,
    each selecting its rows by the contact (indexed), never by a list of ids built here."""
    # Run by `perform`, which holds the writers' lock: no ingest may reuse a blob while it
    # is being deleted.
    of_contact = select(conversations_t.c.id).where(conversations_t.c.contact_id == contact_id)
    theirs = or_(messages_t.c.contact_id == contact_id, messages_t.c.conversation_id.in_(of_contact))
    message_ids = select(messages_t.c.id).where(theirs)
    hashes = set(conn.scalars(select(attachments_t.c.sha256).where(attachments_t.c.message_id.in_(message_ids))))
    hashes |= set(conn.scalars(select(messages_t.c.raw_sha256).where(theirs, messages_t.c.raw_sha256.is_not(None))))
    conn.execute(delete(attachments_t).where(attachments_t.c.message_id.in_(message_ids)))
    messages = conn.execute(
        update(messages_t).where(theirs).values(text=ERASED, html=None, original_text=None, subject=None, raw_sha256=None, meta={})
    ).rowcount
    conversations = conn.execute(
        update(conversations_t).where(conversations_t.c.contact_id == contact_id).values(subject=None, meta={})
    ).rowcount
    identities = conn.execute(delete(identities_t).where(identities_t.c.contact_id == contact_id)).rowcount
    conn.execute(update(contacts_t).where(contacts_t.c.id == contact_id).values(name="Erased contact", email=None, language=None, tags=[]))
    still_used = set(conn.scalars(select(attachments_t.c.sha256).where(attachments_t.c.sha256.in_(hashes))))
    still_used |= set(conn.scalars(select(messages_t.c.raw_sha256).where(messages_t.c.raw_sha256.in_(hashes))))
    blobs = conn.execute(delete(blobs_t).where(blobs_t.c.sha256.in_(hashes - still_used))).rowcount
    return {"conversations": conversations, "messages": messages, "identities": identities, "blobs": blobs}
