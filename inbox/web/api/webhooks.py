"""Admin-only routes for outbound webhooks; each change is an action (inbox.actions.webhooks)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from inbox.actions import webhooks
from inbox.actions.runner import Actor
from inbox.errors import NotFound
from inbox.queries import webhooks as webhook_queries
from inbox.web.api.deps import MAX_ID, Admin, Id, Svc
from routing.vocabulary import EventType

router = APIRouter(prefix="/api/v1", tags=["webhooks"])


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000)
    events: list[EventType] = Field(min_length=1)
    secret: str = Field(min_length=webhooks.MIN_SECRET, max_length=webhooks.MAX_SECRET)


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[EventType] | None = Field(default=None, min_length=1)
    secret: str | None = Field(default=None, min_length=webhooks.MIN_SECRET, max_length=webhooks.MAX_SECRET)
    enabled: bool | None = None


async def _one(svc: Svc, webhook_id: int) -> dict[str, Any]:
    view = await svc.db.query(lambda session: webhook_queries.get_webhook(session, webhook_id))
    if view is None:
        raise NotFound.of("webhook")
    return view.as_json()


@router.get("/webhooks")
async def list_webhooks(svc: Svc, who: Admin) -> dict[str, Any]:
    return {"items": [w.as_json() for w in await svc.db.query(webhook_queries.list_webhooks)], "next_cursor": None}


@router.post("/webhooks", status_code=201)
async def create_webhook(svc: Svc, who: Admin, body: WebhookIn) -> dict[str, Any]:
    webhook_id = await webhooks.create_webhook(svc.ctx, Actor.of(who), body.url, body.events, body.secret)
    return await _one(svc, webhook_id)


@router.get("/webhooks/{webhook_id}")
async def get_webhook(svc: Svc, who: Admin, webhook_id: Id) -> dict[str, Any]:
    return await _one(svc, webhook_id)


@router.patch("/webhooks/{webhook_id}")
async def update_webhook(svc: Svc, who: Admin, webhook_id: Id, body: WebhookPatch) -> dict[str, Any]:
    await webhooks.update_webhook(
        svc.ctx, Actor.of(who), webhook_id, url=body.url, events=body.events, secret=body.secret, enabled=body.enabled
    )
    return await _one(svc, webhook_id)


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(svc: Svc, who: Admin, webhook_id: Id) -> Response:
    await webhooks.delete_webhook(svc.ctx, Actor.of(who), webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries")
async def list_deliveries(
    svc: Svc,
    who: Admin,
    webhook_id: Id,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = webhook_queries.DELIVERY_PAGE,
) -> dict[str, Any]:
    await _one(svc, webhook_id)
    rows = await svc.db.query(lambda session: webhook_queries.deliveries(session, webhook_id, before, limit))
    return {"items": [d.as_json() for d in rows], "next_cursor": str(rows[-1].id) if len(rows) == limit else None}


@router.post("/webhooks/{webhook_id}/test")
async def test_webhook(svc: Svc, who: Admin, webhook_id: Id) -> dict[str, Any]:
    result = await webhooks.test_webhook(svc.ctx, Actor.of(who), webhook_id)
    return {
        "delivery_id": result.delivery_id,
        "status": "delivered" if result.ok else "failed",
        "response_code": result.response_code,
        "error": result.error,
        "duration_ms": result.duration_ms,
    }
