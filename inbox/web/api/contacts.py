"""Contacts: every identity on every channel and every conversation the caller may see."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from inbox.queries import contacts as queries
from inbox.queries import conversations as conv
from inbox.web.api.deps import Id, Svc, Who
from inbox.web.errors import not_found

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"])


@router.get("/{contact_id}")
async def get_contact(svc: Svc, who: Who, contact_id: Id) -> dict[str, Any]:
    async with svc.db.read() as session:
        # An agent learns of a contact only through a conversation they may see.
        contact = await queries.get_visible_contact(session, who, contact_id)
        if contact is None:
            raise not_found("contact")
        conversations = await queries.conversations_of(session, who, contact_id)
        identities = await queries.identities_of(session, contact_id)
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
