"""Reading contacts: an agent knows of a contact only through a conversation they may see
(admins and system callers see every contact)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from inbox.auth import Principal
from inbox.queries.conversations import LISTED_SHOWN, visibility, visible_to
from inbox.store.models import Channel, Contact, ContactIdentity, Conversation, Organization


def find_visible_contact(session: Session, who: Principal | None, contact_id: int) -> Contact | None:
    contact = session.get(Contact, contact_id)
    if contact is None or who is None or who.is_admin:
        return contact
    seen = session.scalar(select(Conversation.id).where(Conversation.contact_id == contact_id, visible_to(session, who)).limit(1))
    return contact if seen is not None else None


async def get_visible_contact(session: AsyncSession, who: Principal | None, contact_id: int) -> Contact | None:
    return await session.run_sync(find_visible_contact, who, contact_id)


def contact_conversations(session: Session, who: Principal | None, contact_id: int, limit: int | None = None) -> list[Any]:
    """The contact's conversations that `who` may see, the latest first: rows of what
    `describe` shows (`LISTED_SHOWN`: its times as text), not ORM objects (a busy contact
    has hundreds)."""
    query = (
        select(*LISTED_SHOWN)
        .where(Conversation.contact_id == contact_id, visible_to(session, who))
        .order_by(Conversation.last_message_at.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    # On the connection: Core rows without the ORM's loading of them (a tenth of the page's CPU).
    return list(session.connection().execute(query).all())


async def conversations_of(session: AsyncSession, who: Principal, contact_id: int, limit: int | None = None) -> list[Any]:
    return await session.run_sync(contact_conversations, who, contact_id, limit)


_IDENTITIES = (
    select(ContactIdentity.id, ContactIdentity.address, ContactIdentity.username, Channel.name, Channel.type)
    .join(Channel, Channel.id == ContactIdentity.channel_id)
    .where(ContactIdentity.contact_id == bindparam("contact_id"))
    .order_by(ContactIdentity.id)
)


def contact_identities(session: Session, contact_id: int) -> list[Any]:
    """Every identity of the contact, with its channel: rows of (id, address, username, name, type)."""
    return list(session.connection().execute(_IDENTITIES, {"contact_id": contact_id}).all())


async def identities_of(session: AsyncSession, contact_id: int) -> list[Any]:
    return await session.run_sync(contact_identities, contact_id)


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


async def search_contacts(session: AsyncSession, who: Principal, q: str, before_id: int | None, limit: int) -> list[Contact]:
    """Unmerged contacts `who` may see, the newest first, below `before_id` (keyset); with `q`,
    those whose name, email, or an identity's address or username contains it (any case)."""
    query = select(Contact).where(Contact.merged_into_id.is_(None))
    q = q.strip()
    if q:
        identity = exists().where(
            ContactIdentity.contact_id == Contact.id,
            or_(ContactIdentity.address.icontains(q, autoescape=True), ContactIdentity.username.icontains(q, autoescape=True)),
        )
        query = query.where(or_(Contact.name.icontains(q, autoescape=True), Contact.email.icontains(q, autoescape=True), identity))
    if before_id is not None:
        query = query.where(Contact.id < before_id)
    if not who.is_admin:
        query = query.where(Contact.id.in_(select(Conversation.contact_id).where(await visibility(session, who))))
    return list((await session.scalars(query.order_by(Contact.id.desc()).limit(limit))).all())


def names_of_organizations(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(sorted(ids))))
    return {r.id: r.name for r in rows}


async def organization_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    return await session.run_sync(names_of_organizations, ids)


def describe_contact(contact: Contact, organizations: dict[int, str]) -> dict[str, Any]:
    org = contact.organization_id
    return {
        "id": contact.id,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "organization": {"id": org, "name": organizations.get(org, "")} if org is not None else None,
        "notes": contact.notes,
        "language": contact.language,
        "tags": list(contact.tags or []),
        "merged_into": contact.merged_into_id,
        "created_at": contact.created_at.isoformat(),
    }
