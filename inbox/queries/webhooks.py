"""Webhooks as admins see them (never their secret) and their delivery log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.store.models import Webhook, WebhookDelivery

DELIVERY_PAGE = 50


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class WebhookView:
    id: int
    url: str
    events: list[str]
    enabled: bool
    cursor: int
    attempts: int
    failing_since: dt.datetime | None
    next_attempt_at: dt.datetime | None
    last_error: str | None
    disabled_at: dt.datetime | None
    created_at: dt.datetime

    @classmethod
    def of(cls, row: Webhook) -> WebhookView:
        return cls(
            row.id,
            row.url,
            list(row.events),
            row.enabled,
            row.cursor,
            row.attempts,
            row.failing_since,
            row.next_attempt_at,
            row.last_error,
            row.disabled_at,
            row.created_at,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": self.events,
            "enabled": self.enabled,
            "secret_set": True,
            "last_delivered_seq": self.cursor,
            "failing_since": _iso(self.failing_since),
            "next_attempt_at": _iso(self.next_attempt_at),
            "last_error": self.last_error,
            "disabled_at": _iso(self.disabled_at),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    delivery_id: str
    event_seq: int | None
    event_type: str
    ok: bool
    response_code: int | None
    error: str | None
    duration_ms: int
    created_at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "delivery_id": self.delivery_id,
            "event_seq": self.event_seq,
            "event_type": self.event_type,
            "status": "delivered" if self.ok else "failed",
            "response_code": self.response_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "created_at": self.created_at.isoformat(),
        }


def list_webhooks(session: Session) -> list[WebhookView]:
    return [WebhookView.of(row) for row in session.scalars(select(Webhook).order_by(Webhook.id))]


def get_webhook(session: Session, webhook_id: int) -> WebhookView | None:
    row = session.get(Webhook, webhook_id)
    return WebhookView.of(row) if row is not None else None


def deliveries(session: Session, webhook_id: int, before: int | None = None, limit: int = DELIVERY_PAGE) -> list[DeliveryView]:
    """The newest attempts first; `before` (a delivery row id) pages back."""
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    rows = session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit))
    return [
        DeliveryView(r.id, r.delivery_id, r.event_seq, r.event_type, r.ok, r.response_code, r.error, r.duration_ms, r.created_at)
        for r in rows
    ]
