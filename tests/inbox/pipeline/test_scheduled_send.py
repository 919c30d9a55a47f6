"""Scheduled replies: held by the outbox until their time, sent once, cancellable before."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from channels.base import ChannelContext
from channels.widget import WidgetChannel, WidgetConfig
from inbox.pipeline.outbox import OutboxWorker
from inbox.pipeline.widget_store import WidgetTranscripts
from inbox.store.models import AuditEntry, Message, OutboxItem, utcnow
from tests.fixtures.inbox import Api, add_channel, inbound
from tests.fixtures.recording_channel import RecordingChannel
from tests.inbox.pipeline.test_outbox import FAST, drain


async def conversation(api: Api, type_: str = "spool") -> tuple[int, int]:
    channel = await add_channel(api.services, "web", type_)
    [r] = await api.services.ingestor.ingest(channel, [inbound("in-1", thread_key="visitor-1")])
    return channel.id, r.conversation_id


async def schedule(api: Api, cid: int, ahead: dt.timedelta = dt.timedelta(hours=1)) -> dict[str, object]:
    when = (utcnow() + ahead).isoformat()
    response = await api.client.post(
        f"/api/v1/conversations/{cid}/messages", json={"text": "Later", "send_at": when}, headers=api.auth(api.admin_token)
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def come_due(api: Api, message_id: object) -> None:
    """Time passes: the item's not-before time is now in the past."""
    async with api.services.db.transaction() as session:
        past = utcnow() - dt.timedelta(seconds=1)
        await session.execute(update(OutboxItem).where(OutboxItem.message_id == message_id).values(next_attempt_at=past))


async def test_a_scheduled_reply_is_not_sent_early_then_sent_exactly_once(api: Api) -> None:
    channel_id, cid = await conversation(api)
    body = await schedule(api, cid)
    assert body["delivery"] == "scheduled" and body["send_at"]
    far_end = RecordingChannel()
    worker = OutboxWorker(api.services.db, api.services.bus, lambda c: far_end if c == channel_id else None, FAST)
    await drain(worker)
    assert far_end.sent == []
    await come_due(api, body["id"])
    await drain(worker)
    await drain(worker)
    assert [m.text for m in far_end.sent] == ["Later"]
    async with api.services.db.read() as session:
        assert (await session.get(Message, body["id"])).delivery == "sent"


async def test_cancel_while_scheduled_and_too_late_once_sent(api: Api) -> None:
    channel_id, cid = await conversation(api)
    headers = api.auth(api.admin_token)
    first = await schedule(api, cid)
    assert (await api.client.delete(f"/api/v1/messages/{first['id']}", headers=headers)).status_code == 204
    assert (await api.client.delete(f"/api/v1/messages/{first['id']}", headers=headers)).status_code == 409
    second = await schedule(api, cid)
    await come_due(api, second["id"])
    far_end = RecordingChannel()
    await drain(OutboxWorker(api.services.db, api.services.bus, lambda c: far_end if c == channel_id else None, FAST))
    assert [m.text for m in far_end.sent] == ["Later"]  # the cancelled one never went
    late = await api.client.delete(f"/api/v1/messages/{second['id']}", headers=headers)
    assert late.status_code == 409
    assert (await api.client.delete("/api/v1/messages/99999", headers=headers)).status_code == 404
    async with api.services.db.read() as session:
        assert (await session.get(Message, first["id"])).delivery == "cancelled"
        audits = list(await session.scalars(select(AuditEntry.target).where(AuditEntry.action == "message.cancel")))
    assert audits == [f"message:{first['id']}"]


async def test_a_claimed_scheduled_reply_cannot_be_cancelled(api: Api) -> None:
    _, cid = await conversation(api)
    body = await schedule(api, cid)
    await come_due(api, body["id"])
    worker = OutboxWorker(api.services.db, api.services.bus, lambda c: None, FAST)
    assert len(await worker.claim(10)) == 1  # taken, being sent
    response = await api.client.delete(f"/api/v1/messages/{body['id']}", headers=api.auth(api.admin_token))
    assert response.status_code == 409


async def test_send_at_must_be_aware_future_and_within_a_year(api: Api) -> None:
    _, cid = await conversation(api)
    headers = api.auth(api.admin_token)
    now = utcnow()
    for when in (
        (now - dt.timedelta(minutes=1)).isoformat(),
        (now + dt.timedelta(days=400)).isoformat(),
        (now + dt.timedelta(hours=1)).replace(tzinfo=None).isoformat(),
        "tomorrow",
    ):
        response = await api.client.post(f"/api/v1/conversations/{cid}/messages", json={"text": "x", "send_at": when}, headers=headers)
        assert response.status_code == 422, when
    note = await api.client.post(
        f"/api/v1/conversations/{cid}/messages",
        json={"text": "x", "private": True, "send_at": (now + dt.timedelta(hours=1)).isoformat()},
        headers=headers,
    )
    assert note.status_code == 422
    async with api.services.db.read() as session:
        assert await session.scalar(select(Message.id).where(Message.direction == "out")) is None


async def test_a_scheduled_widget_reply_is_hidden_from_the_visitor_until_sent(api: Api) -> None:
    channel_id, cid = await conversation(api, "widget")
    store = WidgetTranscripts(api.services.db)
    body = await schedule(api, cid)
    assert body["delivery"] == "scheduled"
    transcript = await store.transcript("web", "visitor-1", 0)
    assert [i.direction for i in transcript] == ["in"]
    _, pushed = await store.since(0)
    assert [entry[2].direction for entry in pushed] == ["in"]
    # The widget channel's send marks it delivered; from then the visitor sees it, once.
    adapter = WidgetChannel(WidgetConfig(name="web"), ChannelContext(public_url="http://127.0.0.1"))
    await drain(OutboxWorker(api.services.db, api.services.bus, lambda c: adapter if c == channel_id else None, FAST))
    transcript = await store.transcript("web", "visitor-1", 0)
    assert [i.direction for i in transcript] == ["in"]  # still not due
    await come_due(api, body["id"])
    await drain(OutboxWorker(api.services.db, api.services.bus, lambda c: adapter if c == channel_id else None, FAST))
    transcript = await store.transcript("web", "visitor-1", 0)
    assert [(i.direction, i.text) for i in transcript] == [("in", "Hello"), ("out", "Later")]
    _, pushed = await store.since(0)
    assert [entry[2].text for entry in pushed] == ["Hello", "Later"]
