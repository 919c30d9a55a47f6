"""Tickets, incidents, major incidents, problems, rules and teams through the REST API."""

from __future__ import annotations

from sqlalchemy import select

from inbox.store.models import Channel, Message, OutboxItem
from tests.fixtures.inbox import Api, add_channel, inbound


async def new_conversation(
    api: Api, external_id: str, channel: str = "web", sender: str = "ana@example.com", language: str | None = None
) -> int:
    async with api.services.db.read() as session:
        row = await session.scalar(select(Channel).where(Channel.name == channel))
    ref = await add_channel(api.services, channel) if row is None else type("Ref", (), {"id": row.id, "name": row.name, "type": row.type})()
    [r] = await api.services.ingestor.ingest(ref, [inbound(external_id, sender=sender, subject=f"About {external_id}", language=language)])
    return r.conversation_id


async def test_convert_to_incident_takes_priority_from_impact_and_urgency(api: Api) -> None:
    headers = api.auth(api.admin_token)
    expected = {("high", "high"): "P1", ("high", "medium"): "P2", ("medium", "medium"): "P3", ("low", "medium"): "P4", ("low", "low"): "P5"}
    numbers = []
    for i, ((impact, urgency), priority) in enumerate(expected.items()):
        cid = await new_conversation(api, f"m{i}", sender=f"c{i}@example.com")
        response = await api.client.post(
            f"/api/v1/conversations/{cid}/ticket", json={"kind": "incident", "impact": impact, "urgency": urgency}, headers=headers
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["kind"], body["priority"], body["status"]) == ("incident", priority, "new")
        numbers.append(body["number"])
        conversation = (await api.client.get(f"/api/v1/conversations/{cid}", headers=headers)).json()
        assert conversation["ticket"]["number"] == body["number"] and conversation["priority"] == priority
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    again = await api.client.post(f"/api/v1/conversations/{cid}/ticket", json={"kind": "request"}, headers=headers)
    assert again.status_code == 409


async def test_status_changes_follow_the_ticket_life_and_notify_the_customer(api: Api) -> None:
    headers = api.auth(api.admin_token)
    cid = await new_conversation(api, "m1", language="es")
    ticket = (await api.client.post(f"/api/v1/conversations/{cid}/ticket", json={"kind": "request"}, headers=headers)).json()
    for status in ("open", "pending", "resolved"):
        response = await api.client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": status}, headers=headers)
        assert response.status_code == 200 and response.json()["status"] == status
    bad = await api.client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": "new"}, headers=headers)
    assert bad.status_code == 422 and "cannot go from resolved to new" in bad.json()["error"]["message"]
    messages = (await api.client.get(f"/api/v1/conversations/{cid}/messages", headers=headers)).json()["items"]
    notices = [m for m in messages if m["author"]["type"] == "system" and not m["private"]]
    assert len(notices) == 3  # created, in progress, resolved (pending is not announced)
    assert all(m["delivery"] == "queued" for m in notices)
    assert "Hola" in notices[0]["text"]
    conversation = (await api.client.get(f"/api/v1/conversations/{cid}", headers=headers)).json()
    assert conversation["status"] == "resolved"


async def test_one_reply_to_a_major_incident_reaches_every_affected_customer_on_their_channel(api: Api) -> None:
    headers = api.auth(api.admin_token)
    major = await new_conversation(api, "major", channel="status", sender="noc@example.com")
    children = [
        await new_conversation(api, "mail-1", channel="mail", sender="ana@example.com"),
        await new_conversation(api, "chat-1", channel="chat", sender="visitor-9"),
        await new_conversation(api, "tg-1", channel="telegram-ish", sender="4242"),
    ]
    tickets = []
    for cid in (major, *children):
        response = await api.client.post(
            f"/api/v1/conversations/{cid}/ticket", json={"kind": "incident", "impact": "high", "urgency": "high"}, headers=headers
        )
        tickets.append(response.json()["id"])
    linked = await api.client.post(f"/api/v1/tickets/{tickets[0]}/children", json={"children": tickets[1:]}, headers=headers)
    assert linked.status_code == 200 and linked.json()["children"] == tickets[1:]
    nested = await api.client.post(f"/api/v1/tickets/{tickets[1]}/children", json={"children": [tickets[0]]}, headers=headers)
    assert nested.status_code == 422
    reply = await api.client.post(f"/api/v1/conversations/{major}/messages", json={"text": "Fixed at 10:42, sorry!"}, headers=headers)
    assert reply.status_code == 201
    async with api.services.db.read() as session:
        sent = (
            await session.execute(
                select(Message.conversation_id, Message.channel_id)
                .join(OutboxItem, OutboxItem.message_id == Message.id)
                .where(Message.text == "Fixed at 10:42, sorry!")
            )
        ).all()
        channel_of = {c: (await session.scalar(select(Message.channel_id).where(Message.conversation_id == c))) for c in (major, *children)}
    assert sorted(c for c, _ in sent) == sorted([major, *children])
    assert all(channel_id == channel_of[c] for c, channel_id in sent)  # each on its own channel


async def test_problems_group_incidents_with_root_cause_and_known_error(api: Api) -> None:
    headers = api.auth(api.admin_token)
    cid = await new_conversation(api, "m1")
    incident = (await api.client.post(f"/api/v1/conversations/{cid}/ticket", json={"kind": "incident"}, headers=headers)).json()
    request_cid = await new_conversation(api, "m2", sender="bo@example.com")
    request = (await api.client.post(f"/api/v1/conversations/{request_cid}/ticket", json={"kind": "request"}, headers=headers)).json()
    created = await api.client.post("/api/v1/problems", json={"title": "Disk full on db-2", "incidents": [incident["id"]]}, headers=headers)
    assert created.status_code == 201 and created.json()["incidents"] == [incident["id"]]
    pid = created.json()["id"]
    patched = await api.client.patch(
        f"/api/v1/problems/{pid}",
        json={"root_cause": "log rotation off", "workaround": "rm old logs", "status": "known_error"},
        headers=headers,
    )
    assert patched.json()["known_error"] is True and patched.json()["root_cause"] == "log rotation off"
    nulls = await api.client.patch(
        f"/api/v1/problems/{pid}",
        json={"title": None, "status": None, "known_error": None, "incidents": None, "workaround": None},
        headers=headers,
    )
    assert nulls.status_code == 200, nulls.text
    assert (nulls.json()["title"], nulls.json()["known_error"], nulls.json()["workaround"]) == ("Disk full on db-2", True, None)
    wrong = await api.client.patch(f"/api/v1/problems/{pid}", json={"incidents": [request["id"]]}, headers=headers)
    assert wrong.status_code == 422 and "not an incident" in wrong.json()["error"]["message"]
    assert (await api.client.get(f"/api/v1/tickets/{incident['id']}", headers=headers)).json()["problem_id"] == pid


async def test_rules_are_validated_tested_and_audited(api: Api) -> None:
    headers = api.auth(api.admin_token)
    team = await api.client.post("/api/v1/teams", json={"name": "billing", "members": ["boss@example.com"]}, headers=headers)
    assert team.status_code == 201 and team.json()["members"] == ["boss@example.com"]
    bad = await api.client.post(
        "/api/v1/rules", json={"name": "x", "if": {"text_matches": "(oops"}, "then": {"assign_team": "ghost"}}, headers=headers
    )
    assert bad.status_code == 422
    message = bad.json()["error"]["message"]
    assert "regular expression" in message and "ghost" in message
    typo = await api.client.post("/api/v1/rules", json={"name": "x", "if": {"chanel": "web"}, "then": {"tag": ["a"]}}, headers=headers)
    assert typo.status_code == 422 and "did you mean 'channel'" in typo.json()["error"]["message"]
    rule = {"name": "invoices", "if": {"text_matches": "(?i)invoice"}, "then": {"assign_team": "billing", "tag": ["billing"]}}
    created = await api.client.post("/api/v1/rules", json=rule, headers=headers)
    assert created.status_code == 201
    tried = await api.client.post("/api/v1/rules/test", json={"message": {"text": "Where is my invoice?"}}, headers=headers)
    assert tried.json()["fired"] == ["invoices"] and any("team billing" in a for a in tried.json()["actions"])
    missed = await api.client.post("/api/v1/rules/test", json={"message": {"text": "hello"}}, headers=headers)
    assert missed.json()["fired"] == []
    cid = await new_conversation(api, "inv-1")
    assert (await api.client.get(f"/api/v1/conversations/{cid}", headers=headers)).json()["tags"] == []  # rules run on ingest only
    [r] = await api.services.ingestor.ingest(await add_channel(api.services, "mail2"), [inbound("inv-2", text="invoice 42 is wrong")])
    assert (await api.client.get(f"/api/v1/conversations/{r.conversation_id}", headers=headers)).json()["team"] == "billing"
    actions = [e["action"] for e in (await api.client.get("/api/v1/audit", headers=headers)).json()["items"]]
    assert "rule.create" in actions and "team.create" in actions


async def test_agents_cannot_manage_rules_or_teams(api: Api) -> None:
    from tests.fixtures.inbox import add_agent

    _, token = await add_agent(api.services, "agent@example.com")
    for method, path in (("GET", "/api/v1/rules"), ("POST", "/api/v1/teams"), ("POST", "/api/v1/rules/test")):
        response = await api.client.request(method, path, json={}, headers=api.auth(token))
        assert response.status_code == 403, path
