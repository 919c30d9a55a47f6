"""Surge detection through the store and the API: five similar messages across two
channels become one suggestion naming the service, four do not, ordinary traffic does
not; accepting opens the major incident with them as children; dismiss. Both databases."""

from __future__ import annotations

from sqlalchemy import select

from inbox.actions import surge
from inbox.runtime.status_watch import StatusWatch, surge_settings
from inbox.store.models import Conversation, Event, IncidentSuggestion, Service, Team, Ticket, TicketAffected
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound

OUTAGE = [
    "Checkout is down, I can't pay for my order",
    "checkout gives an error when I try to pay",
    "El checkout está caído, no puedo pagar",
    "chekout broken?? cannot pay",
    "Is checkout broken? Payment fails every time",
]
ORDINARY = [
    "How do I change my billing address?",
    "¿Puedo pedir un reembolso del mes pasado?",
    "I want to cancel my subscription",
    "Do you ship to Canada?",
    "¿Cómo borro mi cuenta?",
    "Where is my invoice for March?",
    "Can I upgrade to the annual plan?",
    "¿Tenéis descuento para estudiantes?",
]


async def arrive(api: Api, texts: list[str], prefix: str) -> list[int]:
    """Each text from a different customer, alternating between two channels."""
    svc = api.services
    refs = [await add_channel(svc, f"{prefix}-mail"), await add_channel(svc, f"{prefix}-chat")]
    ids = []
    for n, text in enumerate(texts):
        [r] = await svc.ingestor.ingest(refs[n % 2], [inbound(f"{prefix}{n}", sender=f"{prefix}{n}@example.com", text=text)])
        ids.append(r.conversation_id)
    return ids


async def add_service(api: Api, name: str = "Checkout") -> int:
    async with api.services.db.transaction() as session:
        row = Service(name=name)
        session.add(row)
        await session.flush()
        return row.id


async def test_five_similar_messages_across_two_channels_make_one_suggestion_that_accepting_links(api: Api) -> None:
    svc, headers = api.services, api.auth(api.admin_token)
    service_id = await add_service(api)
    settings = surge_settings(svc.config)
    noise = await arrive(api, ORDINARY, "o")
    assert await surge.run_pass(svc.ctx, settings) == []  # ordinary traffic alone
    outage = await arrive(api, OUTAGE[:4], "s")
    assert await surge.run_pass(svc.ctx, settings) == []  # four are not a surge
    outage += await arrive(api, OUTAGE[4:], "t")
    [suggestion_id] = await surge.run_pass(svc.ctx, settings)
    assert await surge.run_pass(svc.ctx, settings) == []  # found once

    listed = (await api.client.get("/api/v1/incident-suggestions", headers=headers)).json()["items"]
    [item] = listed
    assert item["id"] == suggestion_id and item["status"] == "open" and item["name"] == "Checkout"
    assert item["node"] == {"type": "service", "id": service_id, "name": "Checkout"}
    assert sorted(c["id"] for c in item["conversations"]) == sorted(outage)
    assert not set(noise) & {c["id"] for c in item["conversations"]}
    assert {c["channel"] for c in item["conversations"]} >= {"s-mail", "s-chat"}
    async with svc.db.read() as session:
        [event] = (await session.scalars(select(Event).where(Event.type == "incident.suggested"))).all()
        assert event.payload["suggestion_id"] == suggestion_id and event.payload["name"] == "Checkout"

    # An agent who sees none of those conversations sees no suggestion (and cannot act on it).
    _, outsider = await add_agent(svc, "outsider@example.com")
    async with svc.db.transaction() as session:
        team = Team(name="Elsewhere")
        session.add(team)
        await session.flush()
        for c in await session.scalars(select(Conversation)):
            c.team_id = team.id
    assert (await api.client.get("/api/v1/incident-suggestions", headers=api.auth(outsider))).json()["items"] == []
    assert (await api.client.post(f"/api/v1/incident-suggestions/{suggestion_id}/accept", headers=api.auth(outsider))).status_code == 404

    accepted = await api.client.post(f"/api/v1/incident-suggestions/{suggestion_id}/accept", headers=headers)
    assert accepted.status_code == 201, accepted.text
    body = accepted.json()
    assert body["suggestion"]["status"] == "accepted" and len(body["children"]) == 4 and body["skipped_conversations"] == []
    async with svc.db.read() as session:
        parent = await session.get(Ticket, body["ticket"]["id"])
        assert parent is not None and parent.kind == "incident" and parent.priority == "P1" and parent.title == "Surge: Checkout"
        children = (await session.scalars(select(Ticket).where(Ticket.parent_id == parent.id))).all()
        assert parent.conversation_id == outage[0]  # the earliest message's conversation
        assert sorted(t.conversation_id for t in children) == sorted(outage[1:])
        affected = (await session.scalars(select(TicketAffected).where(TicketAffected.ticket_id == parent.id))).all()
        assert [(a.node_type, a.node_id) for a in affected] == [("service", service_id)]
    ticket = (await api.client.get(f"/api/v1/tickets/{parent.id}", headers=headers)).json()
    assert ticket["number"] == body["ticket"]["number"]
    again = await api.client.post(f"/api/v1/incident-suggestions/{suggestion_id}/accept", headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "suggestion_decided"
    # Linked now: more of the same no longer re-suggests them.
    assert await surge.run_pass(svc.ctx, settings) == []
    audit = (await api.client.get("/api/v1/audit?action=incident_suggestion.accept", headers=headers)).json()
    assert any(e["target"] == f"incident_suggestion:{suggestion_id}" for e in audit["items"])


async def test_dismiss_keeps_the_surge_out_and_bad_ids_are_404(api: Api) -> None:
    svc, headers = api.services, api.auth(api.admin_token)
    settings = surge_settings(svc.config)
    login = [
        "login page broken, cannot login",
        "login is broken for me",
        "Cannot login to my account since an hour",
        "The login keeps failing, password is right",
        "no puedo hacer login, da error",
    ]
    await arrive(api, login, "d")
    # The worker's pass (no [status] email_channel here: no update e-mails to send).
    [suggestion_id], sent = await StatusWatch(svc.ctx, svc.config).run_once()
    assert sent == 0
    row = (await api.client.get(f"/api/v1/incident-suggestions/{suggestion_id}", headers=headers)).json()
    assert row["name"] is None and row["node"] is None and len(row["conversations"]) == 5  # names no known service
    dismissed = await api.client.post(f"/api/v1/incident-suggestions/{suggestion_id}/dismiss", headers=headers)
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert await surge.run_pass(svc.ctx, settings) == []
    assert (await api.client.get("/api/v1/incident-suggestions?status=dismissed", headers=headers)).json()["items"][0][
        "id"
    ] == suggestion_id
    for path in ("/api/v1/incident-suggestions/999999", "/api/v1/incident-suggestions/99999999999999999999999"):
        assert (await api.client.get(path, headers=headers)).status_code in (404, 422)
    assert (await api.client.post("/api/v1/incident-suggestions/424242/accept", headers=headers)).status_code == 404
    assert (await api.client.get("/api/v1/incident-suggestions?status=bogus", headers=headers)).status_code == 422
    assert (await api.client.get("/api/v1/incident-suggestions?cursor=%%%", headers=headers)).status_code == 400
    async with svc.db.read() as session:
        assert (await session.scalar(select(IncidentSuggestion.status).where(IncidentSuggestion.id == suggestion_id))) == "dismissed"


async def test_banner_and_suggestions_page_accept_in_english_and_spanish(api: Api) -> None:
    from tests.fixtures.signin import form_csrf, sign_in

    svc = api.services
    await add_service(api)
    await add_agent(svc, "desk@example.com", password="correct horse battery")
    assert (await sign_in(api.client, "desk@example.com", "correct horse battery")).status_code == 303
    inbox = await api.client.get("/")
    assert "surge-banner" not in inbox.text
    await arrive(api, OUTAGE, "u")
    [suggestion_id] = await surge.run_pass(svc.ctx, surge_settings(svc.config))
    inbox = await api.client.get("/")
    assert 'href="/incidents/suggestions"' in inbox.text and "Possible major incident" in inbox.text
    page = await api.client.get("/incidents/suggestions")
    assert page.status_code == 200 and "Customers mention Checkout" in page.text and page.text.count("/conversations/") == 5
    es = await api.client.get("/incidents/suggestions", headers={"Accept-Language": "es"})
    assert "Aceptar" in es.text and "Descartar" in es.text and "Los clientes mencionan Checkout" in es.text
    forged = await api.client.post(f"/incidents/suggestions/{suggestion_id}/accept", data={"csrf": "nope"})
    assert forged.status_code == 403
    accepted = await api.client.post(f"/incidents/suggestions/{suggestion_id}/accept", data={"csrf": form_csrf(page.text)})
    assert accepted.status_code == 303 and accepted.headers["location"].startswith("/tickets/")
    ticket = await api.client.get(accepted.headers["location"])
    assert ticket.status_code == 200 and "Surge: Checkout" in ticket.text
    assert "surge-banner" not in (await api.client.get("/")).text
    again = await api.client.post(f"/incidents/suggestions/{suggestion_id}/dismiss", data={"csrf": form_csrf(page.text)})
    assert again.status_code == 409
    assert (await api.client.post("/incidents/suggestions/777/accept", data={"csrf": form_csrf(page.text)})).status_code == 404
