"""The visitor websocket `/widget/{channel}/ws` (protocol: docs/widget-protocol.md).

Every client message carries a client id, so a resend after a reconnect is stored once
(external id `visitor:client_id`); every server message carries the `seq` of its event,
so a reconnect with the last `seq` replays exactly what was missed. Visitors' messages go
through the channel's sink like any channel's; agents' replies are read back from the
store when the event bus wakes us, so they reach the visitor whichever node they hit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from channels.base import InboundMessage, Sender, Sink, cancel_task
from channels.widget import WidgetConfig
from widget.tokens import TokenSigner, identity_ok

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024
HEARTBEAT_SECONDS = 25.0
HELLO_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class TranscriptItem:
    seq: int
    message_id: int
    direction: str  # in (the visitor) | out (an agent or the system)
    text: str
    author: str | None
    created_at: str
    client_id: str | None  # the visitor's own id for their messages


class WidgetStore(Protocol):
    """What the gateway reads; implemented by the inbox over the database."""

    async def transcript(self, channel: str, thread_key: str, after: int, limit: int = 200) -> list[TranscriptItem]: ...

    async def latest_seq(self) -> int: ...

    async def agents_online(self) -> bool: ...

    async def since(self, after: int, limit: int = 500) -> tuple[int, list[tuple[str, str, TranscriptItem]]]:
        """Widget messages after `after`: (newest seq read, [(channel, thread key, item)])."""
        ...


class Wakeups(Protocol):
    async def wait(self, after: int, timeout: float) -> int: ...


@dataclass
class GatewayChannel:
    config: WidgetConfig
    sink: Sink | None
    public_url: str


class FrameError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Gateway:
    def __init__(self, secret_key: str, store: WidgetStore, bus: Wakeups, channel: Callable[[str], GatewayChannel | None]) -> None:
        self.secret_key = secret_key
        self.store = store
        self.bus = bus
        self.channel = channel
        self.hub = Hub(store, bus)

    def origin_allowed(self, info: GatewayChannel, origin: str | None) -> bool:
        allowed = info.config.allowed_origins
        if "*" in allowed:
            return True
        own = info.public_url.rstrip("/")
        return origin is not None and (origin == own or origin in allowed)

    async def serve(self, websocket: WebSocket, name: str) -> None:
        info = self.channel(name)
        if info is None:
            await websocket.close(code=4404, reason="no such widget channel")
            return
        if not self.origin_allowed(info, websocket.headers.get("origin")):
            log.warning("widget %s: websocket from origin %r refused", name, websocket.headers.get("origin"))
            await websocket.close(code=4403, reason="origin not allowed")
            return
        await websocket.accept()
        session = VisitorSession(self, info, websocket)
        try:
            await session.run()
        except WebSocketDisconnect:
            pass
        finally:
            self.hub.leave(session)


class VisitorSession:
    """One open websocket of one visitor."""

    def __init__(self, gateway: Gateway, info: GatewayChannel, websocket: WebSocket) -> None:
        self.gateway = gateway
        self.info = info
        self.config = info.config
        self.ws = websocket
        self.signer = TokenSigner(gateway.secret_key, self.config.name)
        self.key = ""  # thread key: "v:<visitor>" or "u:<identified user id>"
        self.sender: Sender | None = None
        self.after = 0
        self._sent: set[int] = set()
        self._send_lock = asyncio.Lock()
        self._recent: deque[float] = deque()

    async def run(self) -> None:
        hello = await self._first_frame()
        await self._welcome(hello)
        while True:
            try:
                raw = await asyncio.wait_for(self.ws.receive_text(), HEARTBEAT_SECONDS)
            except TimeoutError:
                await self.send({"type": "heartbeat", "seq": self.after})
                continue
            try:
                await self._handle(raw)
            except FrameError as exc:
                await self.send({"type": "error", "code": exc.code, "message": str(exc)})

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.ws.send_text(json.dumps(frame, ensure_ascii=False))

    # -- hello ------------------------------------------------------------------------

    async def _first_frame(self) -> dict[str, Any]:
        while True:
            try:
                raw = await asyncio.wait_for(self.ws.receive_text(), HELLO_TIMEOUT)
            except TimeoutError:
                await self.ws.close(code=4408, reason="no hello")
                raise WebSocketDisconnect(4408) from None
            try:
                frame = parse_frame(raw)
                if frame["type"] != "hello":
                    raise FrameError("hello_first", "the first frame must be {\"type\": \"hello\"}")
                return frame
            except FrameError as exc:
                await self.send({"type": "error", "code": exc.code, "message": str(exc)})

    async def _welcome(self, hello: dict[str, Any]) -> None:
        visitor = self.signer.visitor_of(hello.get("token"))
        token = hello.get("token")
        if visitor is None:
            visitor, token = self.signer.issue()
        identity = hello.get("identity") if isinstance(hello.get("identity"), dict) else None
        identified = False
        email = name = None
        if identity:
            user_id = str(identity.get("id") or "")[:128]
            email = _str(identity.get("email"), 320)
            name = _str(identity.get("name"), 255)
            if self.config.identity_secret and user_id:
                identified = identity_ok(self.config.identity_secret, user_id, _str(identity.get("hmac"), 128))
                if not identified:
                    await self.send({"type": "error", "code": "identity_rejected", "message": "identify() needs a valid hmac of the id"})
            if identified:
                self.key = f"u:{user_id}"
        if not self.key:
            self.key = f"v:{visitor}"
        language = _str(hello.get("language"), 16)
        self.sender = Sender(address=self.key, name=name, email=email, language=language, verified=identified)
        try:
            self.after = max(0, int(hello.get("after") or 0))
        except (TypeError, ValueError):
            self.after = 0
        await self.send(
            {
                "type": "welcome",
                "token": token,
                "visitor": visitor,
                "identified": identified,
                "agents_online": await self.gateway.store.agents_online(),
                "seq": await self.gateway.store.latest_seq(),
            }
        )
        await self.gateway.hub.join(self)
        await self._push_new()

    # -- frames from the visitor --------------------------------------------------------------

    async def _handle(self, raw: str) -> None:
        frame = parse_frame(raw)
        kind = frame["type"]
        if kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "message":
            await self._message(frame)
        elif kind == "typing":
            return  # accepted; agent-side typing display is not relayed yet
        elif kind == "hello":
            raise FrameError("already_said_hello", "hello is only the first frame")
        else:
            raise FrameError("unknown_type", f"unknown frame type {kind!r}")

    async def _message(self, frame: dict[str, Any]) -> None:
        client_id = frame.get("client_id")
        text = frame.get("text")
        if not isinstance(client_id, str) or not 1 <= len(client_id) <= 64:
            raise FrameError("bad_client_id", "client_id must be a string of 1 to 64 characters")
        if not isinstance(text, str) or not text.strip():
            raise FrameError("empty", "text must be a non-empty string")
        if len(text) > self.config.max_message_chars:
            raise FrameError("too_long", f"a message has at most {self.config.max_message_chars} characters")
        if not self._allow():
            await self.send({"type": "error", "code": "rate_limited", "client_id": client_id, "message": "too many messages; wait a few seconds"})
            return
        sink = self.info.sink
        if sink is None or self.sender is None:
            await self.send({"type": "error", "code": "unavailable", "client_id": client_id, "message": "the chat is not available right now; retry"})
            return
        inbound = InboundMessage(
            external_id=f"{self.key}:{client_id}",
            sender=self.sender,
            text=text.strip(),
            thread_key=self.key,
            meta={"visitor": self.key, "client_id": client_id},
        )
        [result] = await sink.ingest([inbound])
        await self.send({"type": "ack", "client_id": client_id, "id": result.message_id, "duplicate": result.duplicate})
        await self._push_new()

    def _allow(self) -> bool:
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - 10.0:
            self._recent.popleft()
        if len(self._recent) >= self.config.rate_limit:
            return False
        self._recent.append(now)
        return True

    # -- frames to the visitor -----------------------------------------------------------------

    async def _push_new(self) -> None:
        """Catch up from the store (after hello and after our own message)."""
        for item in await self.gateway.store.transcript(self.config.name, self.key, self.after):
            await self.deliver(item)

    async def deliver(self, item: TranscriptItem) -> None:
        self.after = max(self.after, item.seq)
        if item.message_id in self._sent:
            return
        self._sent.add(item.message_id)
        await self.send(
            {
                "type": "message",
                "seq": item.seq,
                "id": item.message_id,
                "direction": item.direction,
                "text": item.text,
                "author": item.author,
                "created_at": item.created_at,
                "client_id": item.client_id,
            }
        )


class Hub:
    """One reader per node: each new widget message is read once and handed to the
    sockets of its conversation, instead of every socket querying on every event."""

    def __init__(self, store: WidgetStore, bus: Wakeups) -> None:
        self.store = store
        self.bus = bus
        self._sessions: dict[tuple[str, str], set[VisitorSession]] = {}
        self._task: asyncio.Task[None] | None = None

    async def join(self, session: VisitorSession) -> None:
        self._sessions.setdefault((session.config.name, session.key), set()).add(session)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(await self.store.latest_seq()), name="widget-hub")

    def leave(self, session: VisitorSession) -> None:
        key = (session.config.name, session.key)
        sessions = self._sessions.get(key)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._sessions[key]

    async def stop(self) -> None:
        await cancel_task(self._task)

    async def _run(self, after: int) -> None:
        while True:
            try:
                newest, items = await self.store.since(after)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("widget hub: reading new messages failed; retrying")
                await asyncio.sleep(1.0)
                continue
            progressed = newest > after
            after = max(after, newest)
            for channel, key, item in items:
                for session in list(self._sessions.get((channel, key), ())):
                    try:
                        await session.deliver(item)
                    except Exception:  # a closing socket; the session leaves on its own
                        log.debug("widget hub: delivery to a closing socket dropped", exc_info=True)
            if not progressed:
                await self.bus.wait(after, HEARTBEAT_SECONDS)


def parse_frame(raw: str) -> dict[str, Any]:
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise FrameError("too_large", f"a frame has at most {MAX_FRAME_BYTES} bytes")
    try:
        frame = json.loads(raw)
    except json.JSONDecodeError:
        raise FrameError("bad_json", "a frame is one JSON object") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError("bad_frame", "a frame is a JSON object with a string \"type\"")
    return frame


def _str(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value.strip() else None

