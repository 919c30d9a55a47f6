"""Another team's conversations, tickets, incidents and contacts, by id: every desk route of the
API and the UI answers 404 (one message, whatever the object is) and changes nothing."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from inbox.store.models import AuditEntry, Contact, Conversation, Message, Problem, Team, Ticket
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound
from tests.fixtures.signin import sign_in

PASSWORD = "a long password 1"


async def setup(api: Api) -> dict[str, Any]:
    """A "vip" team's conversation with an incident and one with a request; the outsider's own
    (unteamed) conversation with an incident; a problem grouping the vip incident."""
    channel = await add_channel(api.services, "mail", "email")
    ids = {}
    for key, sender in (("vip", "ceo@example.com"), ("vip_request", "cfo@example.com"), ("own", "ana@example.com")):
        [r] = await api.services.ingestor.ingest(channel, [inbound(key, sender=sender, subject=f"Secret {key}")])
        ids[key] = r.conversation_id
    admin = api.auth(api.admin_token)
    tickets = {}
    for key, kind in (("vip", "incident"), ("vip_request", "request"), ("own", "incident")):
        response = await api.client.post(f"/api/v1/conversations/{ids[key]}/ticket", json={"kind": kind}, headers=admin)
        tickets[key] = response.json()
    problem = (
        await api.client.post("/api/v1/problems", json={"title": "Disk full", "incidents": [tickets["vip"]["id"]]}, headers=admin)
    ).json()
    async with api.services.db.transaction() as session:
        team = Team(name="vip")
        session.add(team)
        await session.flush()
        for key in ("vip", "vip_request"):
            conversation = await session.get(Conversation, ids[key])
            assert conversation is not None
            conversation.team_id = team.id
    async with api.services.db.read() as session:
        contacts = {key: (await session.get(Conversation, cid)).contact_id for key, cid in ids.items()}  # type: ignore[union-attr]
    _, token = await add_agent(api.services, "outsider@example.com", password=PASSWORD)
    return {"conversations": ids, "tickets": tickets, "problem": problem, "contacts": contacts, "token": token}


async def snapshot(api: Api) -> list[Any]:
    async with api.services.db.read() as session:
        conversations = (
            await session.execute(
                select(Conversation.id, Conversation.status, Conversation.assignee_id, Conversation.tags, Conversation.contact_id).order_by(
                    Conversation.id
                )
            )
        ).all()
        tickets = (
            await session.execute(select(Ticket.id, Ticket.status, Ticket.parent_id, Ticket.problem_id, Ticket.title).order_by(Ticket.id))
        ).all()
        counts = [await session.scalar(select(func.count(m.id))) for m in (Message, Problem, AuditEntry)]
        contacts = (await session.execute(select(Contact.id, Contact.merged_into_id).order_by(Contact.id))).all()
    return [list(conversations), list(tickets), counts, list(contacts)]


async def test_every_api_route_hides_another_teams_objects(api: Api) -> None:
    s = await setup(api)
    vip, vip_ticket, vip_request = s["conversations"]["vip"], s["tickets"]["vip"]["id"], s["tickets"]["vip_request"]["id"]
    own_ticket, problem = s["tickets"]["own"]["id"], s["problem"]["id"]
    headers = api.auth(s["token"])
    before = await snapshot(api)
    calls: list[tuple[str, str, dict[str, Any] | None, str]] = [
        ("GET", f"/api/v1/conversations/{vip}", None, "conversation"),
        ("PATCH", f"/api/v1/conversations/{vip}", {"status": "resolved", "tags": ["x"]}, "conversation"),
        ("GET", f"/api/v1/conversations/{vip}/messages", None, "conversation"),
        ("POST", f"/api/v1/conversations/{vip}/messages", {"text": "hello"}, "conversation"),
        ("POST", f"/api/v1/conversations/{vip}/typing", None, "conversation"),
        ("POST", f"/api/v1/conversations/{vip}/ticket", {"kind": "incident"}, "conversation"),  # not "already a ticket"
        ("GET", f"/api/v1/tickets/{vip_ticket}", None, "ticket"),
        ("PATCH", f"/api/v1/tickets/{vip_ticket}", {"status": "open", "title": "mine now"}, "ticket"),
        ("PATCH", f"/api/v1/tickets/{vip_ticket}", {"problem_id": problem}, "ticket"),
        ("POST", f"/api/v1/tickets/{vip_ticket}/children", {"children": [own_ticket]}, "ticket"),
        ("POST", f"/api/v1/tickets/{own_ticket}/children", {"children": [vip_ticket]}, "ticket"),
        ("POST", "/api/v1/problems", {"title": "x", "incidents": [vip_ticket]}, "ticket"),
        ("PATCH", f"/api/v1/problems/{problem}", {"incidents": [vip_ticket]}, "ticket"),
        # A request of another team is "not found" too, never "not an incident".
        ("PATCH", f"/api/v1/problems/{problem}", {"incidents": [vip_request]}, "ticket"),
        ("POST", "/api/v1/problems", {"title": "x", "incidents": [vip_request]}, "ticket"),
        ("GET", f"/api/v1/contacts/{s['contacts']['vip']}", None, "contact"),
    ]
    for method, path, body, what in calls:
        response = await api.client.request(method, path, json=body, headers=headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == {"code": "not_found", "message": f"{what} not found"}, (method, path)
    assert await snapshot(api) == before
    # What the outsider may list shows nothing of the vip team.
    shown = (await api.client.get(f"/api/v1/problems/{problem}", headers=headers)).json()
    assert shown["incidents"] == []
    assert [p["incidents"] for p in (await api.client.get("/api/v1/problems", headers=headers)).json()["items"]] == [[]]
    assert {t["id"] for t in (await api.client.get("/api/v1/tickets", headers=headers)).json()["items"]} == {own_ticket}
    seen = (await api.client.get("/api/v1/events", params={"limit": 1000}, headers=headers)).json()["items"]
    assert not any(vip_ticket in (e["payload"].get("changes") or {}).get("incidents", []) for e in seen)
    assert any(e["type"] == "problem.created" for e in seen)  # the problem itself is everyone's
    admin_seen = (await api.client.get("/api/v1/events", params={"limit": 1000}, headers=api.auth(api.admin_token))).json()["items"]
    assert any(vip_ticket in (e["payload"].get("changes") or {}).get("incidents", []) for e in admin_seen)


async def test_every_ui_route_hides_another_teams_objects(api: Api) -> None:
    s = await setup(api)
    vip, own = s["conversations"]["vip"], s["conversations"]["own"]
    vip_ticket, own_ticket, problem = s["tickets"]["vip"], s["tickets"]["own"], s["problem"]["id"]
    vip_contact, own_contact = s["contacts"]["vip"], s["contacts"]["own"]
    await sign_in(api.client, "outsider@example.com", PASSWORD)
    match = re.search(r'name="csrf" value="([^"]+)"', (await api.client.get("/")).text)
    assert match
    csrf = match.group(1)
    before = await snapshot(api)
    for path in (f"/conversations/{vip}", f"/conversations/{vip}/timeline", f"/tickets/{vip_ticket['id']}", f"/contacts/{vip_contact}"):
        assert (await api.client.get(path)).status_code == 404, path
    posts: list[tuple[str, dict[str, str]]] = [
        (f"/conversations/{vip}/reply", {"text": "hello"}),
        (f"/conversations/{vip}/update", {"status": "resolved", "tags": "x"}),
        (f"/conversations/{vip}/ticket", {"kind": "incident"}),
        (f"/tickets/{vip_ticket['id']}", {"status": "open", "problem": str(problem), "children": ""}),
        (f"/tickets/{own_ticket['id']}", {"status": "new", "problem": "", "children": str(vip_ticket["number"])}),
        (f"/contacts/{own_contact}/merge", {"other": str(vip_contact)}),
        (f"/contacts/{vip_contact}/merge", {"other": str(own_contact)}),
    ]
    for path, data in posts:
        response = await api.client.post(path, data={"csrf": csrf, **data})
        assert response.status_code == 404, (path, response.status_code, response.headers.get("location"))
    presence = await api.client.post(f"/conversations/{vip}/presence?state=typing", headers={"X-CSRF-Token": csrf})
    assert presence.status_code == 404
    assert await snapshot(api) == before
    problem_page = await api.client.get(f"/problems/{problem}")
    assert problem_page.status_code == 200 and "Disk full" in problem_page.text and "Secret vip" not in problem_page.text
    listed = await api.client.get("/problems")
    assert re.search(r"<td[^>]*>0</td></tr>", listed.text)  # the vip incident is not counted
    incidents = await api.client.get("/incidents")
    assert f"/tickets/{own_ticket['id']}" in incidents.text and f"/tickets/{vip_ticket['id']}" not in incidents.text
    assert (await api.client.get(f"/conversations/{own}")).status_code == 200
