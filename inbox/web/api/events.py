"""The change feed: `GET /api/v1/events?after=SEQ` and the websocket `/api/v1/stream`.

A client remembers the last `seq` it saw; reconnecting with it replays what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox import events
from inbox.auth import Principal
from inbox.queries import conversations as conv
from inbox.runtime.services import Services
from inbox.sessions import COOKIE
from inbox.store.models import Conversation, Event
from inbox.web.api.deps import Svc, Who, authenticate, caller_or_none
from inbox.web.errors import ApiError
from inbox.web.recheck import CLOSE_CODE, Recheck
from inbox.web.signals import typing_signal

router = APIRouter(prefix="/api/v1", tags=["events"])


async def visible_events(session: AsyncSession, who: Principal, after: int, limit: int) -> list[dict[str, Any]]:
    query = select(Event).where(Event.seq > after).order_by(Event.seq).limit(limit)
    # A notification is its agent's alone, whoever else may see the conversation (admins too).
    query = query.where(or_(~Event.type.startswith("notification."), Event.payload["agent_id"].as_integer() == who.agent_id))
    if not who.is_admin:
        visible_ids = select(Conversation.id).where(await conv.visibility(session, who))
        query = query.where(
            or_(Event.conversation_id.in_(visible_ids), Event.conversation_id.is_(None) & ~Event.type.startswith("quarantine."))
        )
    rows = (await session.scalars(query)).all()
    return [events.EventRecord(r.seq, r.type, r.conversation_id, r.payload, r.created_at.isoformat()).as_json() for r in rows]


@router.get("/events")
async def list_events(
    svc: Svc, who: Who, after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> dict[str, Any]:
    async with svc.db.read() as session:
        items = await visible_events(session, who, after, limit)
        latest = await events.latest_seq(session)
    return {"items": items, "next_cursor": str(items[-1]["seq"]) if items else None, "latest_seq": latest}


SIGNAL_KINDS = frozenset({"typing", "viewing"})


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    """Events as they are committed, plus signals (typing, viewing) of visible conversations.

    The client may send `{"type": "typing" | "viewing", "conversation_id": N}`; the other
    agents on that conversation and, for typing on a widget conversation, the visitor see it.
    """
    svc: Services = websocket.app.state.services
    token = websocket.query_params.get("token")
    authorization, cookie = f"Bearer {token}" if token else websocket.headers.get("authorization"), websocket.cookies.get(COOKIE)
    try:
        who = await authenticate(svc, authorization, cookie, "GET")
    except ApiError as exc:
        await websocket.close(code=CLOSE_CODE, reason=exc.message)
        return
    # Asked again before each batch and every few seconds: a revoked token, an ended
    # session, a new password or a deactivated agent closes the socket (CLOSE_CODE).
    recheck = Recheck(lambda: caller_or_none(svc, authorization, cookie))
    try:
        after = int(websocket.query_params.get("after", "0"))
    except ValueError:
        await websocket.close(code=4400, reason="after must be an integer")
        return
    await websocket.accept()
    link = _StreamLink(svc, who, websocket)
    unsubscribe = svc.bus.on_signal(link.offer)
    receiver = asyncio.create_task(link.read_client())
    relay = asyncio.create_task(link.relay_signals())
    try:
        while not receiver.done():
            async with svc.db.read() as session:
                batch = await visible_events(session, who, after, 500)
            if batch or not recheck.until_due():
                fresh = await recheck.confirm()
                if fresh is None:
                    await websocket.close(code=CLOSE_CODE, reason="the credential is no longer valid")
                    break
                if fresh != who:  # a new role: read the batch again with what they may see now
                    who = link.who = fresh
                    continue
            for item in batch:
                await link.send(item)
                after = item["seq"]
            if not batch:
                # The bus wakes us at once; the timeout is the fallback poll (a lost
                # wake-up, or several nodes without a Redis bus), the heartbeat and the
                # next credential check.
                latest = await svc.bus.wait(after, max(0.05, recheck.until_due()))
                if latest <= after:
                    await link.send({"type": "heartbeat", "seq": after})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        unsubscribe()
        for task in (receiver, relay):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class _StreamLink:
    """One agent's stream socket: serialised sends, signals in and out."""

    def __init__(self, svc: Services, who: Principal, websocket: WebSocket) -> None:
        self.svc = svc
        self.who = who
        self.ws = websocket
        self.lock = asyncio.Lock()
        self.signals: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=200)
        self._visible: dict[int, bool] = {}

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.lock:
            await self.ws.send_json(frame)

    def offer(self, signal: dict[str, Any]) -> None:
        if signal.get("kind") in SIGNAL_KINDS and isinstance(signal.get("conversation_id"), int):
            if signal.get("agent_id") != self.who.agent_id:  # not our own echo
                with contextlib.suppress(asyncio.QueueFull):
                    self.signals.put_nowait(signal)

    async def visible(self, conversation_id: int) -> bool:
        if conversation_id not in self._visible:
            if len(self._visible) > 10_000:
                self._visible.clear()
            async with self.svc.db.read() as session:
                self._visible[conversation_id] = await conv.get_visible(session, self.who, conversation_id) is not None
        return self._visible[conversation_id]

    async def relay_signals(self) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                signal = await self.signals.get()
                if await self.visible(signal["conversation_id"]):
                    frame = {k: signal.get(k) for k in ("conversation_id", "from", "author", "agent_id")}
                    await self.send({"type": f"signal.{signal['kind']}", **frame})

    async def read_client(self) -> None:
        """Client frames: typing/viewing notices; anything else is ignored."""
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                raw = await self.ws.receive_text()
                try:
                    frame = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(frame, dict) or frame.get("type") not in SIGNAL_KINDS:
                    continue
                conversation_id = frame.get("conversation_id")
                if isinstance(conversation_id, int) and await self.visible(conversation_id):
                    await typing_signal(self.svc, self.who, conversation_id, frame["type"])
