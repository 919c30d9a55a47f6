"""Organizations: customer companies with e-mail domains. Admins create, change and delete
them; a contact whose verified address is on one of an organization's domains joins it.

"Verified" means the contact wrote to us from that address through an email channel (an
identity on a channel of type "email"): an address a widget visitor typed proves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select, update

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Forbidden, Invalid, NotFound
from inbox.store.models import Channel, Contact, ContactIdentity, Organization, OrganizationDomain

MAX_NAME = 255
MAX_DOMAINS = 50
MAX_NOTES = 10_000
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def clean_domain(raw: str) -> str:
    """A domain as stored: trimmed, lower-case, no "@" or trailing dot; at least two labels."""
    domain = raw.strip().lower().removeprefix("@").rstrip(".")
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise Invalid(f"domains: {raw.strip()[:80]!r} is not a domain name (like example.com)", code="invalid_domain")
    return domain


def clean_domains(raw: Sequence[str]) -> list[str]:
    if len(raw) > MAX_DOMAINS:
        raise Invalid(f"domains: at most {MAX_DOMAINS}")
    out: list[str] = []
    for item in raw:
        domain = clean_domain(item)
        if domain not in out:
            out.append(domain)
    return out


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise Invalid("name: an organization needs a name")
    if len(name) > MAX_NAME:
        raise Invalid(f"name: at most {MAX_NAME} characters")
    return name


def _clean_notes(notes: str | None) -> str | None:
    if notes is None:
        return None
    if len(notes) > MAX_NOTES:
        raise Invalid(f"notes: at most {MAX_NOTES} characters")
    return notes.strip() or None


def _admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("only an admin changes organizations")


def _check_name_free(tx: Tx, name: str, own_id: int | None) -> None:
    clash = tx.session.scalar(select(Organization.id).where(func.lower(Organization.name) == name.lower()))
    if clash is not None and clash != own_id:
        raise Conflict(f"name: an organization named {name!r} exists", code="name_taken")


def _set_domains(tx: Tx, org: Organization, domains: list[str]) -> list[int]:
    """Make `domains` the organization's (409 if another has one); the contacts that join: those
    with no organization yet whose verified address is on a domain it gained."""
    taken = tx.session.execute(
        select(OrganizationDomain.domain, Organization.name)
        .join(Organization, Organization.id == OrganizationDomain.organization_id)
        .where(OrganizationDomain.domain.in_(domains), OrganizationDomain.organization_id != org.id)
    ).first()
    if taken is not None:
        raise Conflict(f"domains: {taken.domain} belongs to {taken.name}", code="domain_taken")
    before = set(tx.session.scalars(select(OrganizationDomain.domain).where(OrganizationDomain.organization_id == org.id)))
    gone, added = before - set(domains), [d for d in domains if d not in before]
    if gone:
        tx.conn.execute(delete(OrganizationDomain).where(OrganizationDomain.domain.in_(sorted(gone))))
    for domain in added:
        tx.session.add(OrganizationDomain(domain=domain, organization_id=org.id))
    org.domains = domains
    tx.session.flush()
    return _join_verified(tx, org.id, added)


def _join_verified(tx: Tx, org_id: int, domains: list[str]) -> list[int]:
    if not domains:
        return []
    address = func.lower(ContactIdentity.address)
    on_domain = [address.like(f"%@{d}") for d in domains]

    ids = sorted(
        set(
            tx.session.scalars(
                select(ContactIdentity.contact_id)
                .join(Channel, Channel.id == ContactIdentity.channel_id)
                .join(Contact, Contact.id == ContactIdentity.contact_id)
                .where(Channel.type == "email", or_(*on_domain), Contact.organization_id.is_(None), Contact.merged_into_id.is_(None))
            )
        )
    )
    if ids:
        tx.conn.execute(update(Contact).where(Contact.id.in_(ids)).values(organization_id=org_id))
    return ids


async def create_organization(ctx: Context, actor: Actor, name: str, domains: Sequence[str] = (), *, notes: str | None = None) -> int:
    _admin(actor)
    name, cleaned, notes = _clean_name(name), clean_domains(domains), _clean_notes(notes)

    def work(tx: Tx) -> int:
        _check_name_free(tx, name, None)
        org = Organization(name=name, domains=[], notes=notes, created_at=tx.now, updated_at=tx.now)
        tx.session.add(org)
        tx.session.flush()
        joined = _set_domains(tx, org, cleaned)
        tx.audit("organization.create", f"organization:{org.id}", {"name": name, "domains": cleaned, "joined": len(joined)})
        return org.id

    return await perform(ctx.db, ctx.bus, actor, work)


async def update_organization(
    ctx: Context,
    actor: Actor,
    org_id: int,
    *,
    name: str | None = None,
    domains: Sequence[str] | None = None,
    notes: str | None = None,
    clear_notes: bool = False,
) -> None:
    """Change what is given (None leaves it as it is; `clear_notes` empties the notes)."""
    _admin(actor)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _clean_name(name)
    if domains is not None:
        changes["domains"] = clean_domains(domains)
    if notes is not None or clear_notes:
        changes["notes"] = None if clear_notes else _clean_notes(notes)

    def work(tx: Tx) -> None:
        org = tx.session.get(Organization, org_id)
        if org is None:
            raise NotFound.of("organization")
        details = dict(changes)
        if "name" in changes:
            _check_name_free(tx, changes["name"], org_id)
            org.name = changes["name"]
        if "domains" in changes:
            details["joined"] = len(_set_domains(tx, org, changes["domains"]))
        if "notes" in changes:
            org.notes = changes["notes"]
        org.updated_at = tx.now
        tx.audit("organization.update", f"organization:{org_id}", details)

    await perform(ctx.db, ctx.bus, actor, work)


async def delete_organization(ctx: Context, actor: Actor, org_id: int) -> None:
    """Delete it; its contacts stay, without an organization."""
    _admin(actor)

    def work(tx: Tx) -> None:
        org = tx.session.get(Organization, org_id)
        if org is None:
            raise NotFound.of("organization")
        tx.conn.execute(update(Contact).where(Contact.organization_id == org_id).values(organization_id=None))
        tx.conn.execute(delete(OrganizationDomain).where(OrganizationDomain.organization_id == org_id))
        name = org.name
        tx.session.delete(org)
        tx.audit("organization.delete", f"organization:{org_id}", {"name": name})

    await perform(ctx.db, ctx.bus, actor, work)
