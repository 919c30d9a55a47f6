"""Outbound webhooks: create, change, delete, and send a test. Admin-only; the secret is
sealed at rest and never shown again nor written to the audit log."""

from __future__ import annotations

import secrets as random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Forbidden, Invalid, NotFound
from inbox.pipeline import webhook_http, webhooks
from inbox.store.models import Event, Webhook, WebhookDelivery, utcnow
from routing.vocabulary import EVENT_TYPES

MIN_SECRET = 16
MAX_SECRET = 512


@dataclass(frozen=True, slots=True)
class TestResult:
    delivery_id: str
    ok: bool
    response_code: int | None
    error: str | None
    duration_ms: int


def _admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("admin role required")


async def _checked_url(ctx: Context, url: str) -> str:
    url = url.strip()
    try:
        await webhook_http.checked_address(url, ctx.webhooks.allow_private)
    except webhook_http.RefusedAddress as exc:
        raise Invalid(f"url: {exc}", code="webhook_url_refused") from exc
    return url


def _checked_events(events: Sequence[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise Invalid(f"events: unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}")
    chosen: list[str] = [t for t in EVENT_TYPES if t in set(events)]
    if not chosen:
        raise Invalid("events: choose at least one event type")
    return chosen


def _checked_secret(secret: str) -> str:
    if not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise Invalid(f"secret: between {MIN_SECRET} and {MAX_SECRET} characters")
    return secret


async def create_webhook(ctx: Context, actor: Actor, url: str, events: Sequence[str], secret: str) -> int:
    """A new webhook; it receives the events committed from now on."""
    _admin(actor)
    url = await _checked_url(ctx, url)
    chosen = _checked_events(events)
    sealed = ctx.secrets.seal(_checked_secret(secret))

    def work(tx: Tx) -> int:
        latest = int(tx.conn.scalar(select(func.max(Event.seq))) or 0)
        webhook_id = tx.conn.execute(
            insert(Webhook)
            .values(url=url, events=chosen, secret=sealed, key=random.token_hex(8), cursor=latest, created_at=tx.now)
            .returning(Webhook.id)
        ).scalar_one()
        tx.audit("webhook.create", f"webhook:{webhook_id}", {"url": url, "events": chosen})
        return int(webhook_id)

    return await perform(ctx.db, ctx.bus, actor, work)


async def update_webhook(
    ctx: Context,
    actor: Actor,
    webhook_id: int,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    secret: str | None = None,
    enabled: bool | None = None,
) -> None:
    """Change what is given. Enabling a disabled webhook clears its failure and resumes
    at its cursor: nothing committed since it stopped is skipped."""
    _admin(actor)
    values: dict[str, object] = {}
    details: dict[str, object] = {}
    if url is not None:
        values["url"] = details["url"] = await _checked_url(ctx, url)
    if events is not None:
        values["events"] = details["events"] = _checked_events(events)
    if secret:
        values["secret"] = ctx.secrets.seal(_checked_secret(secret))
        details["signing_changed"] = True  # (a key naming the secret would be redacted)
    if enabled is not None:
        values["enabled"] = details["enabled"] = enabled
        if enabled:
            values |= {"attempts": 0, "failing_since": None, "next_attempt_at": None, "last_error": None, "disabled_at": None}
        else:
            values["lease_expires"] = None

    def work(tx: Tx) -> None:
        if tx.conn.scalar(select(Webhook.id).where(Webhook.id == webhook_id)) is None:
            raise NotFound.of("webhook")
        if values:
            tx.conn.execute(update(Webhook).where(Webhook.id == webhook_id).values(**values))
        tx.audit("webhook.update", f"webhook:{webhook_id}", details)

    await perform(ctx.db, ctx.bus, actor, work)


async def delete_webhook(ctx: Context, actor: Actor, webhook_id: int) -> None:
    _admin(actor)

    def work(tx: Tx) -> None:
        url = tx.conn.scalar(select(Webhook.url).where(Webhook.id == webhook_id))
        if url is None:
            raise NotFound.of("webhook")
        tx.conn.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
        tx.conn.execute(delete(Webhook).where(Webhook.id == webhook_id))
        tx.audit("webhook.delete", f"webhook:{webhook_id}", {"url": url})

    await perform(ctx.db, ctx.bus, actor, work)


async def test_webhook(ctx: Context, actor: Actor, webhook_id: int) -> TestResult:
    """POST a signed `webhook.test` event now (outside the ordered feed, never retried),
    log the attempt and return its outcome. Works on a disabled webhook too."""
    _admin(actor)
    row = await ctx.db.query(lambda session: session.get(Webhook, webhook_id))
    if row is None:
        raise NotFound.of("webhook")
    delivery = f"{row.key}-test-{uuid.uuid4().hex[:12]}"
    now = utcnow()
    body = webhooks.event_body(delivery, webhooks.TEST_EVENT, None, now.isoformat(), None, {"webhook_id": webhook_id, "by": actor.name})
    outcome = await webhooks.send(row.url, ctx.secrets.open(row.secret), webhooks.TEST_EVENT, delivery, body, ctx.webhooks, now)
    log = webhooks.log_row(webhook_id, delivery, None, webhooks.TEST_EVENT, outcome, now)

    def work(tx: Tx) -> None:
        if tx.conn.scalar(select(Webhook.id).where(Webhook.id == webhook_id)) is None:
            raise NotFound.of("webhook")
        tx.conn.execute(insert(WebhookDelivery).values(**log))
        tx.audit(
            "webhook.test", f"webhook:{webhook_id}", {"delivery_id": delivery, "ok": outcome.ok, "response_code": outcome.response_code}
        )

    await perform(ctx.db, ctx.bus, actor, work)
    return TestResult(delivery, outcome.ok, outcome.response_code, outcome.error, outcome.duration_ms)
