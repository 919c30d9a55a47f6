"""The change feed: `GET /api/v1/events?after=SEQ` and the websocket `/api/v1/stream`.

A client remembers the last `seq` it saw; reconnecting with it replays what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox import conversations as conv
from inbox import events
from inbox.api.deps import Svc, Who, authenticate
from inbox.api.errors import ApiError
from inbox.auth import Principal
from inbox.models import Conversation, Event
from inbox.services import Services
from inbox.sessions import COOKIE

router = APIRouter(prefix="/api/v1", tags=["events"])


async def visible_events(session: AsyncSession, who: Principal, after: int, limit: int) -> list[dict[str, Any]]:
    query = select(Event).where(Event.seq > after).order_by(Event.seq).limit(limit)
    if not who.is_admin:
        visible_ids = select(Conversation.id).where(await conv.visibility(session, who))
        query = query.where(
            or_(Event.conversation_id.in_(visible_ids), Event.conversation_id.is_(None) & ~Event.type.startswith("quarantine."))
        )
    rows = (await session.scalars(query)).all()
    return [events.EventRecord(r.seq, r.type, r.conversation_id, r.payload, r.created_at.isoformat()).as_json() for r in rows]


@router.get("/events")
async def list_events(svc: Svc, who: Who, after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    async with svc.db.read() as session:
        items = await visible_events(session, who, after, limit)
        latest = await events.latest_seq(session)
    return {"items": items, "next_cursor": str(items[-1]["seq"]) if items else None, "latest_seq": latest}


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    token = websocket.query_params.get("token")
    try:
        who = await authenticate(svc, f"Bearer {token}" if token else websocket.headers.get("authorization"), websocket.cookies.get(COOKIE), "GET")
    except ApiError as exc:
        await websocket.close(code=4401, reason=exc.message)
        return
    try:
        after = int(websocket.query_params.get("after", "0"))
    except ValueError:
        await websocket.close(code=4400, reason="after must be an integer")
        return
    await websocket.accept()
    receiver = asyncio.create_task(_drain_client(websocket))
    try:
        while not receiver.done():
            async with svc.db.read() as session:
                batch = await visible_events(session, who, after, 500)
            for item in batch:
                await websocket.send_json(item)
                after = item["seq"]
            if not batch:
                # The bus wakes us at once; the timeout is the fallback poll (a lost
                # wake-up, or several nodes without a Redis bus) and the heartbeat.
                latest = await svc.bus.wait(after, 5.0)
                if latest <= after:
                    await websocket.send_json({"type": "heartbeat", "seq": after})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await receiver


async def _drain_client(websocket: WebSocket) -> None:
    """Read (and ignore) client frames so a close is noticed."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()
