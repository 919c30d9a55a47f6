"""The outbox: replies are queued in the reply's transaction and sent once, with retries."""

from __future__ import annotations

import asyncio
import datetime as dt
from functools import partial

import pytest
from sqlalchemy import insert, select, text, update

from channels.base import DeliveryUnknown, OutboundMessage, PermanentSendError, SendResult, TransientSendError
from inbox.actions.replies import send_reply
from inbox.actions.runner import Actor
from inbox.config import OutboxConfig
from inbox.pipeline.outbox import _DUE_KINDS, IN_DOUBT, OutboxWorker, _firsts_due, backoff
from inbox.runtime.services import Services
from inbox.store.models import Conversation, Message, OutboxItem, utcnow
from tests.fixtures.inbox import add_agent, add_channel, inbound
from tests.fixtures.plans import plan
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


async def test_a_worker_claims_only_for_the_channels_its_node_runs(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    channel_id, message_id = await reply_to_new_conversation(services)
    far_end = RecordingChannel()
    running: list[int] = []
    worker = OutboxWorker(services.db, services.bus, lambda cid: far_end, FAST, channel_ids=lambda: running)
    asked = 0
    query_core = services.db.query_core

    async def counted(work):  # type: ignore[no-untyped-def]
        nonlocal asked
        asked += 1
        return await query_core(work)

    monkeypatch.setattr(services.db, "query_core", counted)
    # No channel runs here: nothing is claimed, and the database is not even asked.
    assert await worker.drain_once() == 0 and asked == 0
    running.append(channel_id + 1000)  # another channel only
    assert await worker.drain_once() == 0 and asked == 1
    assert await message_state(services, message_id) == ("queued", None, "pending")
    running.append(channel_id)
    await drain(worker)
    assert len(far_end.sent) == 1 and await message_state(services, message_id) == ("sent", None, "sent")


async def test_the_due_question_reads_only_live_rows_on_a_desk_with_history(services: Services) -> None:
    """Every commit asks "anything due on my channels?". On a desk with a long history and
    the planner's statistics, the answer reads the first entry of each live status's index
    for each of this node's channels: it neither scans the sent rows nor walks the backlog of
    a channel no node here runs (migration 0025), and neither does the claim."""
    stopped = await add_channel(services, "stopped")
    ours = await add_channel(services, "ours")
    now = utcnow()
    day_ago = now - dt.timedelta(days=1)
    rows = [{"channel_id": ours.id, "status": "sent", "next_attempt_at": day_ago, "sent_at": day_ago} for _ in range(20_000)]
    rows += [{"channel_id": stopped.id, "status": "pending", "next_attempt_at": now - dt.timedelta(hours=1)} for _ in range(3_000)]
    rows += [{"channel_id": ours.id, "status": "pending", "next_attempt_at": now + dt.timedelta(hours=1)} for _ in range(20)]
    rows += [{"channel_id": ours.id, "status": "sending", "claimed_until": now + dt.timedelta(minutes=5)} for _ in range(2)]
    for n, row in enumerate(rows):  # one shape for the many-row insert
        row.setdefault("sent_at", None)
        row.setdefault("claimed_until", None)
        row.setdefault("next_attempt_at", now)
        row["idempotency_key"] = f"history-{n}"
    await services.db.run(lambda conn: conn.execute(insert(OutboxItem), rows))
    await services.db.run(lambda conn: conn.execute(text("ANALYZE")))

    def read_whole_table(steps: list[str]) -> bool:
        return any(step.startswith(("SCAN outbox_item", "Seq Scan", "Index Scan on outbox_item_pkey")) for step in steps)

    asked = {"now": now, "channel_0": ours.id, "channel_1": stopped.id}
    for channels in (1, 2):
        steps = await services.db.query_core(partial(plan, statement=_firsts_due(channels), params=asked))
        assert not read_whole_table(steps), steps
        for index in ("ix_outbox_pending", "ix_outbox_sending"):
            assert sum(index in step for step in steps) == channels, steps
    for due, order in _DUE_KINDS:  # the claim's statements
        claim = (
            select(OutboxItem.id).where(due, OutboxItem.channel_id == ours.id).order_by(*order).limit(4).with_for_update(skip_locked=True)
        )
        steps = await services.db.query_core(partial(plan, statement=claim, params={"now": now}))
        assert not read_whole_table(steps) and any("ix_outbox_" in step for step in steps), steps

    # The same questions, answered: nothing of ours is due; the stopped channel's backlog is.
    firsts = await services.db.query_core(lambda conn: conn.execute(_firsts_due(2), asked).one())
    assert firsts[:2] == (None, None) and firsts[2] is None and firsts[3] is not None
    worker = OutboxWorker(services.db, services.bus, lambda cid: RecordingChannel(), FAST, channel_ids=lambda: [ours.id])
    assert await worker.drain_once() == 0


async def test_each_claim_starts_at_the_next_channel_with_sends_due(services: Services) -> None:
    """A backlog on one channel (a broadcast) does not hold back another's replies: with room
    for one send at a time, the claims take the two channels' sends in turn."""
    first = await add_channel(services, "first")
    second = await add_channel(services, "second")
    now = utcnow()
    rows = [
        {
            "channel_id": channel.id,
            "status": "pending",
            "next_attempt_at": now - dt.timedelta(minutes=1),
            "idempotency_key": f"{channel.name}-{n}",
        }
        for channel in (first, second)
        for n in range(3)
    ]
    await services.db.run(lambda conn: conn.execute(insert(OutboxItem), rows))
    worker = OutboxWorker(services.db, services.bus, lambda cid: RecordingChannel(), FAST, channel_ids=lambda: [first.id, second.id])
    taken = [claim.channel_id for _ in range(6) for claim in await worker.claim(1)]
    assert taken == [second.id, first.id] * 3
    assert await worker.claim(4) == []


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


async def crash_after_dispatch(services: Services, far_end: RecordingChannel, *, dispatched: bool = True) -> None:
    """A worker claims the send, marks it in flight (or not) and dies; its lease expires."""
    crashed = OutboxWorker(services.db, services.bus, lambda cid: far_end, FAST, worker_id="crashed")
    [claim] = await crashed.claim(1)
    if dispatched:
        await crashed._dispatch(claim)
    async with services.db.transaction() as session:
        await session.execute(update(OutboxItem).values(claimed_until=utcnow() - dt.timedelta(seconds=1)))


@pytest.mark.parametrize(
    ("policy", "delivery", "attempts", "looked"),
    [("hold", "unknown", 0, None), ("look", "sent", 1, True), ("resend", "sent", 1, False)],
)
async def test_a_send_in_doubt_after_a_crash_follows_its_channels_policy(
    services: Services, policy: str, delivery: str, attempts: int, looked: bool | None
) -> None:
    _, message_id = await reply_to_new_conversation(services)
    far_end = RecordingChannel()
    far_end.in_doubt = policy  # type: ignore[assignment]
    await crash_after_dispatch(services, far_end)
    await drain(OutboxWorker(services.db, services.bus, lambda cid: far_end, FAST, worker_id="survivor"))
    state, error, status = await message_state(services, message_id)
    assert (state, status, far_end.attempts) == (delivery, delivery, attempts)
    if looked is None:
        assert error == IN_DOUBT  # held: never sent again, and the agent sees why
    else:
        assert far_end.sent[0].in_doubt is looked  # only a "look" channel is told to look first


async def test_a_claimed_send_never_dispatched_is_sent_after_a_crash_even_where_doubt_holds(services: Services) -> None:
    _, message_id = await reply_to_new_conversation(services)
    far_end = RecordingChannel()
    far_end.in_doubt = "hold"
    await crash_after_dispatch(services, far_end, dispatched=False)
    await drain(OutboxWorker(services.db, services.bus, lambda cid: far_end, FAST, worker_id="survivor"))
    assert await message_state(services, message_id) == ("sent", None, "sent") and far_end.attempts == 1


async def test_a_send_whose_outcome_is_unknown_is_not_repeated(services: Services) -> None:
    _, message_id = await reply_to_new_conversation(services)
    far_end = RecordingChannel()
    far_end.failures.append(DeliveryUnknown("TimedOut: read timeout"))
    await drain(OutboxWorker(services.db, services.bus, lambda cid: far_end, FAST))
    state, error, status = await message_state(services, message_id)
    assert (state, status, far_end.attempts) == ("unknown", "unknown", 1) and error is not None and "read timeout" in error


class RefusedAfterDispatch(RecordingChannel):
    """Marks the send in flight, then is refused (a 429): surely not delivered."""

    async def send(self, outbound: OutboundMessage) -> SendResult:
        if self.attempts == 0:
            self.attempts += 1
            await outbound.dispatched()
            raise TransientSendError("429", retry_after=0.01, count_attempt=False)
        return await super().send(outbound)


async def test_a_refused_attempt_leaves_no_doubt_for_a_crash_before_the_next(services: Services) -> None:
    _, message_id = await reply_to_new_conversation(services)
    far_end = RefusedAfterDispatch()
    far_end.in_doubt = "hold"
    first = OutboxWorker(services.db, services.bus, lambda cid: far_end, FAST, worker_id="first")
    await drain(first)
    async with services.db.transaction() as session:  # due now, and the next attempt's worker dies before its request
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))
    await crash_after_dispatch(services, far_end, dispatched=False)
    await drain(OutboxWorker(services.db, services.bus, lambda cid: far_end, FAST, worker_id="survivor"))
    assert await message_state(services, message_id) == ("sent", None, "sent") and len(far_end.sent) == 1
