""" "Send again": a reply whose delivery failed or is unknown goes back through the outbox."""

from __future__ import annotations

from sqlalchemy import select

from channels.base import DeliveryUnknown, PermanentSendError
from inbox.actions.replies import send_reply
from inbox.actions.runner import Actor
from inbox.pipeline.outbox import OutboxWorker
from inbox.store.models import AuditEntry, Conversation, Message, OutboxItem, Team
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound
from tests.fixtures.recording_channel import RecordingChannel
from tests.inbox.pipeline.test_outbox import FAST, drain


async def a_reply(api: Api, text: str = "Your invoice") -> tuple[int, int, int]:
    """(channel id, conversation id, message id) of an admin's queued reply."""
    channel = await add_channel(api.services)
    [r] = await api.services.ingestor.ingest(channel, [inbound("in-1", thread_key="chat-1")])
    message_id = await send_reply(api.services.ctx, Actor.system("cli"), r.conversation_id, text)
    return channel.id, r.conversation_id, message_id


async def delivery(api: Api, message_id: int) -> tuple[str, list[str]]:
    async with api.services.db.read() as session:
        message = await session.get(Message, message_id)
        items = list(await session.scalars(select(OutboxItem.status).where(OutboxItem.message_id == message_id)))
    return message.delivery, items


async def test_a_failed_reply_sent_again_is_sent_by_the_outbox(api: Api) -> None:
    channel_id, _, message_id = await a_reply(api)
    far_end = RecordingChannel()
    far_end.failures.append(PermanentSendError("chat not found"))
    worker = OutboxWorker(api.services.db, api.services.bus, lambda c: far_end if c == channel_id else None, FAST)
    await drain(worker)
    assert await delivery(api, message_id) == ("failed", ["failed"])

    response = await api.client.post(f"/api/v1/messages/{message_id}/resend", headers=api.auth(api.admin_token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == message_id and body["delivery"] == "queued" and body["delivery_error"] is None
    assert await delivery(api, message_id) == ("queued", ["pending"])

    await drain(worker)
    assert await delivery(api, message_id) == ("sent", ["sent"])
    assert [m.text for m in far_end.sent] == ["Your invoice"]
    async with api.services.db.read() as session:
        [entry] = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "message.resend"))).all()
    assert entry.target == f"message:{message_id}"
    assert entry.details["previous"] == "failed" and "chat not found" in entry.details["error"]
    # Sent now: a second "Send again" is refused.
    again = await api.client.post(f"/api/v1/messages/{message_id}/resend", headers=api.auth(api.admin_token))
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_resendable"


async def test_an_unknown_delivery_can_be_sent_again_knowingly(api: Api) -> None:
    channel_id, _, message_id = await a_reply(api)
    far_end = RecordingChannel()
    far_end.failures.append(DeliveryUnknown("TimedOut: read timeout"))
    worker = OutboxWorker(api.services.db, api.services.bus, lambda c: far_end if c == channel_id else None, FAST)
    await drain(worker)
    assert await delivery(api, message_id) == ("unknown", ["unknown"])
    await drain(worker)
    assert far_end.sent == []  # never sent again by itself

    response = await api.client.post(f"/api/v1/messages/{message_id}/resend", headers=api.auth(api.admin_token))
    assert response.status_code == 200 and response.json()["delivery"] == "queued"
    await drain(worker)
    assert await delivery(api, message_id) == ("sent", ["sent"]) and len(far_end.sent) == 1
    async with api.services.db.read() as session:
        details = await session.scalar(select(AuditEntry.details).where(AuditEntry.action == "message.resend"))
    assert details is not None and details["previous"] == "unknown"


async def test_only_a_failed_or_unknown_reply_can_be_sent_again(api: Api) -> None:
    _, cid, message_id = await a_reply(api)
    headers = api.auth(api.admin_token)
    queued = await api.client.post(f"/api/v1/messages/{message_id}/resend", headers=headers)
    assert queued.status_code == 409 and queued.json()["error"]["code"] == "not_resendable"
    async with api.services.db.read() as session:
        inbound_id = await session.scalar(select(Message.id).where(Message.conversation_id == cid, Message.direction == "in"))
    customer = await api.client.post(f"/api/v1/messages/{inbound_id}/resend", headers=headers)
    assert customer.status_code == 409 and customer.json()["error"]["code"] == "not_resendable"
    missing = await api.client.post("/api/v1/messages/999999/resend", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"]
    assert await delivery(api, message_id) == ("queued", ["pending"])  # nothing changed


async def test_a_reply_in_another_teams_conversation_is_404(api: Api) -> None:
    channel_id, cid, message_id = await a_reply(api)
    far_end = RecordingChannel()
    far_end.failures.append(PermanentSendError("chat not found"))
    await drain(OutboxWorker(api.services.db, api.services.bus, lambda c: far_end, FAST))
    async with api.services.db.transaction() as session:
        team = Team(name="vip")
        session.add(team)
        await session.flush()
        (await session.get(Conversation, cid)).team_id = team.id
    _, outsider = await add_agent(api.services, "out@example.com")
    response = await api.client.post(f"/api/v1/messages/{message_id}/resend", headers=api.auth(outsider))
    assert response.status_code == 404 and response.json()["error"]["code"]
    assert await delivery(api, message_id) == ("failed", ["failed"])
