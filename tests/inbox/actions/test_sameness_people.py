"""Editing a contact and creating an organization through the API and the UI: the same action,
audit entry and stored result."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from inbox.store.models import Contact, Conversation, Organization
from tests.fixtures.inbox import add_channel, inbound
from tests.fixtures.surfaces import Surfaces, surfaces  # noqa: F401  (the fixture)

BOTH = ["api", "ui"]


@pytest.mark.parametrize("surface", BOTH)
async def test_contact_update_and_organization_create_are_one_action(surfaces: Surfaces, surface: str) -> None:
    services = surfaces.api.services
    channel = await add_channel(services, "mail", "email")
    [result] = await services.ingestor.ingest(channel, [inbound("m1", sender="ana@acme.example", name="Ana")])
    async with services.db.read() as session:
        contact_id = (await session.get(Conversation, result.conversation_id)).contact_id  # type: ignore[union-attr]
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/organizations", json={"name": "Acme", "domains": ["acme.example"]})
        assert response.status_code == 201, response.text
    else:
        response = await surfaces.form("/organizations", {"name": "Acme", "domains": "acme.example", "notes": ""})
        assert response.status_code == 303, response.text
    async with services.db.read() as session:
        org = await session.scalar(select(Organization))
        assert org is not None
    last = await surfaces.last_audit()
    assert (last.action, last.target, last.details) == (
        "organization.create",
        f"organization:{org.id}",
        {"name": "Acme", "domains": ["acme.example"], "joined": 1},
    )
    details = {"name": "Ana Pérez", "email": "ana@acme.example", "phone": "+34 600 000 000", "notes": "Prefers mornings"}
    if surface == "api":
        response = await surfaces.call("PATCH", f"/api/v1/contacts/{contact_id}", json={**details, "organization": None})
        assert response.status_code == 200, response.text
    else:
        response = await surfaces.form(f"/contacts/{contact_id}", {**details, "organization": ""})
        assert response.status_code == 303, response.text
    last = await surfaces.last_audit()
    assert (last.action, last.target, last.details) == (
        "contact.update",
        f"contact:{contact_id}",
        {"name": "Ana Pérez", "phone": "+34 600 000 000", "notes": "Prefers mornings", "organization_id": None},
    )
    async with services.db.read() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        assert (contact.name, contact.email, contact.phone, contact.notes, contact.organization_id) == (
            "Ana Pérez",
            "ana@acme.example",
            "+34 600 000 000",
            "Prefers mornings",
            None,
        )
