"""The visitor websocket `/widget/{channel}/ws` (protocol: docs/widget-protocol.md).

Every client message carries a client id, so a resend after a reconnect is stored once
(external id `visitor:client_id`); every server message carries the `seq` of its event,
so a reconnect with the last `seq` replays exactly what was missed. Visitors' messages go
through the channel's sink like any channel's; agents' replies are read back from the
store when the event bus wakes us, so they reach the visitor whichever node they hit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from channels.base import InboundAttachment, InboundMessage, IngestResult, Interaction, Sender, Sink, SupportsInteractions, cancel_task
from channels.untrusted import TooDeep, Unreadable, load_json
from channels.widget import EMAIL, WidgetConfig
from routing.request_types import RequestTypeSpec
from widget import csat
from widget import requests as catalogue
from widget.tokens import TokenSigner, identity_ok

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024
MAX_FRAME_DEPTH = 8  # hello's identity is the deepest: two levels
HEARTBEAT_SECONDS = 25.0
HELLO_TIMEOUT = 15.0
# Each bad frame is answered with an error frame; a client sending more than this many
# in 10 s is not a confused widget, and its socket is closed (code 4429).
MAX_BAD_FRAMES = 30


UPLOAD_TICKET_SECONDS = 24 * 3600
TYPING_SIGNAL_EVERY = 3.0
RATE_WINDOW = 10.0  # seconds of the per-visitor message limit  # at most one visitor-typing signal per socket this often


@dataclass(frozen=True, slots=True)
class FileRef:
    id: int
    name: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class TranscriptItem:
    seq: int
    message_id: int
    direction: str  # in (the visitor) | out (an agent or the system)
    text: str
    author: str | None
    created_at: str
    client_id: str | None  # the visitor's own id for their messages
    files: tuple[FileRef, ...] = ()
    conversation_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoredFile:
    channel: str
    name: str
    content_type: str
    data: bytes


class WidgetStore(Protocol):
    """What the gateway reads; implemented by the inbox over the database."""

    async def transcript(self, channel: str, thread_key: str, after: int, limit: int = 200) -> list[TranscriptItem]: ...

    async def latest_seq(self) -> int: ...

    async def agents_online(self) -> bool: ...

    async def since(self, after: int, limit: int = 500) -> tuple[int, list[tuple[str, str, TranscriptItem]]]:
        """Widget messages after `after`: (newest seq read, [(channel, thread key, item)])."""
        ...

    async def file(self, attachment_id: int) -> StoredFile | None: ...


class Wakeups(Protocol):
    """The event bus, as the gateway uses it: wake-ups and ephemeral signals."""

    async def wait(self, after: int, timeout: float) -> int: ...

    def on_signal(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]: ...

    async def signal(self, payload: dict[str, Any]) -> None: ...


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
    def __init__(
        self,
        secret_key: str,
        store: WidgetStore,
        bus: Wakeups,
        channel: Callable[[str], GatewayChannel | None],
    ) -> None:
        self.secret_key = secret_key
        self.store = store
        self.bus = bus
        self.channel = channel
        self.hub = Hub(store, bus)
        self._signers: dict[str, TokenSigner] = {}

    def signer(self, name: str) -> TokenSigner:
        """The channel's token signer, one per channel (not one per socket)."""
        found = self._signers.get(name)
        if found is None:
            found = self._signers[name] = TokenSigner(self.secret_key, name)
        return found

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


class UploadError(ValueError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


async def upload(
    gateway: Gateway,
    info: GatewayChannel,
    ticket: str | None,
    client_id: str,
    text: str,
    file: InboundAttachment,
) -> IngestResult:
    """A visitor's file (with an optional caption): one message through the channel's sink.

    The ticket from the welcome frame names the visitor's conversation; the client id
    makes a retried upload idempotent, exactly like a resent chat message.
    """
    signer = gateway.signer(info.config.name)
    claims = signer.unseal(ticket, UPLOAD_TICKET_SECONDS)
    if claims is None or not isinstance(claims.get("key"), str):
        raise UploadError(
            401,
            "bad_ticket",
            "the upload ticket is missing, forged or expired; reconnect and retry",
        )
    if not 1 <= len(client_id) <= 64:
        raise UploadError(422, "bad_client_id", "client_id must be a string of 1 to 64 characters")
    if len(text) > info.config.max_message_chars:
        raise UploadError(422, "too_long", f"a message has at most {info.config.max_message_chars} characters")
    if info.sink is None:
        raise UploadError(503, "unavailable", "the chat is not available right now; retry")
    key = claims["key"]
    sender = Sender(
        address=key,
        name=claims.get("name"),
        email=claims.get("email"),
        language=claims.get("language"),
        verified=bool(claims.get("verified")),
    )
    inbound = InboundMessage(
        external_id=f"{key}:{client_id}",
        sender=sender,
        text=text.strip(),
        thread_key=key,
        attachments=(file,),
        meta=_meta(key, client_id, claims.get("continue_by_email"), visitor_context(claims.get("context"))),
    )
    [result] = await info.sink.ingest([inbound])
    return result


class VisitorSession:
    """One open websocket of one visitor."""

    def __init__(self, gateway: Gateway, info: GatewayChannel, websocket: WebSocket) -> None:
        self.gateway = gateway
        self.info = info
        self.config = info.config
        self.ws = websocket
        self.signer = gateway.signer(self.config.name)
        self.key = ""  # thread key: "v:<visitor>" or "u:<identified user id>"
        self.sender: Sender | None = None
        self.after = 0
        self._sent: set[int] = set()
        self._csat_offered: set[str] = set()
        self._send_lock = asyncio.Lock()
        self._recent: deque[float] = deque()
        self.conversation_id: int | None = None
        self.continue_by_email: str | None = None
        self.context: dict[str, str] = {}
        self._typing_said = 0.0
        self._bad: deque[float] = deque()  # when the last bad frames came
        self.active_at = time.monotonic()  # last frame either way (heartbeats when quiet)

    async def run(self) -> None:
        hello = await self._first_frame()
        await self._welcome(hello)
        while True:
            try:
                frame = await self._next_frame()  # the hub sends heartbeats while we wait
                await self._handle(frame)
            except FrameError as exc:
                await self._refuse(exc)

    async def _next_frame(self) -> dict[str, Any]:
        """The next frame from the visitor, parsed; FrameError for a bad one."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        self.active_at = time.monotonic()
        text = message.get("text")
        if text is None:
            raise FrameError("bad_frame", "frames are text, one JSON object each; a binary frame is not read")
        return parse_frame(text)

    async def _refuse(self, error: FrameError, extra: dict[str, Any] | None = None) -> None:
        """Answer a bad frame with an error frame (`extra` keys added); close the socket of a client that floods."""
        now = time.monotonic()
        while self._bad and self._bad[0] <= now - 10.0:
            self._bad.popleft()
        self._bad.append(now)
        if len(self._bad) > MAX_BAD_FRAMES:
            log.warning(
                "widget %s: socket of %s closed after %d bad frames in 10 s",
                self.config.name,
                self.key or "a visitor",
                len(self._bad),
            )
            await self.ws.close(code=4429, reason="too many bad frames")
            raise WebSocketDisconnect(4429)
        await self.send({"type": "error", "code": error.code, "message": str(error), **(extra or {})})

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.ws.send_text(json.dumps(frame, ensure_ascii=False))
        self.active_at = time.monotonic()

    # -- hello ------------------------------------------------------------------------

    async def _first_frame(self) -> dict[str, Any]:
        deadline = time.monotonic() + HELLO_TIMEOUT
        while True:
            try:
                frame = await asyncio.wait_for(self._next_frame(), max(0.0, deadline - time.monotonic()))
                if frame["type"] != "hello":
                    raise FrameError("hello_first", 'the first frame must be {"type": "hello"}')
                return frame
            except TimeoutError:
                await self.ws.close(code=4408, reason="no hello")
                raise WebSocketDisconnect(4408) from None
            except FrameError as exc:
                await self._refuse(exc)

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
                    await self.send(
                        {
                            "type": "error",
                            "code": "identity_rejected",
                            "message": "identify() needs a valid hmac of the id",
                        }
                    )
            if identified:
                self.key = f"u:{user_id}"
        if not self.key:
            self.key = f"v:{visitor}"
        vouched = email  # only the identified user's own email is verified
        given = hello.get("prechat")
        prechat: dict[str, Any] = given if isinstance(given, dict) else {}
        if "name" in self.config.prechat and not name:
            name = (_str(prechat.get("name"), 255) or "").strip() or None
        claimed = _str(prechat.get("email"), 320) if "email" in self.config.prechat else None
        if claimed and EMAIL.match(claimed.strip()) and not email:
            email = claimed.strip()  # claimed, not verified: stored as such, never merges contacts
        self.context = visitor_context(hello.get("context"))
        language = _str(hello.get("language"), 16)
        continuation = _str(hello.get("continue_by_email"), 320)
        if continuation and EMAIL.match(continuation):
            self.continue_by_email = continuation
            email = email or continuation
        self.sender = Sender(address=self.key, name=name, email=email, language=language, verified=identified and email == vouched)
        try:
            after = int(hello.get("after") or 0)
        except (TypeError, ValueError, OverflowError):
            after = 0
        self.after = after if 0 <= after < 2**63 else 0  # a seq the database can compare
        ticket = self.signer.seal(
            {
                "key": self.key,
                "name": name,
                "email": email,
                "language": language,
                "verified": identified,
                "continue_by_email": self.continue_by_email,
                "context": self.context,
            }
        )
        await self.send(
            {
                "type": "welcome",
                "token": token,
                "visitor": visitor,
                "identified": identified,
                "agents_online": await self.gateway.store.agents_online(),
                "offline_email": bool(self.config.offline_email_channel),
                "prechat": list(self.config.prechat),
                "request_types": [catalogue.offered(spec) for spec in await self._request_types()],
                "seq": await self.gateway.store.latest_seq(),
                "upload": {
                    "url": f"{self.info.public_url}/widget/{self.config.name}/upload",
                    "ticket": ticket,
                    "max_bytes": self.config.max_upload_bytes,
                },
            }
        )
        await self.gateway.hub.join(self)
        await self._push_new()
        await self.offer_csat()

    # -- frames from the visitor --------------------------------------------------------------

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "ping":
            await self.send({"type": "pong"})
        elif kind == "message":
            await self._message(frame)
        elif kind == "typing":
            await self._typing()
        elif kind == "csat":
            await self._csat(frame)
        elif kind == "request":
            await self._request(frame)
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
        if "context" in frame:  # the visitor moved to another page
            self.context = visitor_context(frame.get("context")) or self.context
        wait = self._wait()
        if wait > 0:
            await self.send(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "client_id": client_id,
                    "retry_after": round(wait, 3),
                    "message": "too many messages; resend after retry_after seconds",
                }
            )
            return
        sink = self.info.sink
        if sink is None or self.sender is None:
            await self.send(
                {
                    "type": "error",
                    "code": "unavailable",
                    "client_id": client_id,
                    "message": "the chat is not available right now; retry",
                }
            )
            return
        inbound = InboundMessage(
            external_id=f"{self.key}:{client_id}",
            sender=self.sender,
            text=text.strip(),
            thread_key=self.key,
            meta=_meta(self.key, client_id, self.continue_by_email, self.context),
        )
        try:
            [result] = await sink.ingest([inbound])
        except Exception:
            # Not stored: the visitor resends it with the same client_id (stored once).
            log.exception("widget %s: message %s of %s not stored", self.config.name, client_id, self.key)
            await self.send(
                {
                    "type": "error",
                    "code": "unavailable",
                    "client_id": client_id,
                    "message": "the message was not stored; retry",
                }
            )
            return
        self.conversation_id = result.conversation_id or self.conversation_id
        await self.send(
            {
                "type": "ack",
                "client_id": client_id,
                "id": result.message_id,
                "duplicate": result.duplicate,
            }
        )
        await self._push_new()

    # -- request forms (widget/requests.py) ------------------------------------------------------

    async def _request_types(self) -> list[RequestTypeSpec]:
        """The request types this channel offers (none unless its `request_types` names some)."""
        store = self.gateway.store
        if not self.config.request_types or not isinstance(store, catalogue.RequestCatalogue):
            return []
        return await store.request_types(self.config.request_types)

    async def _request(self, frame: dict[str, Any]) -> None:
        """A request type's form, answered: checked as the portal checks it, stored once per client id."""
        client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
        try:
            checked = catalogue.read_request(frame, await self._request_types())
        except catalogue.BadRequest as exc:
            extra: dict[str, Any] = {}
            if exc.field is not None:
                extra["field"] = exc.field
            if client_id is not None and exc.code != "bad_client_id":
                extra["client_id"] = client_id
            await self._refuse(FrameError(exc.code, str(exc)), extra)  # counts as a bad frame
            return
        if "context" in frame:
            self.context = visitor_context(frame.get("context")) or self.context
        wait = self._wait()
        if wait > 0:
            await self.send(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "client_id": checked.client_id,
                    "retry_after": round(wait, 3),
                    "message": "too many messages; resend after retry_after seconds",
                }
            )
            return
        sink = self.info.sink
        result = None
        if isinstance(sink, catalogue.RequestSink) and self.sender is not None:
            meta = _meta(self.key, checked.client_id, self.continue_by_email, self.context)
            meta["via"] = "widget"
            meta["request"] = {"type": checked.spec.name, "fields": checked.fields}
            inbound = InboundMessage(
                external_id=f"{self.key}:{checked.client_id}",
                sender=self.sender,
                text=checked.text,
                subject=checked.spec.name,
                thread_key=self.key,
                meta=meta,
            )
            try:
                result = await sink.open_request(inbound, checked.spec, checked.fields)
            except Exception:
                log.exception("widget %s: request %s of %s not stored", self.config.name, checked.client_id, self.key)
        if result is None:
            await self.send(
                {"type": "error", "code": "unavailable", "client_id": checked.client_id, "message": "the request was not stored; retry"}
            )
            return
        self.conversation_id = result.conversation_id
        await self.send(
            {
                "type": "ack",
                "client_id": checked.client_id,
                "id": result.message_id,
                "duplicate": result.duplicate,
                "ticket_id": result.ticket_id,
            }
        )
        await self._push_new()

    # -- satisfaction surveys (widget/csat.py) -------------------------------------------------

    async def offer_csat(self, offer: csat.SurveyOffer | None = None) -> None:
        """Show the conversation's waiting survey (the given one, or the store's), once per token."""
        store = self.gateway.store
        if offer is None and isinstance(store, csat.SurveyStore) and self.key:
            offer = await store.open_survey(self.config.name, self.key)
        if offer is not None and offer.token not in self._csat_offered:
            self._csat_offered.add(offer.token)
            await self.send(csat.offer_frame(offer))

    async def _csat(self, frame: dict[str, Any]) -> None:
        """The visitor's stars: recorded through the channel's sink (once per survey)."""
        try:
            token, rating, comment = csat.read_rating(frame)
        except csat.BadRating as exc:
            raise FrameError(exc.code, str(exc)) from None
        sink = self.info.sink
        outcome = "expired"
        if isinstance(sink, SupportsInteractions):  # the one way a press reaches the inbox, as on Slack and Telegram
            action = f"{csat.RATE_ACTION}{rating}" if rating is not None else csat.COMMENT_ACTION
            pressed = Interaction(Sender(address=self.key or ""), action, token, text=comment)
            outcome = (await sink.interact(pressed)).outcome or "expired"
        await self.send({"type": "csat_done", "outcome": outcome, "rating": rating})

    async def _typing(self) -> None:
        """Tell the agents on this conversation that the visitor is typing (throttled)."""
        now = time.monotonic()
        if self.conversation_id is None or now - self._typing_said < TYPING_SIGNAL_EVERY:
            return
        self._typing_said = now
        author = (self.sender.name if self.sender else None) or None
        await self.gateway.bus.signal(
            {
                "kind": "typing",
                "from": "contact",
                "conversation_id": self.conversation_id,
                "author": author,
            }
        )

    def _wait(self) -> float:
        """0 when the message may be stored now (and counts it); else the seconds until a
        slot of the 10 s window frees up, which the client waits before resending."""
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - RATE_WINDOW:
            self._recent.popleft()
        if len(self._recent) >= self.config.rate_limit:
            return max(0.001, self._recent[0] + RATE_WINDOW - now)
        self._recent.append(now)
        return 0.0

    # -- frames to the visitor -----------------------------------------------------------------

    async def _push_new(self) -> None:
        """Catch up from the store (after hello and after our own message)."""
        for item in await self.gateway.store.transcript(self.config.name, self.key, self.after):
            await self.deliver(item)

    async def deliver(self, item: TranscriptItem) -> None:
        self.after = max(self.after, item.seq)
        if item.conversation_id is not None:
            self.conversation_id = item.conversation_id
        if item.message_id in self._sent:
            return
        self._sent.add(item.message_id)
        base = f"{self.info.public_url}/widget/{self.config.name}/files"
        files = [
            {
                "name": f.name,
                "type": f.content_type,
                "size": f.size,
                "url": f"{base}/{f.id}?sig={self.signer.file_signature(f.id)}",
            }
            for f in item.files
        ]
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
                "files": files,
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
        self._unsubscribe: Callable[[], None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._heartbeats: asyncio.Task[None] | None = None
        self._survey_after: int | None = None  # the event seq surveys were read up to

    async def join(self, session: VisitorSession) -> None:
        self._sessions.setdefault((session.config.name, session.key), set()).add(session)
        if self._heartbeats is None or self._heartbeats.done():
            self._heartbeats = asyncio.create_task(self._beat(), name="widget-heartbeats")
        if self._task is None or self._task.done():
            after = await self.store.latest_seq()  # before this session catches up on its own
            if self._task is None or self._task.done():  # not started by another join meanwhile
                self._task = asyncio.create_task(self._run(after), name="widget-hub")
        if self._unsubscribe is None:
            self._unsubscribe = self.bus.on_signal(self._on_signal)

    def _send_soon(self, session: VisitorSession, frame: dict[str, Any]) -> None:
        task = asyncio.create_task(self._quietly(session.send(frame)))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _beat(self) -> None:
        """A heartbeat (with the socket's seq) to every socket quiet for HEARTBEAT_SECONDS:
        one timer for the node rather than one per socket."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS / 5)
            quiet = time.monotonic() - HEARTBEAT_SECONDS
            for sessions in list(self._sessions.values()):
                for session in list(sessions):
                    if session.active_at <= quiet:
                        session.active_at = time.monotonic()  # not again before it is sent
                        self._send_soon(session, {"type": "heartbeat", "seq": session.after})

    def _on_signal(self, signal: dict[str, Any]) -> None:
        """An agent typing on a widget conversation: show it to that visitor's sockets."""
        if signal.get("kind") != "typing" or signal.get("from") != "agent" or signal.get("channel_type") != "widget":
            return
        sessions = self._sessions.get((str(signal.get("channel")), str(signal.get("thread_key"))), ())
        frame = {"type": "typing", "author": signal.get("author")}
        for session in list(sessions):
            self._send_soon(session, frame)

    @staticmethod
    async def _quietly(sending: Any) -> None:
        with contextlib.suppress(Exception):  # a closing socket
            await sending

    def leave(self, session: VisitorSession) -> None:
        key = (session.config.name, session.key)
        sessions = self._sessions.get(key)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._sessions[key]

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await cancel_task(self._task)
        await cancel_task(self._heartbeats)

    async def _offer_surveys(self) -> None:
        """Surveys asked since the last look, to the sockets of their conversations (widget/csat.py)."""
        store = self.store
        if not isinstance(store, csat.SurveyStore) or self._survey_after is None:
            return
        try:
            self._survey_after, offers = await store.surveys_since(self._survey_after)
        except Exception:
            log.exception("widget hub: reading surveys failed")
            return
        for channel, key, offer in offers:
            for session in list(self._sessions.get((channel, key), ())):
                task = asyncio.create_task(self._quietly(session.offer_csat(offer)))
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)

    async def _run(self, after: int) -> None:
        self._survey_after = after
        while True:
            try:
                newest, items = await self.store.since(after)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("widget hub: reading new messages failed; retrying")
                await asyncio.sleep(1.0)
                continue
            after = max(after, newest)
            await self._offer_surveys()
            for channel, key, item in items:
                for session in list(self._sessions.get((channel, key), ())):
                    try:
                        await session.deliver(item)
                    except Exception:  # a closing socket; the session leaves on its own
                        log.debug("widget hub: delivery to a closing socket dropped", exc_info=True)
            # At once if the bus knows of newer events (more commits, or more than one
            # read's worth); otherwise at the next commit, or at the heartbeat.
            latest = await self.bus.wait(after, HEARTBEAT_SECONDS)
            # No visitor connected to this node: nobody to hand messages to, so no read
            # (every commit of the desk wakes us). A visitor who connects later catches up
            # from the store after joining (`VisitorSession._push_new`).
            while not self._sessions:
                after = self._survey_after = max(after, latest)
                latest = await self.bus.wait(after, HEARTBEAT_SECONDS)


def parse_frame(raw: str) -> dict[str, Any]:
    """One text frame as a JSON object, lone surrogates in it repaired (U+FFFD)."""
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise FrameError("too_large", f"a frame has at most {MAX_FRAME_BYTES} bytes")
    try:
        frame = load_json(raw, max_depth=MAX_FRAME_DEPTH)
    except TooDeep:
        raise FrameError("bad_frame", f"a frame nests at most {MAX_FRAME_DEPTH} levels") from None
    except Unreadable:
        raise FrameError("bad_json", "a frame is one JSON object") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError("bad_frame", 'a frame is a JSON object with a string "type"')
    return frame


def _meta(key: str, client_id: str, continue_by_email: str | None, context: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"visitor": key, "client_id": client_id}
    if continue_by_email:
        meta["continue_by_email"] = continue_by_email
    if context:
        meta["context"] = context
    return meta


# What the widget says about the visitor's page, each kept as a bounded string.
CONTEXT_FIELDS = {"url": 2048, "title": 300, "referrer": 2048, "language": 35, "time_zone": 64}


def visitor_context(value: Any) -> dict[str, str]:
    """The page context a widget sent (hello or message `context`), unknown keys dropped;
    URLs only http(s), so the agent's page never links to a `javascript:` one."""
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for key, limit in CONTEXT_FIELDS.items():
        text = _str(value.get(key), limit)
        if text is None:
            continue
        if key in ("url", "referrer") and not text.lower().startswith(("http://", "https://")):
            continue
        out[key] = text.strip()
    return out


def _str(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value.strip() else None
