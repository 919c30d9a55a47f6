"""The webhook worker: follows the change feed for each webhook and POSTs its events.

The event table is the outbox of webhooks: an event is committed with the change it
describes, and each webhook keeps a durable cursor, the last seq it delivered (or skipped
as not subscribed to). The worker sends the first subscribed event past the cursor,
and only a 2xx answer moves the cursor on, in the same short write that logs the
delivery — so events reach a webhook one at a time in `seq` order, and a restart resumes
at the cursor. Delivery is at least once: a node killed after the receiver answered and
before the cursor moved sends that event again, with the same `X-Frontdesk-Delivery` id
(`<webhook key>-<seq>`), which is what receivers deduplicate on.

Only one worker delivers a webhook: the row's lease (holder, token, expiry; taken when
expired, the token growing with every takeover) fences each write of the holder, as
inbox/store/leases.py does for channels. A failure waits with exponential backoff
(`[webhooks] base_delay` doubling up to `max_delay`); after `disable_after_hours` of
continuous failure the webhook is disabled with its last error, for an admin to see.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from channels.base import cancel_task
from inbox.config import WebhooksConfig
from inbox.events import Bus
from inbox.pipeline import webhook_http
from inbox.store.db import Database
from inbox.store.models import Event, Webhook, WebhookDelivery, utcnow
from inbox.store.secrets import SecretBox

log = logging.getLogger(__name__)

BATCH = 200  # events read past the cursor at a time
TEST_EVENT = "webhook.test"


@dataclass(frozen=True, slots=True)
class Target:
    """What a delivery needs of a webhook: read once per batch."""

    id: int
    url: str
    events: frozenset[str]
    secret: str  # clear
    key: str
    cursor: int
    attempts: int
    failing_since: dt.datetime | None


def delivery_id(key: str, seq: int) -> str:
    """Stable per (webhook, event): a retry or a resend after a crash carries the same id."""
    return f"{key}-{seq}"


def event_body(delivery: str, type_: str, seq: int | None, created_at: str, conversation_id: int | None, payload: dict[str, Any]) -> bytes:
    document = {
        "delivery": delivery,
        "type": type_,
        "seq": seq,
        "created_at": created_at,
        "conversation_id": conversation_id,
        "payload": payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def backoff(attempts: int, config: WebhooksConfig) -> float:
    """Seconds before the next try after `attempts` failures in a row."""
    return float(min(config.base_delay * (2 ** max(attempts - 1, 0)), config.max_delay))


async def send(
    target_url: str, secret: str, type_: str, delivery: str, body: bytes, config: WebhooksConfig, now: dt.datetime
) -> webhook_http.Outcome:
    headers = webhook_http.signed_headers(secret, type_, delivery, body, int(now.timestamp()))
    return await webhook_http.post(target_url, body, headers, timeout=config.timeout_seconds, allow_private=config.allow_private)


def log_row(webhook_id: int, delivery: str, seq: int | None, type_: str, outcome: webhook_http.Outcome, now: dt.datetime) -> dict[str, Any]:
    return {
        "webhook_id": webhook_id,
        "delivery_id": delivery,
        "event_seq": seq,
        "event_type": type_,
        "ok": outcome.ok,
        "response_code": outcome.response_code,
        "error": outcome.error[:2000] if outcome.error else None,
        "duration_ms": outcome.duration_ms,
        "created_at": now,
    }


# Every commit of the desk wakes the worker to ask this: built once.
_DUE_WEBHOOKS = select(Webhook.id).where(
    Webhook.enabled.is_(True),
    or_(Webhook.next_attempt_at.is_(None), Webhook.next_attempt_at <= bindparam("now")),
    or_(Webhook.lease_expires.is_(None), Webhook.lease_expires < bindparam("now"), Webhook.lease_holder == bindparam("worker_id")),
)


class WebhookWorker:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        secrets: SecretBox,
        config: WebhooksConfig,
        *,
        worker_id: str | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        poll: float = 1.0,
    ) -> None:
        self.db = db
        self.bus = bus
        self.secrets = secrets
        self.config = config
        self.worker_id = worker_id or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.poll = poll
        self._task: asyncio.Task[None] | None = None
        self._serving: dict[int, asyncio.Task[None]] = {}

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"webhooks:{self.worker_id}")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None
        for task in list(self._serving.values()):
            task.cancel()
        if self._serving:
            await asyncio.gather(*self._serving.values(), return_exceptions=True)
        self._serving.clear()
        await self.db.run(self._release_all)

    async def run(self) -> None:
        seen = 0
        while True:
            try:
                await self.dispatch()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook dispatch failed; retrying")
            seen = await self.bus.wait(seen, self.poll)

    async def dispatch(self) -> int:
        """Start serving each due webhook not already served here; returns how many started."""
        now = self.clock()
        params = {"now": now, "worker_id": self.worker_id}
        due = await self.db.query_core(lambda conn: conn.scalars(_DUE_WEBHOOKS, params).all())
        started = 0
        for webhook_id in due:
            if webhook_id in self._serving:
                continue
            task = asyncio.create_task(self.serve(webhook_id), name=f"webhook:{webhook_id}")
            self._serving[webhook_id] = task
            task.add_done_callback(partial(self._done, webhook_id))
            started += 1
        return started

    def _done(self, webhook_id: int, task: asyncio.Task[None]) -> None:
        if self._serving.get(webhook_id) is task:
            del self._serving[webhook_id]

    async def drain(self) -> None:
        """Serve every due webhook until it is caught up or waiting (for tests and the CLI)."""
        await self.dispatch()
        while self._serving:
            await asyncio.gather(*list(self._serving.values()))
            await asyncio.sleep(0)  # let the done callbacks run

    # -- one webhook --------------------------------------------------------------------

    async def serve(self, webhook_id: int) -> None:
        """Deliver this webhook's events past its cursor while they succeed and we hold it."""
        try:
            token = await self.db.run(lambda conn: self._acquire(conn, webhook_id))
            while token is not None:
                target = await self._target(webhook_id)
                if target is None:
                    return
                more = await self._deliver_batch(target, token)
                if not more:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook %s: delivery failed unexpectedly", webhook_id)

    async def _target(self, webhook_id: int) -> Target | None:
        now = self.clock()

        def read(session: Session) -> Target | None:
            row = session.get(Webhook, webhook_id)
            if row is None or not row.enabled or (row.next_attempt_at is not None and row.next_attempt_at > now):
                return None
            secret = self.secrets.open(row.secret)
            return Target(row.id, row.url, frozenset(row.events), secret, row.key, row.cursor, row.attempts, row.failing_since)

        result: Target | None = await self.db.query(read)
        return result

    async def _deliver_batch(self, target: Target, token: int) -> bool:
        """Send events past the cursor in order; True when there may be more to send now."""
        batch = await self.db.query(
            lambda session: session.execute(
                select(Event.seq, Event.type, Event.conversation_id, Event.payload, Event.created_at)
                .where(Event.seq > target.cursor)
                .order_by(Event.seq)
                .limit(BATCH)
            ).all()
        )
        if not batch:
            return False
        for event in batch:
            if event.type not in target.events:
                continue
            delivery = delivery_id(target.key, event.seq)
            body = event_body(delivery, event.type, event.seq, event.created_at.isoformat(), event.conversation_id, event.payload)
            now = self.clock()
            outcome = await send(target.url, target.secret, event.type, delivery, body, self.config, now)
            row = log_row(target.id, delivery, event.seq, event.type, outcome, self.clock())
            if not outcome.ok:
                await self.db.run(partial(self._failed, target=target, token=token, row=row))
                return False
            if not await self.db.run(partial(self._delivered, webhook_id=target.id, token=token, seq=event.seq, row=row)):
                return False
            target = Target(target.id, target.url, target.events, target.secret, target.key, event.seq, 0, None)
        last = batch[-1].seq
        if last > target.cursor:  # the rest of the batch is not subscribed to: skip past it
            if not await self.db.run(lambda conn: self._delivered(conn, target.id, token, last, None)):
                return False
        return len(batch) == BATCH

    # -- fenced writes ------------------------------------------------------------------

    def _acquire(self, conn: Connection, webhook_id: int) -> int | None:
        """Take (or renew) the webhook's lease; its token, or None when another node holds it."""
        now = self.clock()
        expires = now + dt.timedelta(seconds=self.config.lease_seconds)
        taken = conn.execute(
            update(Webhook)
            .where(
                Webhook.id == webhook_id,
                Webhook.enabled.is_(True),
                or_(Webhook.lease_expires.is_(None), Webhook.lease_expires < now, Webhook.lease_holder == self.worker_id),
            )
            .values(lease_holder=self.worker_id, lease_token=Webhook.lease_token + 1, lease_expires=expires)
            .returning(Webhook.lease_token)
        ).first()
        return None if taken is None else int(taken[0])

    def _fenced(self, webhook_id: int, token: int) -> Any:
        return update(Webhook).where(Webhook.id == webhook_id, Webhook.lease_holder == self.worker_id, Webhook.lease_token == token)

    def _delivered(self, conn: Connection, webhook_id: int, token: int, seq: int, row: dict[str, Any] | None) -> bool:
        expires = self.clock() + dt.timedelta(seconds=self.config.lease_seconds)
        done = conn.execute(
            self._fenced(webhook_id, token)
            .where(Webhook.cursor < seq)
            .values(cursor=seq, attempts=0, failing_since=None, next_attempt_at=None, last_error=None, lease_expires=expires)
        )
        if done.rowcount == 0:
            log.warning("webhook %s: lease lost before seq %s was recorded", webhook_id, seq)
            return False
        if row is not None:
            conn.execute(insert(WebhookDelivery).values(**row))
        return True

    def _failed(self, conn: Connection, target: Target, token: int, row: dict[str, Any]) -> None:
        now = self.clock()
        attempts = target.attempts + 1
        since = target.failing_since or now
        error = str(row["error"])
        values: dict[str, Any] = {"attempts": attempts, "failing_since": since, "last_error": error}
        if now - since >= dt.timedelta(hours=self.config.disable_after_hours):
            hours = self.config.disable_after_hours
            values |= {"enabled": False, "disabled_at": now, "next_attempt_at": None, "lease_holder": None, "lease_expires": None}
            values["last_error"] = f"disabled after {hours:g} hours of failed deliveries; last error: {error}"[:2000]
            log.warning("webhook %s: disabled after %g hours of failures: %s", target.id, hours, error)
        else:
            values |= {"next_attempt_at": now + dt.timedelta(seconds=backoff(attempts, self.config)), "lease_expires": None}
            log.info("webhook %s: delivery of %s failed (%s); try %d", target.id, row["delivery_id"], error, attempts)
        done = conn.execute(self._fenced(target.id, token).where(Webhook.cursor == target.cursor).values(**values))
        if done.rowcount:
            conn.execute(insert(WebhookDelivery).values(**row))

    def _release_all(self, conn: Connection) -> None:
        """Give our leases up at a clean stop, so another node need not wait for them."""
        conn.execute(update(Webhook).where(Webhook.lease_holder == self.worker_id).values(lease_holder=None, lease_expires=None))
