"""The REST API: auth, roles, visibility, pagination, replies, errors and the change feed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from inbox.store.models import Conversation, OutboxItem, Team, TeamMember
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound


async def seed(api: Api, n: int = 3) -> list[int]:
    channel = await add_channel(api.services, "web")
    results = await api.services.ingestor.ingest(
        channel, [inbound(f"m{i}", sender=f"c{i}@example.com", subject=f"Question {i}", text=f"text {i}") for i in range(n)]
    )
    return [r.conversation_id for r in results]


async def test_no_token_is_401_with_a_json_error(api: Api) -> None:
    response = await api.client.get("/api/v1/conversations")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_bad_token_is_401(api: Api) -> None:
    for header in ("Bearer fd_not-a-real-token", "Basic abc", "Bearer "):
        response = await api.client.get("/api/v1/conversations", headers={"Authorization": header})
        assert response.status_code == 401, header


async def test_agent_token_on_admin_route_is_403(api: Api) -> None:
    _, token = await add_agent(api.services, "agent@example.com")
    for path in ("/api/v1/agents", "/api/v1/tokens", "/api/v1/channels", "/api/v1/audit", "/api/v1/quarantine"):
        response = await api.client.get(path, headers=api.auth(token))
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"


async def test_revoked_token_stops_working(api: Api) -> None:
    created = await api.client.post("/api/v1/tokens", json={"agent": "boss@example.com", "name": "ci"}, headers=api.auth(api.admin_token))
    assert created.status_code == 201
    token = created.json()["token"]
    assert (await api.client.get("/api/v1/conversations", headers=api.auth(token))).status_code == 200
    listed = (await api.client.get("/api/v1/tokens", headers=api.auth(api.admin_token))).json()["items"]
    token_id = next(t["id"] for t in listed if t["name"] == "ci")
    assert "token" not in listed[0]  # the clear value is shown once, at creation
    assert (await api.client.delete(f"/api/v1/tokens/{token_id}", headers=api.auth(api.admin_token))).status_code == 204
    assert (await api.client.get("/api/v1/conversations", headers=api.auth(token))).status_code == 401


async def test_conversations_are_cursor_paginated_newest_first(api: Api) -> None:
    ids = await seed(api, 5)
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.client.get("/api/v1/conversations", params=params, headers=api.auth(api.admin_token))).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    bad = await api.client.get("/api/v1/conversations", params={"cursor": "!!"}, headers=api.auth(api.admin_token))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


async def test_filters_by_status_channel_assignee_and_search(api: Api) -> None:
    ids = await seed(api, 3)
    headers = api.auth(api.admin_token)
    patch = await api.client.patch(
        f"/api/v1/conversations/{ids[0]}", json={"assignee": "boss@example.com", "status": "pending"}, headers=headers
    )
    assert patch.status_code == 200 and patch.json()["assignee"] == "boss@example.com"

    async def ids_for(**params: str) -> list[int]:
        return [c["id"] for c in (await api.client.get("/api/v1/conversations", params=params, headers=headers)).json()["items"]]

    assert await ids_for(assignee="me") == [ids[0]]
    assert sorted(await ids_for(assignee="none")) == sorted(ids[1:])
    assert await ids_for(status="pending") == [ids[0]]
    assert len(await ids_for(channel="web")) == 3 and await ids_for(channel="nope") == []
    assert await ids_for(q="text 2") == [ids[2]]
    assert await ids_for(q="100%_' OR 1=1 --") == []
    # SQL-ish input in every filter: matched literally (nothing found), never an error.
    for hostile in ("' OR '1'='1", "%", "_", "a\\b", "'; DROP TABLE message; --", "x" * 500):
        for key in ("channel", "assignee", "team", "priority", "tag", "q"):
            response = await api.client.get("/api/v1/conversations", params={key: hostile}, headers=headers)
            assert response.status_code in (200, 422), (key, hostile, response.text)
            if response.status_code == 200:
                assert response.json()["items"] == [], (key, hostile)
    assert len(await ids_for()) == 3  # and the data is all still there
    assert (await api.client.get("/api/v1/conversations", params={"status": "bogus"}, headers=headers)).status_code == 422


async def test_post_message_returns_201_queued_and_creates_an_outbox_item(api: Api) -> None:
    [cid] = await seed(api, 1)
    response = await api.client.post(
        f"/api/v1/conversations/{cid}/messages", json={"text": "We are on it"}, headers=api.auth(api.admin_token)
    )
    assert response.status_code == 201
    body = response.json()
    assert body["delivery"] == "queued" and body["direction"] == "out" and body["author"]["type"] == "agent"
    async with api.services.db.read() as session:
        assert await session.scalar(select(OutboxItem.status).where(OutboxItem.message_id == body["id"])) == "pending"
    messages = (await api.client.get(f"/api/v1/conversations/{cid}/messages", headers=api.auth(api.admin_token))).json()["items"]
    assert [m["direction"] for m in messages] == ["in", "out"]


async def test_invalid_bodies_are_422_with_a_message(api: Api) -> None:
    [cid] = await seed(api, 1)
    headers = api.auth(api.admin_token)
    for body in ({}, {"text": ""}, {"text": "x", "bogus": 1}):
        response = await api.client.post(f"/api/v1/conversations/{cid}/messages", json=body, headers=headers)
        assert response.status_code == 422 and response.json()["error"]["message"]
    response = await api.client.patch(f"/api/v1/conversations/{cid}", json={"assignee": "ghost@example.com"}, headers=headers)
    assert response.status_code == 422 and "ghost@example.com" in response.json()["error"]["message"]


async def test_agent_cannot_reach_another_teams_conversation_by_id(api: Api) -> None:
    ids = await seed(api, 2)
    outsider, outsider_token = await add_agent(api.services, "out@example.com")
    member, member_token = await add_agent(api.services, "in@example.com")
    async with api.services.db.transaction() as session:
        team = Team(name="billing")
        session.add(team)
        await session.flush()
        session.add(TeamMember(team_id=team.id, agent_id=member.id))
        (await session.get(Conversation, ids[0])).team_id = team.id
    for path in (f"/api/v1/conversations/{ids[0]}", f"/api/v1/conversations/{ids[0]}/messages"):
        assert (await api.client.get(path, headers=api.auth(outsider_token))).status_code == 404
        assert (await api.client.get(path, headers=api.auth(member_token))).status_code == 200
    reply = await api.client.post(f"/api/v1/conversations/{ids[0]}/messages", json={"text": "x"}, headers=api.auth(outsider_token))
    assert reply.status_code == 404
    listed = (await api.client.get("/api/v1/conversations", headers=api.auth(outsider_token))).json()["items"]
    assert [c["id"] for c in listed] == [ids[1]]
    events = (await api.client.get("/api/v1/events", headers=api.auth(outsider_token))).json()["items"]
    assert ids[0] not in {e["conversation_id"] for e in events}


async def test_contact_shows_identities_on_every_channel(api: Api) -> None:
    mail = await add_channel(api.services, "mail", "spool")
    chat = await add_channel(api.services, "chat", "spool")
    [a] = await api.services.ingestor.ingest(mail, [inbound("m1", sender="ana@example.com")])
    await api.services.ingestor.ingest(chat, [inbound("c1", sender="visitor-1", email="ana@example.com")])
    async with api.services.db.read() as session:
        contact_id = (await session.get(Conversation, a.conversation_id)).contact_id
    body = (await api.client.get(f"/api/v1/contacts/{contact_id}", headers=api.auth(api.admin_token))).json()
    assert {(i["channel"], i["address"]) for i in body["identities"]} == {("mail", "ana@example.com"), ("chat", "visitor-1")}
    assert len(body["conversations"]) == 2
    assert (await api.client.get("/api/v1/contacts/999999", headers=api.auth(api.admin_token))).status_code == 404


async def test_a_contacts_conversations_are_shaped_as_each_conversation_is(api: Api) -> None:
    # The contact page looks its conversations' tickets, previews and waiting times up by the
    # contact, the lists by ids: the same shape either way.
    headers = api.auth(api.admin_token)
    mail = await add_channel(api.services, "mail", "spool")
    [a, _] = await api.services.ingestor.ingest(
        mail, [inbound("p1", sender="ana@example.com", subject="Invoice"), inbound("p2", sender="ana@example.com", subject="Login")]
    )
    [other] = await api.services.ingestor.ingest(mail, [inbound("p3", sender="bea@example.com", subject="Other")])
    assert (
        await api.client.post(f"/api/v1/conversations/{a.conversation_id}/ticket", json={"kind": "request"}, headers=headers)
    ).is_success
    assert (
        await api.client.post(f"/api/v1/conversations/{a.conversation_id}/messages", json={"text": "On it"}, headers=headers)
    ).is_success
    async with api.services.db.read() as session:
        contact_id = (await session.get(Conversation, a.conversation_id)).contact_id
    listed = (await api.client.get(f"/api/v1/contacts/{contact_id}", headers=headers)).json()["conversations"]
    assert other.conversation_id not in {c["id"] for c in listed} and len(listed) == 2
    for shaped in listed:
        alone = (await api.client.get(f"/api/v1/conversations/{shaped['id']}", headers=headers)).json()
        alone.pop("csat")
        assert shaped == alone
    answered = next(c for c in listed if c["id"] == a.conversation_id)
    assert answered["ticket"] is not None and answered["preview"] == "On it" and answered["waiting_since"] is None
    assert next(c for c in listed if c["id"] != a.conversation_id)["waiting_since"] is not None


async def test_events_after_seq_replay_what_was_missed(api: Api) -> None:
    headers = api.auth(api.admin_token)
    [cid] = await seed(api, 1)
    first = (await api.client.get("/api/v1/events", headers=headers)).json()
    last = first["items"][-1]["seq"]
    assert [e["type"] for e in first["items"]] == ["conversation.created", "message.created"]
    await api.client.patch(f"/api/v1/conversations/{cid}", json={"status": "resolved"}, headers=headers)
    missed = (await api.client.get("/api/v1/events", params={"after": last}, headers=headers)).json()["items"]
    assert [(e["type"], e["payload"]["changes"]) for e in missed] == [("conversation.updated", {"status": "resolved"})]
    assert missed[0]["seq"] > last


async def test_oversized_body_is_413(api: Api) -> None:
    [cid] = await seed(api, 1)
    big = {"text": "x" * (2 * 1024 * 1024)}
    response = await api.client.post(f"/api/v1/conversations/{cid}/messages", json=big, headers=api.auth(api.admin_token))
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


async def test_admin_actions_are_audited(api: Api) -> None:
    headers = api.auth(api.admin_token)
    created = await api.client.post(
        "/api/v1/agents", json={"email": "new@example.com", "name": "New", "password": "long enough pw"}, headers=headers
    )
    assert created.status_code == 201
    dup = await api.client.post("/api/v1/agents", json={"email": "new@example.com", "name": "New"}, headers=headers)
    assert dup.status_code == 409
    await api.client.patch(f"/api/v1/agents/{created.json()['id']}", json={"role": "admin"}, headers=headers)
    actions = [e["action"] for e in (await api.client.get("/api/v1/audit", headers=headers)).json()["items"]]
    assert actions == ["agent.update", "agent.create"]
    entries = (await api.client.get("/api/v1/audit", headers=headers)).json()["items"]
    assert all("password" not in str(e["details"]) for e in entries)


async def test_health_ready_metrics_and_openapi(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert "frontdesk_outbox_sent_total" in (await api.client.get("/metrics")).text
    spec = (await api.client.get("/openapi.json")).json()
    assert "/api/v1/conversations/{conversation_id}/messages" in spec["paths"]


async def test_api_rate_limit_answers_429_with_retry_after(api: Api) -> None:
    api.client._transport.app.state.api_limiter.limit = 5  # type: ignore[attr-defined]
    codes = [(await api.client.get("/api/v1/conversations", headers=api.auth(api.admin_token))).status_code for _ in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    limited = await api.client.get("/api/v1/conversations", headers=api.auth(api.admin_token))
    assert limited.json()["error"]["code"] == "rate_limited" and limited.headers["Retry-After"] == "60"


async def test_a_reply_can_carry_files_as_multipart(api: Api) -> None:
    [cid] = await seed(api, 1)
    headers = api.auth(api.admin_token)
    files = [("file", ("report.pdf", b"%PDF-1.4 report", "application/pdf")), ("file", ("C:\\logs\\app.log", b"line 1\n", ""))]
    response = await api.client.post(
        f"/api/v1/conversations/{cid}/messages", data={"text": "Both files attached"}, files=files, headers=headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["text"] == "Both files attached" and body["delivery"] == "queued" and body["private"] is False
    assert [(a["filename"], a["content_type"], a["size"]) for a in body["attachments"]] == [
        ("report.pdf", "application/pdf", 15),
        ("app.log", "application/octet-stream", 7),
    ]
    download = await api.client.get(body["attachments"][0]["url"], headers=headers)
    assert download.status_code == 200 and download.content == b"%PDF-1.4 report"
    # A private note with a file: stored, not queued.
    note = await api.client.post(
        f"/api/v1/conversations/{cid}/messages",
        data={"text": "internal", "private": "true"},
        files=[("file", ("n.txt", b"n", "text/plain"))],
        headers=headers,
    )
    assert note.status_code == 201 and note.json()["private"] is True and note.json()["delivery"] == "sent"
    assert note.json()["attachments"][0]["filename"] == "n.txt"


async def test_bad_multipart_replies_are_refused_with_a_json_error_and_store_nothing(api: Api) -> None:
    [cid] = await seed(api, 1)
    headers = api.auth(api.admin_token)
    url = f"/api/v1/conversations/{cid}/messages"
    empty = await api.client.post(url, data={"text": "x"}, files=[("file", ("empty.txt", b"", "text/plain"))], headers=headers)
    assert empty.status_code == 422 and "empty.txt is empty" in empty.json()["error"]["message"]
    many = await api.client.post(
        url, data={"text": "x"}, files=[("file", (f"{i}.txt", b"x", "text/plain")) for i in range(11)], headers=headers
    )
    assert many.status_code in (400, 422) and many.json()["error"]["message"]
    no_text = await api.client.post(url, data={"private": "false"}, files=[("file", ("a.txt", b"a", "text/plain"))], headers=headers)
    assert no_text.status_code == 422 and "text" in no_text.json()["error"]["message"]
    unknown = await api.client.post(
        url, data={"text": "x", "bogus": "1"}, headers={**headers, "Content-Type": "multipart/form-data; boundary=zz"}
    )
    assert unknown.status_code in (400, 422)
    not_json = await api.client.post(url, content=b"{not json", headers={**headers, "Content-Type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["error"]["message"]
    messages = (await api.client.get(url, headers=headers)).json()["items"]
    assert [m["direction"] for m in messages] == ["in"]


async def test_search_finds_words_without_accents_subjects_ticket_numbers_and_addresses(api: Api) -> None:
    channel = await add_channel(api.services, "web")
    headers = api.auth(api.admin_token)
    results = await api.services.ingestor.ingest(
        channel,
        [
            inbound("s1", sender="lucia@example.com", subject="Pedido", text="La facturación de octubre está mal"),
            inbound("s2", sender="bob@example.com", subject="Broken widget", text="It does not start"),
            inbound("s3", sender="eve@example.com", subject="Hello", text="Nothing to see"),
        ],
    )
    ids = [r.conversation_id for r in results]

    async def found(q: str) -> list[int]:
        response = await api.client.get("/api/v1/conversations", params={"q": q}, headers=headers)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert await found("facturacion") == [ids[0]]  # typed without the accent
    assert await found("FACTURACIÓN octubre") == [ids[0]]
    assert await found("factur") == [ids[0]]  # the last word is a prefix
    assert await found("ken wid") == [ids[1]]  # subjects: a substring, any case
    assert await found("bob@example.com") == [ids[1]]
    assert await found("nobody@example.com") == []
    ticket = await api.client.post(f"/api/v1/conversations/{ids[2]}/ticket", json={"kind": "request"}, headers=headers)
    number = ticket.json()["number"]
    assert await found(str(number)) == [ids[2]] and await found(f"#{number}") == [ids[2]]


async def test_the_audit_log_filters_by_actor(api: Api) -> None:
    headers = api.auth(api.admin_token)
    created = await api.client.post("/api/v1/agents", json={"email": "new@example.com", "name": "New"}, headers=headers)
    assert created.status_code == 201
    _, token = await add_agent(api.services, "other@example.com", role="admin")
    await api.client.patch(f"/api/v1/agents/{created.json()['id']}", json={"name": "Newer"}, headers=api.auth(token))

    async def actions(actor: str) -> list[tuple[str, str]]:
        response = await api.client.get("/api/v1/audit", params={"actor": actor}, headers=headers)
        assert response.status_code == 200
        return [(e["agent"], e["action"]) for e in response.json()["items"]]

    assert await actions("other@example.com") == [("other@example.com", "agent.update")]
    assert ("boss@example.com", "agent.create") in await actions("BOSS@example.com")
    assert await actions("nobody@example.com") == []


async def test_a_search_of_common_words_walks_the_newest_messages_and_finds_what_the_index_finds(api: Api, monkeypatch: Any) -> None:
    """PostgreSQL: words that are each common are looked for among the newest messages first
    (the planner takes words as independent); a search finds the same either way. On SQLite
    the words' statistics are not read and the search is FTS5's."""
    from inbox.store import search

    channel = await add_channel(api.services, "web")
    headers = api.auth(api.admin_token)
    texts = [
        "Where is my tracking number please",
        "The tracking number does not work",
        "Nothing about it here",
        "Your tracking page and a number",
        "Tracking number again",
        "A quiet day",
    ] * 4
    results = await api.services.ingestor.ingest(
        channel, [inbound(f"w{i}", sender=f"c{i}@example.com", text=t) for i, t in enumerate(texts)]
    )
    ids = [r.conversation_id for r in results]
    newest_first = sorted((i for i, t in zip(ids, texts, strict=True) if "tracking" in t.lower() and "number" in t), reverse=True)
    postgres = not api.services.db.is_sqlite
    if postgres:
        async with api.services.db.transaction() as session:
            await session.execute(text("ANALYZE message"))
    search._common.clear()
    async with api.services.db.read() as session:
        common = await session.run_sync(search.common_lexemes) if postgres else frozenset()
    assert search.all_common(["tracking", "numb"], common) is postgres

    async def found(q: str) -> list[int]:
        response = await api.client.get("/api/v1/conversations", params={"q": q, "limit": 100}, headers=headers)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert await found("tracking number") == newest_first
    # The newest 2 matches lie within the newest 12 messages: the walk finds them alone.
    monkeypatch.setattr(search, "SEARCH_DEPTH", 2)
    monkeypatch.setattr(search, "WALK_ROWS", 12)
    assert await found("tracking numb") == newest_first[:2]
    # Only 5 messages walked hold fewer than 4 matches: the index finds the 4 newest.
    monkeypatch.setattr(search, "SEARCH_DEPTH", 4)
    monkeypatch.setattr(search, "WALK_ROWS", 5)
    assert await found("tracking number") == newest_first[:4]
    assert await found("tracking quiet") == []


def test_common_words_are_compared_as_the_search_configuration_stores_them() -> None:
    from inbox.store.kb_search import fold
    from inbox.store.search import all_common

    common = frozenset({"facturacion", "pedido", "tracking"})
    assert fold("Facturación") == "facturacion"
    assert all_common(["FACTURACIÓN", "ped"], common)  # the last word is a prefix
    assert not all_common(["facturacion"], common)  # one word: the planner's own estimate is right
    assert not all_common(["quokka", "pedido"], common)
    assert not all_common(["tracking", "pedido"], frozenset())
