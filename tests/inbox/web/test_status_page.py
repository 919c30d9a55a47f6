"""The public status page through HTTP: states through dependencies, /status (en/es),
/status.json, the Atom feed, and e-mail subscription (confirm once, expired, tampered;
updates e-mailed through the outbox to confirmed subscribers only). Both databases.

The service desk's rows (services, items, dependencies, what an incident affects,
broadcasts) are inserted directly: their own actions are written elsewhere."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from inbox.actions import status as status_actions
from inbox.actions import tickets
from inbox.actions.runner import CLI
from inbox.runtime.services import Services
from inbox.runtime.status_watch import status_settings
from inbox.store.models import (
    Broadcast,
    ConfigItem,
    Contact,
    Conversation,
    Dependency,
    Message,
    OutboxItem,
    Service,
    ServiceSubscriber,
    StatusSubscriber,
    TicketAffected,
)
from tests.fixtures.inbox import add_channel, inbound, make_config

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
async def site(db_url: str) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    from inbox.web.app import create_app

    svc = Services.build(make_config(db_url, status={"email_channel": "mail", "title": "Acme status"}))
    await add_channel(svc, "mail", "email")
    transport = httpx.ASGITransport(app=create_app(svc))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield svc, client
    await svc.db.dispose()


async def add_graph(svc: Services) -> dict[str, tuple[str, int]]:
    """Checkout → Payments DB; Search (no dependency); Blog (no subscribers). Subscribers on the first two."""
    async with svc.db.transaction() as session:
        contact = Contact(name="Ana", email="ana@example.com")
        checkout, search, blog = Service(name="Checkout", description="Paying for orders"), Service(name="Search"), Service(name="Blog")
        session.add_all([contact, checkout, search, blog])
        await session.flush()
        db = ConfigItem(name="Payments DB", kind="database", service_id=checkout.id)
        session.add(db)
        await session.flush()
        session.add(Dependency(source_type="service", source_id=checkout.id, target_type="config_item", target_id=db.id))
        session.add_all([ServiceSubscriber(service_id=s.id, contact_id=contact.id) for s in (checkout, search)])
        return {"Checkout": ("service", checkout.id), "Search": ("service", search.id), "Payments DB": ("config_item", db.id)}


async def add_incident(svc: Services, n: int, affected: list[tuple[str, int]], impact: str = "medium", urgency: str = "medium") -> int:
    ref = await add_channel(svc, f"web{n}")
    [r] = await svc.ingestor.ingest(ref, [inbound(f"inc{n}", sender=f"c{n}@example.com", subject="Private words of a customer")])
    ticket_id = await tickets.open_ticket(svc.ctx, CLI, r.conversation_id, "incident", impact=impact, urgency=urgency)
    async with svc.db.transaction() as session:
        session.add_all([TicketAffected(ticket_id=ticket_id, node_type=t, node_id=i) for t, i in affected])
    return ticket_id


async def add_broadcast(svc: Services, ticket_id: int, text: str, public: bool = True) -> int:
    async with svc.db.transaction() as session:
        row = Broadcast(ticket_id=ticket_id, text=text, audience="affected", public=public)
        session.add(row)
        await session.flush()
        return row.id


async def test_states_come_from_open_incidents_through_dependencies(site: tuple[Services, httpx.AsyncClient]) -> None:
    svc, client = site
    nodes = await add_graph(svc)
    empty = (await client.get("/status.json")).json()
    assert empty["status"] == "operational"
    assert [s["name"] for s in empty["services"]] == ["Checkout", "Search"]  # Blog has no subscribers
    assert all(len(s["history"]) == 90 and s["uptime_90d"] == 1.0 for s in empty["services"])

    db_outage = await add_incident(svc, 1, [nodes["Payments DB"]], impact="high", urgency="high")  # P1 on what checkout runs on
    await add_broadcast(svc, db_outage, "We are restoring the payments database.")
    await add_broadcast(svc, db_outage, "Internal: do not show", public=False)
    body = (await client.get("/status.json")).json()
    states = {s["name"]: s["status"] for s in body["services"]}
    assert states == {"Checkout": "degraded", "Search": "operational"} and body["status"] == "degraded"
    [incident] = body["incidents"]
    assert incident["severity"] == "outage" and incident["status"] == "open"
    assert incident["affects"] == ["Payments DB"] and incident["services"] == ["Checkout"]
    assert [u["text"] for u in incident["updates"]] == ["We are restoring the payments database."]
    assert "Private words" not in json.dumps(body)  # an internal title never leaves
    checkout = next(s for s in body["services"] if s["name"] == "Checkout")
    assert checkout["history"][-1] == {"date": dt.datetime.now(dt.UTC).date().isoformat(), "status": "degraded"}

    direct = await add_incident(svc, 2, [nodes["Checkout"]], impact="high", urgency="medium")  # P2 on checkout itself
    assert {s["name"]: s["status"] for s in (await client.get("/status.json")).json()["services"]}["Checkout"] == "outage"
    for ticket_id in (db_outage, direct):
        await tickets.update_ticket(svc.ctx, CLI, ticket_id, tickets.TicketChanges(status="resolved"))
    after = (await client.get("/status.json")).json()
    assert after["status"] == "operational"
    assert {i["status"] for i in after["incidents"]} == {"resolved"}  # listed under past incidents
    assert next(s for s in after["services"] if s["name"] == "Checkout")["history"][-1]["status"] == "outage"  # today had one


async def test_page_in_english_and_spanish_and_the_feed_parses(site: tuple[Services, httpx.AsyncClient]) -> None:
    svc, client = site
    nodes = await add_graph(svc)
    ticket_id = await add_incident(svc, 1, [nodes["Search"]])
    await add_broadcast(svc, ticket_id, "Search is slow; we are on it.")
    await add_broadcast(svc, ticket_id, "A fix is rolling out.")
    en = await client.get("/status", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert en.status_code == 200 and '<html lang="en">' in en.text
    assert "Some systems are degraded" in en.text and "Degraded performance" in en.text and "A fix is rolling out." in en.text
    assert "Incident affecting Search" in en.text and "Private words" not in en.text
    assert en.text.count('<span class="') >= 180  # 90 history bars for each of the two services
    assert "script" not in en.text and "http" not in en.text.split("<body>")[1].replace("http://testserver", "")  # no CDN
    es = await client.get("/status", headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert '<html lang="es">' in es.text and "Rendimiento degradado" in es.text and "Suscribirme" in es.text
    switched = await client.get("/status?lang=en", headers={"Accept-Language": "es"})
    assert '<html lang="en">' in switched.text and "Español" in switched.text

    feed = await client.get("/status/feed.atom")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    assert root.tag == f"{ATOM}feed" and root.findtext(f"{ATOM}title") == "Acme status"
    assert root.find(f"{ATOM}id") is not None and root.find(f"{ATOM}updated") is not None
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}content") for e in entries] == ["A fix is rolling out.", "Search is slow; we are on it."]
    for entry in entries:
        assert entry.findtext(f"{ATOM}id") and entry.findtext(f"{ATOM}updated") and entry.findtext(f"{ATOM}title")
        dt.datetime.fromisoformat(entry.findtext(f"{ATOM}updated", "").replace("Z", "+00:00"))
    assert len({e.findtext(f"{ATOM}id") for e in entries}) == 2


def _link(text: str, path: str) -> str:
    match = re.search(rf"http://127\.0\.0\.1:8000({re.escape(path)}\?token=[^\s)\]]+)", text)
    assert match, text
    return match.group(1)


async def _emails(svc: Services, address: str) -> list[dict[str, Any]]:
    async with svc.db.read() as session:
        rows = await session.execute(
            select(Message.text, Message.delivery, OutboxItem.status, Conversation.status.label("conv"))
            .join(OutboxItem, OutboxItem.message_id == Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Contact.email == address)
            .order_by(Message.id)
        )
        return [dict(r._mapping) for r in rows]


async def test_subscribe_confirm_once_and_updates_go_to_confirmed_subscribers_only(site: tuple[Services, httpx.AsyncClient]) -> None:
    svc, client = site
    nodes = await add_graph(svc)
    posted = await client.post("/status/subscribe", data={"email": "Zoe@Example.com", "lang": "es"})
    assert posted.status_code == 303 and posted.headers["location"] == "/status?lang=es&subscribed=1"
    await client.post("/status/subscribe", data={"email": "lazy@example.com", "lang": "en"})  # never confirms
    [confirmation] = await _emails(svc, "zoe@example.com")
    assert confirmation["status"] == "pending" and confirmation["conv"] == "resolved"  # queued in the outbox; no inbox noise
    assert "Confirmar" in confirmation["text"] and "/status/unsubscribe?token=" in confirmation["text"]
    link = _link(confirmation["text"], "/status/confirm")

    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert (await client.get(tampered)).status_code == 400
    ok = await client.get(link)
    assert ok.status_code == 200 and "zoe@example.com" in ok.text
    again = await client.get(link)
    assert again.status_code == 409 and "already used" in again.text

    ticket_id = await add_incident(svc, 1, [nodes["Checkout"]])
    await add_broadcast(svc, ticket_id, "Checkout payments are failing; we are on it.")
    await add_broadcast(svc, ticket_id, "Agents only", public=False)
    settings = status_settings(svc.config)
    assert await status_actions.send_updates(svc.ctx, settings) == 1
    assert await status_actions.send_updates(svc.ctx, settings) == 0  # once per subscriber and broadcast
    mails = await _emails(svc, "zoe@example.com")
    assert len(mails) == 2 and "Checkout payments are failing" in mails[1]["text"] and "Agents only" not in mails[1]["text"]
    assert len(await _emails(svc, "lazy@example.com")) == 1  # only its confirmation: unconfirmed gets no updates

    unsubscribe = _link(mails[1]["text"], "/status/unsubscribe")
    form = await client.get(unsubscribe)
    assert form.status_code == 200 and 'method="post"' in form.text  # a GET changes nothing
    token = unsubscribe.split("token=", 1)[1]
    gone = await client.post("/status/unsubscribe", data={"token": token, "lang": "en"})
    assert gone.status_code == 200 and "unsubscribed" in gone.text
    assert (await client.post("/status/unsubscribe", data={"token": token})).status_code == 404
    async with svc.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(StatusSubscriber)) == 1


async def test_expired_link_bad_input_rate_limit_and_cross_site_posts(site: tuple[Services, httpx.AsyncClient]) -> None:
    svc, client = site
    async with svc.db.transaction() as session:
        row = StatusSubscriber(email="old@example.com", language="en", token="t" * 43)
        session.add(row)
        await session.flush()
        expired = status_actions.confirm_link(svc.ctx, row, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    answer = await client.get(expired.removeprefix("http://127.0.0.1:8000"))
    assert answer.status_code == 400 and "expired" in answer.text
    assert (await client.get("/status/confirm?token=" + "x" * 5000)).status_code == 400
    assert (await client.get("/status/confirm")).status_code == 400
    bad = await client.post("/status/subscribe", data={"email": "not an address"})
    assert bad.status_code == 422 and "valid e-mail" in bad.text
    assert (await client.post("/status/subscribe", data={"email": "a@b.co"}, headers={"Origin": "https://evil.example"})).status_code == 403
    codes = [(await client.post("/status/subscribe", data={"email": f"u{n}@example.com"})).status_code for n in range(6)]
    assert codes[:4] == [303, 303, 303, 303] and codes[-1] == 429  # 5 an hour per client, the bad one counted
