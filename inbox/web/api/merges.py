"""Merge and split conversations; cancel a scheduled reply; send a failed one again."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from inbox.actions import merges
from inbox.actions.replies import cancel_scheduled, resend_message
from inbox.actions.runner import Actor
from inbox.queries import conversations as conv
from inbox.web.api.deps import Id, Svc, Who
from inbox.web.errors import not_found
from inbox.web.ids import BodyId

router = APIRouter(prefix="/api/v1", tags=["conversations"])


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: BodyId = Field(description="the conversation that receives the messages")


@router.post("/conversations/{conversation_id}/merge")
async def merge_conversation(svc: Svc, who: Who, conversation_id: Id, body: MergeIn) -> dict[str, Any]:
    """Move every message into `into` (each keeps its channel); this conversation becomes
    resolved and read-only, and what later arrives for it lands in `into`."""
    done = await merges.merge_conversation(svc.ctx, Actor.of(who), conversation_id, body.into)
    return {"merged": done.conversation_id, "into": await _shape(svc, who, done.into), "moved": done.moved}


@router.post("/messages/{message_id}/split", status_code=201)
async def split_conversation(svc: Svc, who: Who, message_id: Id) -> dict[str, Any]:
    """Start a new conversation (same contact and channel) at this message: it and every
    later message move there."""
    done = await merges.split_conversation(svc.ctx, Actor.of(who), message_id)
    return {"conversation": await _shape(svc, who, done.conversation_id), "from": done.source, "moved": done.moved}


@router.delete("/messages/{message_id}", status_code=204)
async def cancel_message(svc: Svc, who: Who, message_id: Id) -> Response:
    """Cancel a scheduled reply (409 once it is being sent or was sent)."""
    await cancel_scheduled(svc.ctx, Actor.of(who), message_id)
    return Response(status_code=204)


@router.post("/messages/{message_id}/resend")
async def resend(svc: Svc, who: Who, message_id: Id) -> dict[str, Any]:
    """Send again a reply whose delivery is `failed` or `unknown` (for `unknown` the customer
    may already have it): back to `queued`, through the outbox. 409 `not_resendable` otherwise."""
    await resend_message(svc.ctx, Actor.of(who), message_id)
    shape = await svc.db.query_core(lambda conn: conv.message_shape(conn, message_id))
    if shape is None:
        raise not_found("message")
    return shape


async def _shape(svc: Svc, who: Who, conversation_id: int) -> dict[str, Any]:
    async with svc.db.read() as session:
        found = await conv.get_visible(session, who, conversation_id)
        if found is None:
            raise not_found("conversation")
        return (await conv.describe(session, [found]))[0]
