"""Contacts: every identity on every channel and every conversation the caller may see."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from inbox import conversations as conv
from inbox.store.models import Channel, Contact, ContactIdentity, Conversation
from inbox.web.api.deps import Id, Svc, Who
from inbox.web.errors import not_found

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"])


@router.get("/{contact_id}")
async def get_contact(svc: Svc, who: Who, contact_id: Id) -> dict[str, Any]:
    async with svc.db.read() as session:
        contact = await session.get(Contact, contact_id)
        if contact is None:
            raise not_found("contact")
        visible = await conv.visibility(session, who)
        conversations = (
            await session.scalars(
                select(Conversation).where(Conversation.contact_id == contact_id, visible).order_by(Conversation.last_message_at.desc())
            )
        ).all()
        if not conversations and not who.is_admin:
            # An agent learns of a contact only through a conversation they may see.
            raise not_found("contact")
        identities = (
            await session.execute(
                select(ContactIdentity.id, ContactIdentity.address, ContactIdentity.username, Channel.name, Channel.type)
                .join(Channel, Channel.id == ContactIdentity.channel_id)
                .where(ContactIdentity.contact_id == contact_id)
                .order_by(ContactIdentity.id)
            )
        ).all()
        return {
            "id": contact.id,
            "name": contact.name,
            "email": contact.email,
            "language": contact.language,
            "tags": list(contact.tags or []),
            "created_at": contact.created_at.isoformat(),
            "identities": [
                {"id": i.id, "channel": i.name, "channel_type": i.type, "address": i.address, "username": i.username} for i in identities
            ],
            "conversations": await conv.describe(session, conversations),
        }
