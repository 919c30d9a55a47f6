"""Mentions: `@email` in a private note notifies that agent alone (rows, the feed, read marks)."""

from __future__ import annotations

from sqlalchemy import select

from inbox.actions.notifications import mentioned_emails
from inbox.store.models import Notification
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound


async def conversation(api: Api) -> int:
    channel = await add_channel(api.services, "web")
    [r] = await api.services.ingestor.ingest(channel, [inbound("m1", subject="Printer")])
    return r.conversation_id


def test_mentions_are_at_word_starts_and_each_once() -> None:
    text = "@Ana@example.com see this, cc @bob@example.com. Mail ana@example.com or @ana@example.com again; x@@c@example.com"
    assert mentioned_emails(text) == ["ana@example.com", "bob@example.com"]


async def test_a_note_mention_notifies_only_the_agent_named_and_only_they_get_the_event(api: Api) -> None:
    cid = await conversation(api)
    ana, ana_token = await add_agent(api.services, "ana@example.com")
    _, bob_token = await add_agent(api.services, "bob@example.com")
    admin = api.auth(api.admin_token)
    seq = (await api.client.get("/api/v1/events?after=0", headers=admin)).json()["latest_seq"]
    text = "@ana@example.com can you look? (@boss@example.com is me, @nobody@example.com is nobody)"
    note = await api.client.post(f"/api/v1/conversations/{cid}/messages", json={"text": text, "private": True}, headers=admin)
    assert note.status_code == 201, note.text
    public = await api.client.post(f"/api/v1/conversations/{cid}/messages", json={"text": "@bob@example.com hi"}, headers=admin)
    assert public.status_code == 201
    async with api.services.db.read() as session:
        rows = (await session.scalars(select(Notification))).all()
    assert [(n.agent_id, n.kind, n.conversation_id, n.message_id) for n in rows] == [(ana.id, "mention", cid, note.json()["id"])]
    for token, expected in ((ana_token, 1), (bob_token, 0), (api.admin_token, 0)):
        feed = (await api.client.get(f"/api/v1/events?after={seq}", headers=api.auth(token))).json()["items"]
        assert len([e for e in feed if e["type"] == "notification.created"]) == expected
        assert any(e["type"] == "message.created" for e in feed)  # the rest of the feed still flows
    listed = (await api.client.get("/api/v1/notifications", headers=api.auth(ana_token))).json()
    assert listed["unread"] == 1 and listed["items"][0]["by"]["email"] == "boss@example.com"
    assert (await api.client.get("/api/v1/notifications", headers=api.auth(bob_token))).json() == {
        "items": [],
        "next_cursor": None,
        "unread": 0,
    }


async def test_read_marking_is_own_only_by_ids_or_all(api: Api) -> None:
    cid = await conversation(api)
    _, ana_token = await add_agent(api.services, "ana@example.com")
    _, bob_token = await add_agent(api.services, "bob@example.com")
    for _ in range(3):
        body = {"text": "@ana@example.com ping", "private": True}
        assert (await api.client.post(f"/api/v1/conversations/{cid}/messages", json=body, headers=api.auth(bob_token))).status_code == 201
    items = (await api.client.get("/api/v1/notifications", headers=api.auth(ana_token))).json()["items"]
    first = items[0]["id"]
    stolen = await api.client.post("/api/v1/notifications/read", json={"ids": [first]}, headers=api.auth(bob_token))
    assert stolen.json() == {"marked": 0, "unread": 0}
    marked = await api.client.post("/api/v1/notifications/read", json={"ids": [first]}, headers=api.auth(ana_token))
    assert marked.json() == {"marked": 1, "unread": 2}
    unread = (await api.client.get("/api/v1/notifications?unread=true", headers=api.auth(ana_token))).json()["items"]
    assert first not in [n["id"] for n in unread] and len(unread) == 2
    page = (await api.client.get("/api/v1/notifications?limit=2", headers=api.auth(ana_token))).json()
    rest = (await api.client.get(f"/api/v1/notifications?limit=2&cursor={page['next_cursor']}", headers=api.auth(ana_token))).json()
    assert [n["id"] for n in page["items"] + rest["items"]] == [n["id"] for n in items]
    assert (await api.client.post("/api/v1/notifications/read", json={}, headers=api.auth(ana_token))).status_code == 422
    done = await api.client.post("/api/v1/notifications/read", json={"all": True}, headers=api.auth(ana_token))
    assert done.json() == {"marked": 2, "unread": 0}
