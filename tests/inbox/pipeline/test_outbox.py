"""The outbox: replies are queued in the reply's transaction and sent once, with retries."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from channels.base import PermanentSendError, TransientSendError
from inbox.actions.replies import send_reply
from inbox.actions.runner import Actor
from inbox.config import OutboxConfig
from inbox.pipeline.outbox import OutboxWorker, backoff
from inbox.runtime.services import Services
from inbox.store.models import Conversation, Message, OutboxItem, utcnow
from tests.fixtures.inbox import add_agent, add_channel, inbound
from tests.fixtures.recording_channel import RecordingChannel

FAST = OutboxConfig(max_attempts=3, base_delay=0.01, max_delay=0.05, lease_seconds=30, concurrency=4)


async def reply_to_new_conversation(services: Services, text: str = "Hi there", private: bool = False) -> tuple[int, int]:
    channel = await add_channel(services)
    agent, _ = await add_agent(services, "ana@support.example")
    [r] = await services.ingestor.ingest(channel, [inbound("in-1", thread_key="chat-1", meta={"chat_id": 42})])
    message_id = await send_reply(services.ctx, Actor(agent.id, agent.email, True), r.conversation_id, text, private=private)
    return channel.id, message_id


async def drain(worker: OutboxWorker) -> None:
    """Run the worker until nothing is due or in flight."""
    while await worker.drain_once() or worker._inflight:
        if worker._inflight:
            await asyncio.gather(*list(worker._inflight))


async def message_state(services: Services, message_id: int) -> tuple[str, str | None, str]:
    async with services.db.read() as session:
        message = await session.get(Message, message_id)
        item = await session.scalar(select(OutboxItem).where(OutboxItem.message_id == message_id))
    return message.delivery, message.delivery_error, item.status


async def test_reply_is_queued_then_sent_with_the_thread(services: Services) -> None:
    channel_id, message_id = await reply_to_new_conversation(services)
    assert (await message_state(services, message_id))[0] == "queued"
    far_end = RecordingChannel()
    worker = OutboxWorker(services.db, services.bus, lambda cid: far_end if cid == channel_id else None, FAST)
    await drain(worker)
    [sent] = far_end.sent
    assert sent.text == "Hi there" and sent.in_reply_to == "in-1" and sent.references == ("in-1",)
    assert sent.recipient.address == "ana@example.com" and sent.author_name == "Ana"
    assert sent.conversation_meta == {"chat_id": 42} and sent.thread_key == "chat-1"
    assert await message_state(services, message_id) == ("sent", None, "sent")
    async with services.db.read() as session:
        assert (await session.get(Message, message_id)).external_id == f"sent-{sent.idempotency_key}"


async def test_private_note_is_never_sent(services: Services) -> None:
    channel_id, message_id = await reply_to_new_conversation(services, private=True)
    far_end = RecordingChannel()
    worker = OutboxWorker(services.db, services.bus, lambda cid: far_end, FAST)
    await drain(worker)
    assert far_end.attempts == 0
    async with services.db.read() as session:
        assert await session.scalar(select(OutboxItem).where(OutboxItem.message_id == message_id)) is None


async def test_transient_failures_are_retried_with_backoff_then_sent_once(services: Services) -> None:
    channel_id, message_id = await reply_to_new_conversation(services)
    far_end = RecordingChannel()
    far_end.failures.extend([TransientSendError("timeout"), TransientSendError("429", retry_after=0.02)])
    worker = OutboxWorker(services.db, services.bus, lambda cid: far_end, FAST)
    for _ in range(200):
        await drain(worker)
        if far_end.sent:
            break
        await asyncio.sleep(0.01)  # let the backoff pass
    assert far_end.attempts == 3
    assert list(far_end.times_sent().values()) == [1]
    assert await message_state(services, message_id) == ("sent", None, "sent")


async def test_permanent_failure_marks_the_message_failed_with_the_reason(services: Services) -> None:
    channel_id, message_id = await reply_to_new_conversation(services)
    far_end = RecordingChannel()
    far_end.failures.append(PermanentSendError("Forbidden: bot was blocked by the user"))
    worker = OutboxWorker(services.db, services.bus, lambda cid: far_end, FAST)
    await drain(worker)
    assert await message_state(services, message_id) == ("failed", "Forbidden: bot was blocked by the user", "failed")


async def test_gives_up_after_max_attempts(services: Services) -> None:
    channel_id, message_id = await reply_to_new_conversation(services)
    far_end = RecordingChannel()
    far_end.failures.extend([TransientSendError("down")] * 5)
    worker = OutboxWorker(services.db, services.bus, lambda cid: far_end, FAST)
    for _ in range(200):
        await drain(worker)
        if (await message_state(services, message_id))[2] == "failed":
            break
        await asyncio.sleep(0.01)
    delivery, error, status = await message_state(services, message_id)
    assert (delivery, status) == ("failed", "failed") and "gave up after 3 attempts" in error
    assert far_end.attempts == 3


async def test_expired_lease_is_taken_over_by_another_worker(services: Services) -> None:
    channel_id, message_id = await reply_to_new_conversation(services)
    dead = OutboxWorker(services.db, services.bus, lambda cid: None, OutboxConfig(lease_seconds=3600))
    [claim] = await dead.claim(10)  # claims, then "dies" without an outcome
    assert claim.message_id == message_id
    far_end = RecordingChannel()
    alive = OutboxWorker(services.db, services.bus, lambda cid: far_end, FAST)
    assert await alive.claim(10) == []  # the lease still holds
    async with services.db.transaction() as session:  # the hour passes: the lease runs out
        item = await session.get(OutboxItem, claim.id)
        item.claimed_until = utcnow() - dt.timedelta(seconds=1)
    await drain(alive)
    assert len(far_end.sent) == 1
    assert await message_state(services, message_id) == ("sent", None, "sent")


def test_backoff_doubles_and_is_capped() -> None:
    config = OutboxConfig(base_delay=2, max_delay=30)
    assert [backoff(n, config) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]
