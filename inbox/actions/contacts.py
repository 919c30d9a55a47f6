"""Contacts: merging two records of the same person into one."""

from __future__ import annotations

from sqlalchemy import update

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Invalid, NotFound
from inbox.queries.contacts import find_visible_contact
from inbox.store.models import ContactIdentity, Conversation, Message


async def merge_contacts(ctx: Context, actor: Actor, keep_id: int, merged_id: int) -> None:
    """Move every identity, conversation and message of `merged_id` to `keep_id`.

    The merged contact stays as a tombstone pointing at the kept one, so old links and
    audit entries still resolve. An agent merges only contacts they may see (a contact
    they see a conversation of); any other is "not found".
    """

    def work(tx: Tx) -> None:
        keep = find_visible_contact(tx.session, actor.principal, keep_id)
        merged = find_visible_contact(tx.session, actor.principal, merged_id)
        if keep is None or merged is None:
            raise NotFound.of("contact")
        if keep_id == merged_id:
            raise Invalid("a contact cannot be merged into itself")
        if keep.merged_into_id is not None or merged.merged_into_id is not None:
            raise Conflict("that contact was already merged")
        tx.conn.execute(update(ContactIdentity).where(ContactIdentity.contact_id == merged_id).values(contact_id=keep_id))
        tx.conn.execute(update(Conversation).where(Conversation.contact_id == merged_id).values(contact_id=keep_id))
        tx.conn.execute(update(Message).where(Message.contact_id == merged_id).values(contact_id=keep_id))
        keep.name = keep.name or merged.name
        keep.email = keep.email or merged.email
        keep.tags = sorted(set(keep.tags or []) | set(merged.tags or []))
        merged.merged_into_id = keep_id
        tx.audit("contact.merge", f"contact:{keep_id}", {"merged": merged_id})

    await perform(ctx.db, ctx.bus, actor, work)
