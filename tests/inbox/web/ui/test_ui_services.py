"""The service desk pages: services and items (list, detail with impact and subscribers,
admin forms, provisioned read-only), and an incident's affected field, affected customers
and broadcast form with its delivery report — in English and Spanish."""

from __future__ import annotations

from sqlalchemy import func, select, update

from inbox.store.models import AuditEntry, BroadcastRecipient, ConfigItem, Conversation, Service
from tests.fixtures.inbox import Api, add_channel, inbound
from tests.inbox.web.ui.test_ui_pages import sign_in


async def test_services_pages_affected_and_broadcast(api: Api) -> None:
    csrf = await sign_in(api, "admin@example.com", role="admin")
    page = await api.client.get("/services")
    assert page.status_code == 200 and 'href="/services" aria-current="page"' in page.text and "No services yet." in page.text
    made = await api.client.post("/services", data={"csrf": csrf, "name": "Checkout", "criticality": "high"})
    assert made.status_code == 303
    checkout_url = made.headers["location"]
    item = await api.client.post("/config-items", data={"csrf": csrf, "name": "pg-main", "kind": "database", "service": "Checkout"})
    assert item.status_code == 303
    clash = await api.client.post("/config-items", data={"csrf": csrf, "name": "Checkout"})
    assert clash.status_code == 409 and 'value="Checkout"' in clash.text
    cycle = await api.client.post(
        item.headers["location"],
        data={"csrf": csrf, "name": "pg-main", "kind": "database", "service": "Checkout", "depends_on": "Checkout"},
    )
    assert cycle.status_code == 422 and "pg-main → Checkout → pg-main" in cycle.text
    detail = await api.client.get(item.headers["location"])
    assert detail.status_code == 200 and "What depends on it" in detail.text and 'href="' + checkout_url + '"' in detail.text
    # Spanish.
    es = await api.client.get(checkout_url, headers={"Accept-Language": "es"})
    assert "Impacto" in es.text and "De qué depende" in es.text and "pg-main" in es.text
    # An incident names what it affects; its customers and a broadcast.
    web = await add_channel(api.services, "web", "widget")
    [wrote] = await api.services.ingestor.ingest(web, [inbound("w1", sender="ann@example.com", text="checkout is down")])
    contact_id = await api.services.db.query(lambda s: s.get(Conversation, wrote.conversation_id).contact_id)
    service_id = int(checkout_url.rsplit("/", 1)[1])
    assert (await api.client.post(f"{checkout_url}/subscribers", data={"csrf": csrf, "contact": str(contact_id)})).status_code == 303
    ticket = await api.client.post(
        f"/api/v1/conversations/{wrote.conversation_id}/ticket", json={"kind": "incident"}, headers=api.auth(api.admin_token)
    )
    ticket_id = ticket.json()["id"]
    assert (await api.client.post(f"/tickets/{ticket_id}/affected", data={"csrf": csrf, "affected": "pg-main"})).status_code == 303
    shown = await api.client.get(f"/tickets/{ticket_id}")
    assert 'value="pg-main"' in shown.text and "Affected customers (1)" in shown.text and "Checkout ← pg-main" in shown.text
    key = shown.text.split('name="key" value="', 1)[1].split('"', 1)[0]
    form = {"csrf": csrf, "key": key, "text": "We are fixing checkout.", "audience": "affected", "public": "1"}
    for _ in range(2):  # a double submit sends once
        assert (await api.client.post(f"/tickets/{ticket_id}/broadcast", data=form)).status_code == 303
    assert await api.services.db.query(lambda s: s.scalar(select(func.count()).select_from(BroadcastRecipient))) == 1
    report = await api.client.get(f"/tickets/{ticket_id}", headers={"Accept-Language": "es"})
    assert "Entrega por canal" in report.text and "<td>web</td><td>0</td><td>1</td><td>0</td>" in report.text
    # Provisioned: shown without the edit form.
    async with api.services.db.transaction() as session:
        await session.execute(update(Service).where(Service.id == service_id).values(provisioned=True))
    frozen = await api.client.get(checkout_url)
    assert "read-only" in frozen.text and 'action="' + checkout_url + '"' not in frozen.text
    refused = await api.client.post(checkout_url, data={"csrf": csrf, "name": "Checkout", "criticality": "low"})
    assert refused.status_code == 409
    actions = set(await api.services.db.query(lambda s: s.scalars(select(AuditEntry.action)).all()))
    assert {
        "service.create",
        "config_item.create",
        "service.subscribe",
        "ticket.update",
        "broadcast.create",
        "broadcast.deliver",
    } <= actions
    assert await api.services.db.query(lambda s: s.scalar(select(func.count()).select_from(ConfigItem))) == 1


async def test_agents_read_but_do_not_change_services(api: Api) -> None:
    csrf = await sign_in(api, "agent@example.com")
    assert (await api.client.get("/services")).status_code == 200
    assert "New service" not in (await api.client.get("/services")).text
    assert (await api.client.post("/services", data={"csrf": csrf, "name": "Mine"})).status_code == 403
    assert (await api.client.get("/services/99999999")).status_code == 404
