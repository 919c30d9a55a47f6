"""Contacts (every identity on every channel and every conversation the caller may see) and
organizations (customer companies with e-mail domains; every agent reads them, admins change them)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from inbox.actions import contacts as actions
from inbox.actions import organizations as org_actions
from inbox.actions import privacy
from inbox.actions.runner import Actor
from inbox.auth import Principal
from inbox.queries import contacts as queries
from inbox.queries import conversations as conv
from inbox.queries import organizations as org_queries
from inbox.store.models import Organization
from inbox.web import pagination
from inbox.web.api.deps import Admin, Id, Svc, Who
from inbox.web.errors import not_found

router = APIRouter(prefix="/api/v1", tags=["contacts"])

Limit = Annotated[int, Query(ge=1, le=200)]
Search = Annotated[str, Query(max_length=200)]
Cursor = Annotated[str | None, Query(max_length=pagination.MAX_CURSOR_CHARS)]


class ContactPatch(BaseModel):
    """Each field given is set; null (or "") clears it. `organization` is an organization's id."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=actions.MAX_NAME)
    email: str | None = Field(default=None, max_length=actions.MAX_EMAIL)
    phone: str | None = Field(default=None, max_length=actions.MAX_PHONE)
    organization: int | None = Field(default=None, ge=1, le=2**53 - 1, description="an organization's id; null clears it")
    notes: str | None = Field(default=None, max_length=actions.MAX_NOTES)


@router.get("/contacts")
async def list_contacts(svc: Svc, who: Who, q: Search = "", cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    after = pagination.decode(cursor, 1)
    async with svc.db.read() as session:
        found = await queries.search_contacts(session, who, q, after[0] if after else None, limit)
        names = await queries.organization_names(session, {c.organization_id for c in found if c.organization_id is not None})
        items = [queries.describe_contact(c, names) for c in found]
    return pagination.page(items, limit, [found[-1].id] if found else None)


def _contact_page(session: Session, who: Principal, contact_id: int) -> dict[str, Any]:
    # An agent learns of a contact only through a conversation they may see.
    contact = queries.find_visible_contact(session, who, contact_id)
    if contact is None:
        raise not_found("contact")
    conversations = queries.contact_conversations(session, who, contact_id)
    identities = queries.contact_identities(session, contact_id)
    names = queries.names_of_organizations(session, {contact.organization_id} if contact.organization_id is not None else set())
    return {
        **queries.describe_contact(contact, names),
        "identities": [
            {"id": i.id, "channel": i.name, "channel_type": i.type, "address": i.address, "username": i.username} for i in identities
        ],
        "conversations": conv.conversation_shapes(session, conversations, contact_id=contact_id),
    }


async def _contact(svc: Svc, who: Who, contact_id: int) -> dict[str, Any]:
    # One read in one hop (a busy contact's page is a dozen statements).
    return await svc.db.query(lambda session: _contact_page(session, who, contact_id))


@router.get("/contacts/{contact_id}")
async def get_contact(svc: Svc, who: Who, contact_id: Id) -> dict[str, Any]:
    return await _contact(svc, who, contact_id)


@router.patch("/contacts/{contact_id}")
async def patch_contact(svc: Svc, who: Who, contact_id: Id, body: ContactPatch) -> dict[str, Any]:
    await actions.update_contact(svc.ctx, Actor.of(who), contact_id, body.model_dump(exclude_unset=True))
    return await _contact(svc, who, contact_id)


@router.post("/contacts/{contact_id}/erase")
async def erase_contact(svc: Svc, who: Admin, contact_id: Id) -> dict[str, int]:
    """GDPR erasure (admins): the contact's name, e-mail, identities, message texts and files
    removed; its conversations stay as empty shells for the reports. Audited `contact.erase`;
    answers what was removed, by kind (the CLI's `erase-contact`)."""
    return await privacy.erase_contact(svc.ctx, Actor.of(who), str(contact_id))


class OrganizationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=org_actions.MAX_NAME)
    domains: list[Annotated[str, Field(max_length=253)]] = Field(default_factory=list, max_length=org_actions.MAX_DOMAINS)
    notes: str | None = Field(default=None, max_length=org_actions.MAX_NOTES)


class OrganizationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=org_actions.MAX_NAME)
    domains: list[Annotated[str, Field(max_length=253)]] | None = Field(default=None, max_length=org_actions.MAX_DOMAINS)
    notes: str | None = Field(default=None, max_length=org_actions.MAX_NOTES)


async def _organization(svc: Svc, who: Who, org_id: int) -> dict[str, Any]:
    async with svc.db.read() as session:
        org = await session.get(Organization, org_id)
        if org is None:
            raise not_found("organization")
        counts = await org_queries.contact_counts(session, [org.id])
        members = await org_queries.members(session, who, org.id)
        return {
            **org_queries.describe(org, counts.get(org.id, 0)),
            "members": [{"id": c.id, "name": c.name, "email": c.email} for c in members],
        }


@router.get("/organizations")
async def list_organizations(svc: Svc, who: Who, q: Search = "", cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    after = pagination.decode(cursor, 1)
    async with svc.db.read() as session:
        found = await org_queries.list_organizations(session, q, after[0] if after else None, limit)
        counts = await org_queries.contact_counts(session, [o.id for o in found])
        items = [org_queries.describe(o, counts.get(o.id, 0)) for o in found]
    return pagination.page(items, limit, [found[-1].id] if found else None)


@router.post("/organizations", status_code=201)
async def create_organization(svc: Svc, who: Who, body: OrganizationIn) -> dict[str, Any]:
    org_id = await org_actions.create_organization(svc.ctx, Actor.of(who), body.name, body.domains, notes=body.notes)
    return await _organization(svc, who, org_id)


@router.get("/organizations/{org_id}")
async def get_organization(svc: Svc, who: Who, org_id: Id) -> dict[str, Any]:
    return await _organization(svc, who, org_id)


@router.patch("/organizations/{org_id}")
async def patch_organization(svc: Svc, who: Who, org_id: Id, body: OrganizationPatch) -> dict[str, Any]:
    given = body.model_fields_set
    await org_actions.update_organization(
        svc.ctx,
        Actor.of(who),
        org_id,
        name=body.name,
        domains=body.domains,
        notes=body.notes,
        clear_notes="notes" in given and body.notes is None,
    )
    return await _organization(svc, who, org_id)


@router.delete("/organizations/{org_id}", status_code=204)
async def delete_organization(svc: Svc, who: Who, org_id: Id) -> Response:
    await org_actions.delete_organization(svc.ctx, Actor.of(who), org_id)
    return Response(status_code=204)
