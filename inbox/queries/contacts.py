"""Reading contacts: an agent knows of a contact only through a conversation they may see
(admins and system callers see every contact)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from inbox.auth import Principal
from inbox.queries.conversations import visibility, visible_to
from inbox.store.models import Channel, Contact, ContactIdentity, Conversation


def find_visible_contact(session: Session, who: Principal | None, contact_id: int) -> Contact | None:
    contact = session.get(Contact, contact_id)
    if contact is None or who is None or who.is_admin:
        return contact
    seen = session.scalar(select(Conversation.id).where(Conversation.contact_id == contact_id, visible_to(session, who)).limit(1))
    return contact if seen is not None else None


async def get_visible_contact(session: AsyncSession, who: Principal | None, contact_id: int) -> Contact | None:
    return await session.run_sync(find_visible_contact, who, contact_id)


async def conversations_of(session: AsyncSession, who: Principal, contact_id: int, limit: int | None = None) -> list[Conversation]:
    """The contact's conversations that `who` may see, the latest first."""
    query = (
        select(Conversation)
        .where(Conversation.contact_id == contact_id, await visibility(session, who))
        .order_by(Conversation.last_message_at.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return list((await session.scalars(query)).all())


async def identities_of(session: AsyncSession, contact_id: int) -> list[Any]:
    """Every identity of the contact, with its channel: rows of (id, address, username, name, type)."""
    query = (
        select(ContactIdentity.id, ContactIdentity.address, ContactIdentity.username, Channel.name, Channel.type)
        .join(Channel, Channel.id == ContactIdentity.channel_id)
        .where(ContactIdentity.contact_id == contact_id)
        .order_by(ContactIdentity.id)
    )
    return list((await session.execute(query)).all())


async def likely_duplicates(session: AsyncSession, who: Principal, contact: Contact) -> list[Contact]:
    """Other unmerged contacts with the same name or email that the agent may see."""
    same = []
    if contact.email:
        same.append(Contact.email == contact.email)
    if contact.name:
        same.append(Contact.name == contact.name)
    if not same:
        return []
    query = select(Contact).where(or_(*same), Contact.id != contact.id, Contact.merged_into_id.is_(None))
    if not who.is_admin:
        query = query.where(Contact.id.in_(select(Conversation.contact_id).where(await visibility(session, who))))
    return list((await session.scalars(query.order_by(Contact.id).limit(10))).all())
