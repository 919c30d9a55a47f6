"""Contacts: merging two records of the same person into one."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.store import audit
from inbox.store.models import Contact, ContactIdentity, Conversation, Message


class MergeError(ValueError):
    pass


async def merge_contacts(session: AsyncSession, keep_id: int, merged_id: int, *, agent_id: int) -> None:
    """Move every identity, conversation and message of `merged_id` to `keep_id`.

    The merged contact stays as a tombstone pointing at the kept one, so old links
    and audit entries still resolve.
    """
    if keep_id == merged_id:
        raise MergeError("a contact cannot be merged into itself")
    keep = await session.get(Contact, keep_id)
    merged = await session.get(Contact, merged_id)
    if keep is None or merged is None:
        raise MergeError("no such contact")
    if keep.merged_into_id is not None or merged.merged_into_id is not None:
        raise MergeError("that contact was already merged")
    await session.execute(update(ContactIdentity).where(ContactIdentity.contact_id == merged_id).values(contact_id=keep_id))
    await session.execute(update(Conversation).where(Conversation.contact_id == merged_id).values(contact_id=keep_id))
    await session.execute(update(Message).where(Message.contact_id == merged_id).values(contact_id=keep_id))
    keep.name = keep.name or merged.name
    keep.email = keep.email or merged.email
    keep.tags = sorted(set(keep.tags or []) | set(merged.tags or []))
    merged.merged_into_id = keep_id
    await audit.record(session, agent_id, "contact.merge", f"contact:{keep_id}", {"merged": merged_id})
