"""Contacts: changing a contact's details, and merging two records of the same person into one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Invalid, NotFound
from inbox.queries.contacts import find_visible_contact
from inbox.store.models import ContactIdentity, Conversation, Message, Organization


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


MAX_NAME = 255
MAX_EMAIL = 320
MAX_PHONE = 64
MAX_NOTES = 10_000
CONTACT_FIELDS = ("name", "email", "phone", "organization", "notes")


def _text(field: str, value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{field}: a string or null", code="invalid_" + field)
    value = value.strip()
    if len(value) > limit:
        raise Invalid(f"{field}: at most {limit} characters", code="invalid_" + field)
    return value or None


def clean_contact_changes(raw: dict[str, Any]) -> dict[str, Any]:
    """The changes of a contact patch, checked: `name`, `email`, `phone`, `notes` (a string,
    or null / "" to clear) and `organization` (an organization's id, or null to clear it)."""
    unknown = sorted(set(raw) - set(CONTACT_FIELDS))
    if unknown:
        raise Invalid(f"unknown field {unknown[0]!r} (known: {', '.join(CONTACT_FIELDS)})")
    out: dict[str, Any] = {}
    if "name" in raw:
        out["name"] = _text("name", raw["name"], MAX_NAME)
    if "email" in raw:
        email = _text("email", raw["email"], MAX_EMAIL)
        if email is not None:
            email = email.lower()
            local, at, domain = email.partition("@")
            if not at or not local or "." not in domain or "@" in domain or any(c.isspace() for c in email):
                raise Invalid(f"email: {email[:80]!r} is not an email address", code="invalid_email")
        out["email"] = email
    if "phone" in raw:
        phone = _text("phone", raw["phone"], MAX_PHONE)
        if phone is not None and not all(c.isdigit() or c in " +-().x/" for c in phone):
            raise Invalid("phone: digits, spaces and + - ( ) . x / only", code="invalid_phone")
        out["phone"] = phone
    if "notes" in raw:
        out["notes"] = _text("notes", raw["notes"], MAX_NOTES)
    if "organization" in raw:
        org = raw["organization"]
        if org is not None and (isinstance(org, bool) or not isinstance(org, int) or not 0 < org < 2**53):
            raise Invalid("organization: an organization's id, or null", code="invalid_organization")
        out["organization_id"] = org
    return out


async def update_contact(ctx: Context, actor: Actor, contact_id: int, raw: dict[str, Any]) -> dict[str, Any]:
    """Change the given details of a contact the actor may see; the changes as audited.
    An organization id that does not exist is refused (422 `unknown_organization`)."""
    changes = clean_contact_changes(raw)

    def work(tx: Tx) -> dict[str, Any]:
        contact = find_visible_contact(tx.session, actor.principal, contact_id)
        if contact is None:
            raise NotFound.of("contact")
        if contact.merged_into_id is not None:
            raise Conflict("that contact was merged into another; change that one", code="contact_merged")
        org_id = changes.get("organization_id")
        if org_id is not None and tx.session.get(Organization, org_id) is None:
            raise Invalid(f"organization: no organization #{org_id}", code="unknown_organization")
        done = {k: v for k, v in changes.items() if getattr(contact, k) != v}
        for key, value in done.items():
            setattr(contact, key, value)
        tx.audit("contact.update", f"contact:{contact_id}", done)
        return done

    return await perform(ctx.db, ctx.bus, actor, work)
