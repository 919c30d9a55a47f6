"""Reading organizations: every agent may read them (admins change them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.auth import Principal
from inbox.queries.conversations import visibility
from inbox.store.models import Contact, Conversation, Organization, OrganizationDomain


async def list_organizations(session: AsyncSession, q: str, after_id: int | None, limit: int) -> list[Organization]:
    """By id; with `q`, those whose name or one of whose domains contains it."""
    query = select(Organization)
    q = q.strip()
    if q:
        domain = exists().where(
            OrganizationDomain.organization_id == Organization.id, OrganizationDomain.domain.contains(q.lower(), autoescape=True)
        )
        query = query.where(or_(Organization.name.icontains(q, autoescape=True), domain))
    if after_id is not None:
        query = query.where(Organization.id > after_id)
    return list((await session.scalars(query.order_by(Organization.id).limit(limit))).all())


async def contact_counts(session: AsyncSession, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Contact.organization_id, func.count())
        .where(Contact.organization_id.in_(ids), Contact.merged_into_id.is_(None))
        .group_by(Contact.organization_id)
    )
    return {int(row[0]): int(row[1]) for row in rows if row[0] is not None}


async def members(session: AsyncSession, who: Principal, org_id: int, limit: int = 200) -> list[Contact]:
    """The organization's contacts `who` may see (an agent: those with a conversation they see)."""
    query = select(Contact).where(Contact.organization_id == org_id, Contact.merged_into_id.is_(None))
    if not who.is_admin:
        query = query.where(Contact.id.in_(select(Conversation.contact_id).where(await visibility(session, who))))
    query = query.order_by(Contact.name, Contact.id).limit(limit)
    return list((await session.scalars(query)).all())


def describe(org: Organization, contacts: int) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "domains": list(org.domains or []),
        "notes": org.notes,
        "contacts": contacts,
        "created_at": org.created_at.isoformat(),
        "updated_at": org.updated_at.isoformat(),
    }
