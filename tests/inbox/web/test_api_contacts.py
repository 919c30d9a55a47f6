"""Contacts list, search and editing; organizations with e-mail domains, and who joins them
(only a verified address: one the contact wrote from through an email channel)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from channels.base import InboundMessage, Sender
from inbox.store.models import AuditEntry, Contact, Conversation, Team
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound


async def contact_of(api: Api, conversation_id: int) -> Contact:
    async with api.services.db.read() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        contact = await session.get(Contact, conversation.contact_id)
        assert contact is not None
        return contact


async def last_audit(api: Api) -> AuditEntry:
    async with api.services.db.read() as session:
        entry = await session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
        assert entry is not None
        return entry


async def people(api: Api) -> dict[str, int]:
    """Ana by email, Bob by email, a widget-like visitor on the spool channel with a claimed email
    and a chat user with a username only: name -> contact id."""
    mail = await add_channel(api.services, "mail", "email")
    chat = await add_channel(api.services, "chat", "spool")
    ids: dict[str, int] = {}
    for key, channel, message in (
        ("ana", mail, inbound("a1", sender="ana@acme.example", name="Ana Pérez")),
        ("bob", mail, inbound("b1", sender="bob@other.example", name="Bob Stone")),
        ("visitor", chat, inbound("v1", sender="v:20Z_0JfT", email="eve@acme.example", verified=False)),
        ("tg", chat, InboundMessage(external_id="t1", sender=Sender(address="tg:777", name="Zed", username="zeddy"), text="Hi")),
    ):
        [result] = await api.services.ingestor.ingest(channel, [message])
        ids[key] = (await contact_of(api, result.conversation_id)).id
    return ids


async def test_contacts_are_listed_newest_first_paged_and_searched(api: Api) -> None:
    ids = await people(api)
    admin = api.auth(api.admin_token)
    first = (await api.client.get("/api/v1/contacts?limit=3", headers=admin)).json()
    assert [c["id"] for c in first["items"]] == [ids["tg"], ids["visitor"], ids["bob"]]
    rest = (await api.client.get(f"/api/v1/contacts?limit=3&cursor={first['next_cursor']}", headers=admin)).json()
    assert [c["id"] for c in rest["items"]] == [ids["ana"]] and rest["next_cursor"] is None

    async def search(q: str) -> list[int]:
        response = await api.client.get("/api/v1/contacts", params={"q": q}, headers=admin)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert await search("pérez") == [ids["ana"]]  # the name, any case
    assert await search("BOB@other") == [ids["bob"]]  # the email
    assert await search("zeddy") == [ids["tg"]]  # an identity's username
    assert await search("tg:7") == [ids["tg"]]  # an identity's address
    assert await search("0jft") == [ids["visitor"]]
    assert await search("100%_") == []  # LIKE wildcards are text
    assert (await api.client.get("/api/v1/contacts?cursor=nonsense", headers=admin)).status_code == 400
    assert (await api.client.get("/api/v1/contacts?q=" + "x" * 201, headers=admin)).status_code == 422


async def test_an_agent_finds_only_contacts_of_conversations_they_see(api: Api) -> None:
    ids = await people(api)
    async with api.services.db.transaction() as session:
        team = Team(name="vip")
        session.add(team)
        await session.flush()
        for conversation in (await session.scalars(select(Conversation).where(Conversation.contact_id == ids["ana"]))).all():
            conversation.team_id = team.id
    _, token = await add_agent(api.services, "outsider@example.com")
    agent = api.auth(token)
    listed = [c["id"] for c in (await api.client.get("/api/v1/contacts", headers=agent)).json()["items"]]
    assert ids["ana"] not in listed and ids["bob"] in listed
    assert (await api.client.get("/api/v1/contacts?q=ana", headers=agent)).json()["items"] == []
    hidden = await api.client.patch(f"/api/v1/contacts/{ids['ana']}", json={"name": "X"}, headers=agent)
    missing = await api.client.patch("/api/v1/contacts/999999", json={"name": "X"}, headers=agent)
    assert hidden.status_code == missing.status_code == 404 and hidden.json() == missing.json()
    assert (await contact_of_id(api, ids["ana"])).name == "Ana Pérez"


async def contact_of_id(api: Api, contact_id: int) -> Contact:
    async with api.services.db.read() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        return contact


async def test_patch_sets_and_clears_details_and_checks_them(api: Api) -> None:
    ids = await people(api)
    admin = api.auth(api.admin_token)
    org = (await api.client.post("/api/v1/organizations", json={"name": "Globex"}, headers=admin)).json()
    body: dict[str, Any] = {
        "name": " Ana P. ",
        "email": "Ana@Acme.Example",
        "phone": "+34 600 000 000",
        "organization": org["id"],
        "notes": "VIP",
    }
    response = await api.client.patch(f"/api/v1/contacts/{ids['bob']}", json=body, headers=admin)
    assert response.status_code == 200, response.text
    got = response.json()
    assert (got["name"], got["email"], got["phone"], got["organization"], got["notes"]) == (
        "Ana P.",
        "ana@acme.example",
        "+34 600 000 000",
        {"id": org["id"], "name": "Globex"},
        "VIP",
    )
    entry = await last_audit(api)
    assert (entry.action, entry.target) == ("contact.update", f"contact:{ids['bob']}")
    assert entry.details["organization_id"] == org["id"] and entry.details["phone"] == "+34 600 000 000"
    cleared = (
        await api.client.patch(f"/api/v1/contacts/{ids['bob']}", json={"organization": None, "notes": None, "phone": ""}, headers=admin)
    ).json()
    assert (cleared["organization"], cleared["notes"], cleared["phone"], cleared["name"]) == (None, None, None, "Ana P.")
    for bad, code in (
        ({"email": "not-an-address"}, "invalid_email"),
        ({"phone": "call me"}, "invalid_phone"),
        ({"organization": 424242}, "unknown_organization"),
    ):
        response = await api.client.patch(f"/api/v1/contacts/{ids['bob']}", json=bad, headers=admin)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["code"] == code
    for bad in ({"organization": "Globex"}, {"organization": 2**60}, {"name": "x" * 256}, {"surname": "x"}):
        assert (await api.client.patch(f"/api/v1/contacts/{ids['bob']}", json=bad, headers=admin)).status_code == 422
    assert (await contact_of_id(api, ids["bob"])).email == "ana@acme.example"


async def test_organizations_domains_are_unique_clean_and_admin_only(api: Api) -> None:
    admin = api.auth(api.admin_token)
    created = await api.client.post(
        "/api/v1/organizations", json={"name": "Acme", "domains": ["ACME.example", "@acme.example."]}, headers=admin
    )
    assert created.status_code == 201, created.text
    acme = created.json()
    assert acme["domains"] == ["acme.example"] and acme["members"] == []
    entry = await last_audit(api)
    assert (entry.action, entry.target) == ("organization.create", f"organization:{acme['id']}")
    clash = await api.client.post("/api/v1/organizations", json={"name": "Other", "domains": ["acme.example"]}, headers=admin)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "domain_taken"
    same_name = await api.client.post("/api/v1/organizations", json={"name": "ACME"}, headers=admin)
    assert same_name.status_code == 409
    for bad in (["not a domain"], ["localhost"], ["a..b"], ["-x.com"], ["1.2.3.4"]):
        response = await api.client.post("/api/v1/organizations", json={"name": "Bad", "domains": bad}, headers=admin)
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_domain", bad
    other = (await api.client.post("/api/v1/organizations", json={"name": "Other", "domains": ["other.example"]}, headers=admin)).json()
    moved = await api.client.patch(
        f"/api/v1/organizations/{other['id']}", json={"domains": ["other.example", "acme.example"]}, headers=admin
    )
    assert moved.status_code == 409
    _, token = await add_agent(api.services, "agent@example.com")
    agent = api.auth(token)
    assert [o["name"] for o in (await api.client.get("/api/v1/organizations", headers=agent)).json()["items"]] == ["Acme", "Other"]
    assert [o["name"] for o in (await api.client.get("/api/v1/organizations?q=other.ex", headers=agent)).json()["items"]] == ["Other"]
    assert (await api.client.post("/api/v1/organizations", json={"name": "Mine"}, headers=agent)).status_code == 403
    assert (await api.client.patch(f"/api/v1/organizations/{acme['id']}", json={"name": "Mine"}, headers=agent)).status_code == 403
    assert (await api.client.delete(f"/api/v1/organizations/{acme['id']}", headers=agent)).status_code == 403
    assert (await api.client.delete(f"/api/v1/organizations/{acme['id']}", headers=admin)).status_code == 204
    assert (await api.client.get(f"/api/v1/organizations/{acme['id']}", headers=admin)).status_code == 404
    # Its domain is free again.
    assert (
        await api.client.patch(f"/api/v1/organizations/{other['id']}", json={"domains": ["acme.example"]}, headers=admin)
    ).status_code == 200


async def test_verified_email_contacts_join_on_ingest_and_on_a_new_domain(api: Api) -> None:
    admin = api.auth(api.admin_token)
    acme = (await api.client.post("/api/v1/organizations", json={"name": "Acme", "domains": ["acme.example"]}, headers=admin)).json()
    ids = await people(api)  # Ana writes from ana@acme.example by email: she joins at once
    assert (await contact_of_id(api, ids["ana"])).organization_id == acme["id"]
    # The visitor only typed eve@acme.example: not verified, no organization.
    assert (await contact_of_id(api, ids["visitor"])).organization_id is None
    assert (await contact_of_id(api, ids["bob"])).organization_id is None
    other = (await api.client.post("/api/v1/organizations", json={"name": "Other"}, headers=admin)).json()
    patched = await api.client.patch(f"/api/v1/organizations/{other['id']}", json={"domains": ["Other.Example"]}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert [m["id"] for m in patched.json()["members"]] == [ids["bob"]] and patched.json()["contacts"] == 1
    entry = await last_audit(api)
    assert (entry.action, entry.details) == ("organization.update", {"domains": ["other.example"], "joined": 1})
    # An organization created with a domain takes the verified contacts on it; a contact already in one stays.
    await api.client.patch(f"/api/v1/organizations/{acme['id']}", json={"domains": []}, headers=admin)
    third = (await api.client.post("/api/v1/organizations", json={"name": "Third", "domains": ["acme.example"]}, headers=admin)).json()
    assert [m["id"] for m in third["members"]] == []  # Ana stays in Acme
    assert (await contact_of_id(api, ids["ana"])).organization_id == acme["id"]
    assert (await contact_of_id(api, ids["visitor"])).organization_id is None
