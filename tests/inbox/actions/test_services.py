"""Services and configuration items (issue 21): the graph's writes (names, cycles, admin
only, provisioned read-only), impact, subscribers, what an incident affects, affected
customers through the graph, and broadcasts exactly once per customer (retries included)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from inbox.actions import services as actions
from inbox.actions.runner import CLI, Actor, perform
from inbox.store.models import (
    AuditEntry,
    Broadcast,
    BroadcastRecipient,
    Contact,
    Conversation,
    Message,
    Organization,
    OutboxItem,
    Service,
    Team,
)
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound, make_config


async def _post(api: Api, path: str, body: dict[str, Any], status: int = 201, token: str | None = None) -> dict[str, Any]:
    response = await api.client.post(path, json=body, headers=api.auth(token or api.admin_token))
    assert response.status_code == status, response.text
    return dict(response.json())


async def _graph(api: Api) -> dict[str, int]:
    """Checkout → (API, Payments); Payments → Stripe; API runs on db-1 (its service's item)."""
    ids = {}
    ids["Payments"] = (await _post(api, "/api/v1/services", {"name": "Payments", "criticality": "high"}))["id"]
    ids["Stripe"] = (await _post(api, "/api/v1/config-items", {"name": "Stripe", "kind": "saas"}))["id"]
    await api.client.patch(f"/api/v1/services/{ids['Payments']}", json={"depends_on": ["Stripe"]}, headers=api.auth(api.admin_token))
    ids["API"] = (await _post(api, "/api/v1/services", {"name": "API"}))["id"]
    ids["db-1"] = (
        await _post(api, "/api/v1/config-items", {"name": "db-1", "kind": "database", "service": "API", "attributes": {"host": "db1"}})
    )["id"]
    ids["Checkout"] = (await _post(api, "/api/v1/services", {"name": "Checkout", "depends_on": ["API", "Payments"]}))["id"]
    return ids


async def test_graph_crud_names_cycles_impact_and_roles(api: Api) -> None:
    headers = api.auth(api.admin_token)
    async with api.services.db.transaction() as session:
        session.add(Team(name="platform"))
    ids = await _graph(api)
    checkout = (await api.client.get(f"/api/v1/services/{ids['Checkout']}", headers=headers)).json()
    assert (checkout["depends_on"], checkout["criticality"], checkout["provisioned"]) == (["API", "Payments"], "medium", False)
    item = (await api.client.get(f"/api/v1/config-items/{ids['db-1']}", headers=headers)).json()
    assert (item["service"], item["kind"], item["attributes"]) == ("API", "database", {"host": "db1"})
    # Names are unique across services and items.
    clash = await api.client.post("/api/v1/config-items", json={"name": "Checkout"}, headers=headers)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "name_taken"
    clash = await api.client.patch(f"/api/v1/services/{ids['API']}", json={"name": "Stripe"}, headers=headers)
    assert clash.status_code == 409
    unknown = await api.client.post("/api/v1/services", json={"name": "X", "depends_on": ["nope"]}, headers=headers)
    assert unknown.status_code == 422 and "nope" in unknown.text
    # A cycle is refused, naming the path — also one closed through an item's own service.
    cycle = await api.client.patch(f"/api/v1/config-items/{ids['Stripe']}", json={"depends_on": ["Checkout"]}, headers=headers)
    assert cycle.status_code == 422, cycle.text
    assert cycle.json()["error"]["message"].endswith("Stripe → Checkout → Payments → Stripe")
    through_service = await api.client.patch(f"/api/v1/config-items/{ids['db-1']}", json={"depends_on": ["API"]}, headers=headers)
    assert through_service.status_code == 422 and "db-1 → API → db-1" in through_service.text
    selfish = await api.client.patch(f"/api/v1/services/{ids['API']}", json={"depends_on": ["API"]}, headers=headers)
    assert selfish.status_code == 422
    # Impact: both ways, transitively, with distance.
    impact = (await api.client.get(f"/api/v1/config-items/{ids['Stripe']}/impact", headers=headers)).json()
    assert [(d["name"], d["distance"]) for d in impact["dependents"]] == [("Payments", 1), ("Checkout", 2)]
    impact = (await api.client.get(f"/api/v1/services/{ids['Checkout']}/impact", headers=headers)).json()
    assert [(d["name"], d["type"], d["distance"]) for d in impact["depends_on"]] == [
        ("API", "service", 1),
        ("Payments", "service", 1),
        ("Stripe", "config_item", 2),
        ("db-1", "config_item", 2),
    ]
    assert impact["dependents"] == []
    # Agents read; only admins write.
    _, agent = await add_agent(api.services, "ana@example.com")
    listed = (await api.client.get("/api/v1/services", headers=api.auth(agent))).json()["items"]
    assert [s["name"] for s in listed] == ["API", "Checkout", "Payments"]
    assert len((await api.client.get("/api/v1/config-items", headers=api.auth(agent))).json()["items"]) == 2
    assert (await api.client.post("/api/v1/services", json={"name": "Mine"}, headers=api.auth(agent))).status_code == 403
    assert (await api.client.patch(f"/api/v1/services/{ids['API']}", json={"team": "platform"}, headers=api.auth(agent))).status_code == 403
    patched = await api.client.patch(f"/api/v1/services/{ids['API']}", json={"team": "platform", "criticality": "low"}, headers=headers)
    assert (patched.json()["team"], patched.json()["criticality"]) == ("platform", "low")
    assert (await api.client.patch(f"/api/v1/services/{ids['API']}", json={"team": "ghosts"}, headers=headers)).status_code == 422
    assert (await api.client.post("/api/v1/services", json={"name": "Z", "criticality": "huge"}, headers=headers)).status_code == 422
    assert (await api.client.get("/api/v1/services/99999999", headers=headers)).status_code == 404
    assert (await api.client.get("/api/v1/config-items/0", headers=headers)).status_code in (404, 422)
    # Provisioned ones are read-only.
    async with api.services.db.transaction() as session:
        await session.execute(update(Service).where(Service.id == ids["Payments"]).values(provisioned=True))
    frozen = await api.client.patch(f"/api/v1/services/{ids['Payments']}", json={"description": "x"}, headers=headers)
    assert frozen.status_code == 409 and "config file" in frozen.json()["error"]["message"]
    assert (await api.client.delete(f"/api/v1/services/{ids['Payments']}", headers=headers)).status_code == 409
    renamed = await api.client.patch(f"/api/v1/config-items/{ids['Stripe']}", json={"attributes": {"plan": "pro"}}, headers=headers)
    assert renamed.status_code == 200 and renamed.json()["attributes"] == {"plan": "pro"}
    # Deleting an item drops its edges.
    assert (await api.client.delete(f"/api/v1/config-items/{ids['db-1']}", headers=headers)).status_code == 204
    impact = (await api.client.get(f"/api/v1/services/{ids['Checkout']}/impact", headers=headers)).json()
    assert "db-1" not in [d["name"] for d in impact["depends_on"]]
    async with api.services.db.read() as session:
        actions_seen = set(await session.scalars(select(AuditEntry.action)))
    assert {"service.create", "service.update", "config_item.create", "config_item.update", "config_item.delete"} <= actions_seen


async def _customers(api: Api) -> tuple[list[int], int, list[int]]:
    """Three customers who wrote on three channels, one contact who never wrote, and an
    organization of two more; returns (contacts who wrote, org id, org contacts)."""
    web = await add_channel(api.services, "web", "widget")
    chat = await add_channel(api.services, "chat")
    await add_channel(api.services, "mail", "email")
    a = await api.services.ingestor.ingest(web, [inbound("w1", sender="ann@example.com", text="hi")])
    b = await api.services.ingestor.ingest(chat, [inbound("c1", sender="bo", name="Bo", text="hey")])
    async with api.services.db.transaction() as session:
        org = Organization(name="Acme", domains=["acme.test"])
        session.add(org)
        await session.flush()
        members = [Contact(name=f"Acme {i}", email=f"p{i}@acme.test", organization_id=org.id) for i in range(2)]
        session.add_all(members)
        await session.flush()
        wrote = []
        for r in (a[0], b[0]):
            wrote.append((await session.get(Conversation, r.conversation_id)).contact_id)
        return wrote, org.id, [m.id for m in members]


async def test_affected_customers_through_the_graph_and_broadcast_exactly_once(api: Api) -> None:
    headers = api.auth(api.admin_token)
    ids = await _graph(api)
    wrote, org_id, members = await _customers(api)
    await _post(api, f"/api/v1/services/{ids['Checkout']}/subscribers", {"organization_id": org_id})
    sub = await _post(api, f"/api/v1/services/{ids['Payments']}/subscribers", {"contact_id": wrote[0]})
    await _post(api, f"/api/v1/services/{ids['API']}/subscribers", {"contact_id": wrote[1]})
    again = await api.client.post(f"/api/v1/services/{ids['API']}/subscribers", json={"contact_id": wrote[1]}, headers=headers)
    assert again.status_code == 409
    both = await api.client.post(
        f"/api/v1/services/{ids['API']}/subscribers", json={"contact_id": wrote[1], "organization_id": org_id}, headers=headers
    )
    assert both.status_code == 422
    subs = (await api.client.get(f"/api/v1/services/{ids['Checkout']}/subscribers", headers=headers)).json()["items"]
    assert subs == [{"id": subs[0]["id"], "organization_id": org_id, "organization": "Acme"}]
    # An incident on Stripe (an item) reaches Payments and Checkout, not API.
    incident_conv = (await api.services.ingestor.ingest(await add_channel(api.services, "ops"), [inbound("o1", sender="ops@example.com")]))[
        0
    ]
    ticket = await _post(api, f"/api/v1/conversations/{incident_conv.conversation_id}/ticket", {"kind": "incident"})
    patched = await api.client.patch(f"/api/v1/tickets/{ticket['id']}", json={"affected": ["Stripe"]}, headers=headers)
    assert patched.status_code == 200 and patched.json()["affected"] == ["Stripe"]
    bad = await api.client.patch(f"/api/v1/tickets/{ticket['id']}", json={"affected": ["Nope"]}, headers=headers)
    assert bad.status_code == 422 and "Nope" in bad.text
    reached = (await api.client.get(f"/api/v1/tickets/{ticket['id']}/affected-customers", headers=headers)).json()["items"]
    by_id = {r["contact_id"]: r["why"] for r in reached}
    assert set(by_id) == {wrote[0], *members}
    assert by_id[wrote[0]] == [{"service": "Payments", "via": "Stripe"}]
    assert by_id[members[0]] == [{"service": "Checkout", "via": "Stripe", "organization": "Acme"}]
    # Broadcast: one reply each, on the channel they wrote on, or email for who never wrote.
    body = {"text": "Payments are **degraded**; we are on it.", "audience": "affected", "public": True}
    key = {"Idempotency-Key": "b-1", **headers}
    first = await api.client.post(f"/api/v1/tickets/{ticket['id']}/broadcast", json=body, headers=key)
    assert first.status_code == 201, first.text
    retry = await api.client.post(f"/api/v1/tickets/{ticket['id']}/broadcast", json=body, headers=key)
    assert retry.status_code == 200 and retry.json()["id"] == first.json()["id"]
    other = await api.client.post(f"/api/v1/tickets/{ticket['id']}/broadcast", json={**body, "text": "else"}, headers=key)
    assert other.status_code == 409
    report = (await api.client.get(f"/api/v1/tickets/{ticket['id']}/broadcasts", headers=headers)).json()["items"]
    assert len(report) == 1 and report[0]["complete"] and report[0]["recipients"] == 3 and report[0]["skipped"] == 0
    assert {(c["channel"], c["queued"] + c["sent"]) for c in report[0]["channels"]} == {("web", 1), ("mail", 2)}
    async with api.services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(BroadcastRecipient)) == 3
        mails = list(await session.scalars(select(Message).join(BroadcastRecipient, BroadcastRecipient.message_id == Message.id)))
        assert len(mails) == 3 and all("<strong>degraded</strong>" in (m.html or "") for m in mails)
        outbox = await session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.message_id.in_([m.id for m in mails])))
        assert outbox == 2  # the widget delivers on commit; the two emails go through the outbox
    # Child incidents' contacts: the "children" audience; a contact reached twice is sent once.
    child = await _post(api, f"/api/v1/conversations/{(await _chat_conversation(api, wrote[1]))}/ticket", {"kind": "incident"})
    await _post(api, f"/api/v1/tickets/{ticket['id']}/children", {"children": [child["id"]]}, status=200)
    reached = (await api.client.get(f"/api/v1/tickets/{ticket['id']}/affected-customers", headers=headers)).json()["items"]
    assert {r["contact_id"] for r in reached} == {wrote[0], wrote[1], *members}
    kids = await _post(api, f"/api/v1/tickets/{ticket['id']}/broadcast", {"text": "Fixed soon", "audience": "children"})
    assert kids["recipients"] == 1 and [c["channel"] for c in kids["channels"]] == ["chat"]
    # Unsubscribe; a subscriber of another service is 404.
    gone = await api.client.delete(f"/api/v1/services/{ids['API']}/subscribers/{sub['id']}", headers=headers)
    assert gone.status_code == 404
    assert (await api.client.delete(f"/api/v1/services/{ids['Payments']}/subscribers/{sub['id']}", headers=headers)).status_code == 204


async def _chat_conversation(api: Api, contact_id: int) -> int:
    async with api.services.db.read() as session:
        found = await session.scalar(select(Conversation.id).where(Conversation.contact_id == contact_id))
        assert found is not None
        return found


async def test_hidden_tickets_stay_404_and_a_crash_between_batches_resumes(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(actions, "BATCH", 5)  # small batches: the same code, fewer customers
    headers = api.auth(api.admin_token)
    ids = await _graph(api)
    mail = await add_channel(api.services, "mail", "email")
    results = await api.services.ingestor.ingest(
        mail, [inbound(f"<m{i}@x>", sender=f"c{i}@example.com") for i in range(actions.BATCH * 2 + 3)]
    )
    async with api.services.db.transaction() as session:
        team = Team(name="secret")
        session.add(team)
        await session.flush()
        contacts = list(await session.scalars(select(Conversation.contact_id).order_by(Conversation.id)))
        hidden_conv = results[0].conversation_id
        (await session.get(Conversation, hidden_conv)).team_id = team.id
    for contact_id in contacts:
        await actions.add_subscriber(api.services.ctx, CLI, ids["Payments"], contact_id=contact_id)
    ticket = await _post(api, f"/api/v1/conversations/{hidden_conv}/ticket", {"kind": "incident"})
    await api.client.patch(f"/api/v1/tickets/{ticket['id']}", json={"affected": ["Payments"]}, headers=headers)
    _, agent = await add_agent(api.services, "ana@example.com")
    for method, path, body in (
        ("GET", f"/api/v1/tickets/{ticket['id']}/affected-customers", None),
        ("GET", f"/api/v1/tickets/{ticket['id']}/broadcasts", None),
        ("POST", f"/api/v1/tickets/{ticket['id']}/broadcast", {"text": "x"}),
        ("PATCH", f"/api/v1/tickets/{ticket['id']}", {"affected": ["API"]}),
    ):
        response = await api.client.request(method, path, json=body, headers=api.auth(agent))
        assert response.status_code == 404, (method, path, response.text)
    # A crash after the broadcast row and the first batch: resuming writes only the rest.
    async with api.services.db.transaction() as session:
        row = Broadcast(ticket_id=ticket["id"], text="Down", audience="affected", public=True)
        session.add(row)
        await session.flush()
        broadcast_id = row.id
    done = await perform(api.services.db, api.services.bus, Actor.system("broadcast"), lambda tx: actions._batch(tx, broadcast_id))
    assert done is False
    async with api.services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(BroadcastRecipient)) == actions.BATCH
    assert await actions.resume_broadcasts(api.services.ctx) == 1
    assert await actions.resume_broadcasts(api.services.ctx) == 0
    async with api.services.db.read() as session:
        per_contact = (
            await session.execute(select(BroadcastRecipient.contact_id, func.count()).group_by(BroadcastRecipient.contact_id))
        ).all()
        assert len(per_contact) == len(contacts) and {n for _, n in per_contact} == {1}
        messages = await session.scalar(select(func.count(func.distinct(BroadcastRecipient.message_id))))
        assert messages == len(contacts)


async def test_config_file_provisions_read_only_services_and_items(api: Api, db_url: str) -> None:
    from inbox.config import ConfigError
    from inbox.runtime.provision import provision_service_desk

    headers = api.auth(api.admin_token)
    await _post(api, "/api/v1/services", {"name": "Portal"})  # made in the UI: left alone
    services = [
        {"name": "Mail", "criticality": "high", "depends_on": ["mx-1", "Portal", "ghost"]},
        {"name": "Old", "description": "goes"},
    ]
    items = [{"name": "mx-1", "kind": "server", "service": "Mail", "attributes": {"ip": "10.0.0.1"}}]
    await provision_service_desk(api.services.db, make_config(db_url, services=services, config_items=items))
    listed = {s["name"]: s for s in (await api.client.get("/api/v1/services", headers=headers)).json()["items"]}
    # "ghost" names nothing: skipped with a warning; the rest is provisioned.
    assert listed["Mail"]["provisioned"] and listed["Mail"]["criticality"] == "high" and "Portal" in listed["Mail"]["depends_on"]
    assert not listed["Portal"]["provisioned"] and listed["Old"]["provisioned"]
    mx = (await api.client.get("/api/v1/config-items", headers=headers)).json()["items"][0]
    assert (mx["name"], mx["service"], mx["provisioned"], mx["attributes"]) == ("mx-1", "Mail", True, {"ip": "10.0.0.1"})
    refused = await api.client.patch(f"/api/v1/services/{listed['Mail']['id']}", json={"criticality": "low"}, headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "provisioned"
    assert (await api.client.patch(f"/api/v1/config-items/{mx['id']}", json={"kind": "other"}, headers=headers)).status_code == 409
    # The next start: Old is gone from the file, so from the store; Mail changes.
    await provision_service_desk(
        api.services.db, make_config(db_url, services=[{"name": "Mail", "criticality": "low"}], config_items=items)
    )
    listed = {s["name"]: s for s in (await api.client.get("/api/v1/services", headers=headers)).json()["items"]}
    assert set(listed) == {"Mail", "Portal"} and listed["Mail"]["criticality"] == "low" and listed["Mail"]["depends_on"] == []
    try:
        make_config(db_url, services=[{"name": "A"}], config_items=[{"name": "A"}, {"name": "b", "service": "nope"}])
    except ConfigError as exc:
        assert "'A' is used twice" in str(exc) and "config_items[1].service" in str(exc)
    else:
        raise AssertionError("a duplicate name must be refused")
