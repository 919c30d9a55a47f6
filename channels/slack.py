"""Slack: support channels and direct messages to the bot, through slack-bolt (async).

Events arrive over HTTP (`POST /hooks/slack/{channel}`, signed by Slack) or Socket Mode.
Over HTTP the signature is checked first (slack_sdk's verifier) and an event callback
goes straight to the store; bolt answers everything else (url_verification, ssl_check)
and runs Socket Mode, whose events reach the same code through one bolt listener. The
message is committed before the ack, and because the external id is `channel:ts`,
Slack's retries and replays are stored once. Concurrent events share a commit (group
commit), which keeps acks fast in a burst.

A top-level message in a support channel opens a conversation and replies in its thread
continue it; a direct message opens or continues one conversation per user. Replies go
out with `chat.postMessage` in the same thread, Markdown converted to mrkdwn.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import aiohttp
from pydantic import field_validator, model_validator
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from channels.base import (
    ChannelAuthError,
    ChannelConfig,
    ChannelContext,
    CheckResult,
    InboundAttachment,
    InboundMessage,
    InDoubt,
    IngestResult,
    Interaction,
    InteractionAnswer,
    OutboundAttachment,
    OutboundMessage,
    PermanentSendError,
    Sender,
    SendResult,
    Sink,
    SupportsInteractions,
    TransientSendError,
    WebhookRequest,
    WebhookResponse,
    cancel_task,
)
from channels.mrkdwn import escape, to_mrkdwn
from channels.untrusted import Unreadable, load_json, repaired

log = logging.getLogger(__name__)

# Message subtypes that are people talking; everything else (joins, topic changes,
# bot messages, ...) is not a customer message.
_SPOKEN_SUBTYPES = {None, "file_share", "thread_broadcast", "me_message"}
# chat.postMessage errors worth retrying; any other error is permanent for that message.
_TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}
_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
_REPLY_EVENT_TYPE = "frontdesk_reply"
_LOOKUP_TIMEOUT = 2  # seconds; users.info and file downloads run inside Slack's 3 s ack budget
_RECENT_EVENTS = 10_000
_BATCH_LIMIT = 500
_UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=300, sock_connect=15)


class SlackConfig(ChannelConfig):
    type: Literal["slack"] = "slack"
    bot_token: str
    signing_secret: str | None = None
    mode: Literal["events", "socket"] = "events"
    app_token: str | None = None
    api_url: str = "https://slack.com/api/"
    support_channels: list[str] = []
    # How replies show the agent: as the message's author name (needs the
    # chat:write.customize scope), as a bold prefix, or not at all.
    agent_display: Literal["prefix", "username", "none"] = "prefix"
    icon_url: str | None = None
    user_cache_seconds: float = 3600.0
    max_file_bytes: int = 20 * 1024 * 1024

    @field_validator("api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("api_url must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _mode_needs(self) -> SlackConfig:
        if self.mode == "events" and not self.signing_secret:
            raise ValueError('mode "events" needs signing_secret')
        if self.mode == "socket" and not self.app_token:
            raise ValueError('mode "socket" needs app_token (an xapp- token)')
        return self


class SlackUnavailable(RuntimeError):
    """Slack could not be asked something we need before acknowledging an event."""


@dataclass(frozen=True, slots=True)
class BotIdentity:
    user_id: str
    bot_id: str | None
    team_id: str | None
    team: str | None
    user: str | None
    enterprise_id: str | None


class SlackChannel:
    config_model: ClassVar[type[ChannelConfig]] = SlackConfig
    icon: ClassVar[str] = "#"
    delivers_on_commit: ClassVar[bool] = False
    in_doubt: ClassVar[InDoubt] = "look"  # the post's metadata names its idempotency key

    def __init__(self, config: SlackConfig, context: ChannelContext) -> None:
        self.config = config
        self.name = config.name
        self._support_channels = set(config.support_channels)
        self._web = AsyncWebClient(token=config.bot_token, base_url=config.api_url, retry_handlers=[], timeout=15)
        self._lookups = AsyncWebClient(
            token=config.bot_token,
            base_url=config.api_url,
            retry_handlers=[],
            timeout=_LOOKUP_TIMEOUT,
        )
        self._verifier = SignatureVerifier(config.signing_secret) if config.signing_secret else None

        # Bolt picks listener arguments by parameter name, hence the plain functions.
        async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            return await self._authorize(enterprise_id, team_id)

        async def on_event(ack: Any, body: dict[str, Any]) -> None:
            await self._store_event(body)
            await ack()

        self._app = AsyncApp(
            # Bolt's own client (for its context) carries no token: authorize supplies it.
            client=AsyncWebClient(base_url=config.api_url),
            signing_secret=config.signing_secret,
            authorize=authorize,
            process_before_response=True,
            # handle_webhook checks the signature before bolt sees the request.
            request_verification_enabled=False,
            # Assistant-thread helpers cost time on every event and are not used here.
            attaching_conversation_kwargs_enabled=False,
            ignoring_self_assistant_message_events_enabled=False,
        )
        self._app.event(re.compile(".+"))(on_event)

        async def on_action(ack: Any, body: dict[str, Any]) -> None:
            await self._interact(ack, body)

        # Every button of ours (change approvals, survey ratings): one way, over HTTP and Socket Mode.
        self._app.action(re.compile(".+"))(on_action)
        self._identity: BotIdentity | None = None
        self._users: dict[str, tuple[float, Sender, bool]] = {}  # id -> (expires, sender, is_bot)
        self._user_lookups: dict[str, asyncio.Future[tuple[Sender, bool]]] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()  # event ids already stored and acked
        self._uncertain: set[str] = set()  # idempotency keys whose post may have gone through
        self._dms: dict[str, str] = {}  # user id -> the id of the bot's DM with them
        # Replies with files, between steps: the text posted, the files uploaded, the
        # share whose answer was lost. Kept in memory, as a retry comes within minutes.
        self._posted: dict[str, SendResult] = {}
        self._uploads: dict[str, list[tuple[str, str]]] = {}
        self._uncertain_shares: set[str] = set()
        self._sink: Sink | None = None
        self._attached: Sink | None = None
        self._opening = asyncio.Lock()
        self._commits: GroupCommit | None = None
        self._http: aiohttp.ClientSession | None = None
        self._socket: Any = None
        self._socket_task: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------

    def attach(self, sink: Sink) -> None:
        """Every web node: events posted to /hooks/slack/NAME are stored through `sink`."""
        self._attached = sink

    async def start(self, sink: Sink) -> None:
        await self._open(sink, check_auth=True)
        if self.config.mode == "socket":
            await self._start_socket_mode()

    async def _open(self, sink: Sink, *, check_auth: bool) -> None:
        async with self._opening:
            if self._commits is not None:
                return
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=_LOOKUP_TIMEOUT))
            self._web.session = self._http
            self._lookups.session = self._http
            if check_auth:
                try:
                    await self._bot_identity()
                except ChannelAuthError:
                    await self._close_http()
                    raise
                except SlackUnavailable as exc:
                    log.warning(
                        "slack channel %s: auth.test failed at start (%s); will retry per event",
                        self.name,
                        exc,
                    )
            self._sink = sink
            self._commits = GroupCommit(sink, name=self.name)
            self._commits.start()

    async def stop(self) -> None:
        self._sink = None
        if self._socket is not None:
            with contextlib.suppress(Exception):
                await self._socket.close_async()
            self._socket = None
        await cancel_task(self._socket_task)
        self._socket_task = None
        if self._commits is not None:
            await self._commits.stop()
            self._commits = None
        for pending in self._user_lookups.values():
            pending.cancel()
        await self._close_http()

    async def _close_http(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        self._web.session = None
        self._lookups.session = None

    async def _start_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert self.config.app_token is not None
        # The handler asks apps.connections.open (with the app token) for the websocket URL.
        self._socket = AsyncSocketModeHandler(
            self._app,
            self.config.app_token,
            web_client=AsyncWebClient(base_url=self.config.api_url),
        )
        # connect() retries until it gets through; it must not hold up the daemon's start.
        self._socket_task = asyncio.create_task(self._socket.connect_async(), name=f"slack-socket:{self.name}")

    # -- receiving: HTTP ----------------------------------------------------------------

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResponse:
        if self.config.mode != "events" or self._verifier is None:
            return _json_response(404, {"error": "this Slack channel runs in socket mode"})
        timestamp = request.headers.get("x-slack-request-timestamp")
        signature = request.headers.get("x-slack-signature")
        # Checked before the body is parsed: a forged or stale request never gets further.
        if not self._signed(request.body, timestamp, signature):
            log.warning("slack channel %s: request with a bad or stale signature refused", self.name)
            return _json_response(401, {"error": "invalid signature"})
        if self._commits is None:
            if self._attached is None:
                return _json_response(503, {"error": "channel not running"})
            await self._open(self._attached, check_auth=False)
        if request.body.lstrip()[:1] == b"{":
            try:
                payload = load_json(request.body)
            except Unreadable as exc:
                return _json_response(400, {"error": f"unreadable body: {exc}"})
            if isinstance(payload, dict) and payload.get("type") == "event_callback":
                return await self._receive_event(payload, request.body)
        try:
            bolt_request = AsyncBoltRequest(
                body=request.body.decode("utf-8"),
                query=request.query,
                headers={k: [v] for k, v in request.headers.items()},
            )
        except (UnicodeDecodeError, ValueError) as exc:
            return _json_response(400, {"error": f"unreadable body: {exc}"})
        return _to_webhook_response(await self._app.async_dispatch(bolt_request))

    @property
    def _response_prefix(self) -> str:
        """Where Slack's response URLs live (the fake server in tests: the API's host)."""
        parts = urlsplit(self.config.api_url)
        return "https://hooks.slack.com/" if parts.hostname == "slack.com" else f"{parts.scheme}://{parts.netloc}/"

    def _signed(self, body: bytes, timestamp: str | None, signature: str | None) -> bool:
        """Slack's signature over the body, made within the last five minutes."""
        assert self._verifier is not None
        if not timestamp or not signature or not (timestamp.isascii() and timestamp.isdigit()) or not signature.isascii():
            return False  # the verifier would raise on these (int(), compare_digest)
        return self._verifier.is_valid(body, timestamp, signature)

    async def _receive_event(self, body: dict[str, Any], raw: bytes) -> WebhookResponse:
        """An Events API callback, verified, handed straight to the store; 200 once it is in.

        Bolt's dispatch would only add authorization, self-event filtering, matching the
        one listener that takes every event, and argument injection: about 0.1 ms per
        event, a third of the daemon's work in a burst of a thousand (bench/slack.py).
        Bolt still answers url_verification and everything else, and Socket Mode.
        """
        try:
            await self._store_event(body, raw)
        except SlackUnavailable as exc:
            log.warning(
                "slack channel %s: event %s not stored, Slack will send it again: %s",
                self.name,
                body.get("event_id"),
                exc,
            )
            return _json_response(500, {"error": f"not stored: {exc}"})
        except Exception:
            log.exception(
                "slack channel %s: event %s not stored, Slack will send it again",
                self.name,
                body.get("event_id"),
            )
            return _json_response(500, {"error": "not stored"})
        return WebhookResponse(status=200, body=b"", content_type="text/plain")

    # -- receiving: every event, from either path -------------------------------------------

    async def _store_event(self, body: dict[str, Any], raw: bytes | None = None) -> None:
        """Store the event's message, if it carries one; returns once it is committed.

        `raw` is the payload as Slack sent it (over HTTP), kept as the message's source.
        """
        event_id = body.get("event_id")
        if not isinstance(event_id, str):
            event_id = None
        if event_id is not None and event_id in self._recent:
            return  # a retry of an event already stored
        commits = self._commits
        if commits is None:
            raise SlackUnavailable("channel not running")
        try:
            # Over HTTP (raw given) load_json has repaired the body already; Socket Mode
            # payloads come from bolt as they were sent.
            messages = await self._inbound_from(body if raw is not None else repaired(body), raw)
        except ValueError as exc:  # Unreadable too
            assert self._sink is not None
            log.warning("slack channel %s: event %s quarantined: %s", self.name, event_id, exc)
            await self._sink.quarantine(raw or _encode(body), f"unreadable Slack event: {exc!r}", external_id=event_id)
            messages = []
        if messages:
            await commits.submit(messages)
        if event_id is not None:
            self._recent[event_id] = None
            if len(self._recent) > _RECENT_EVENTS:
                self._recent.popitem(last=False)

    async def _inbound_from(self, body: dict[str, Any], raw: bytes | None) -> list[InboundMessage]:
        message = read_event(body, self._support_channels, raw)  # first: it checks the shape
        event = body.get("event") or {}
        if event.get("type") in ("app_uninstalled", "tokens_revoked"):
            log.error("slack channel %s: the app was uninstalled or its tokens revoked", self.name)
        if message is None:
            return []
        identity = await self._bot_identity()
        if message.sender.address == identity.user_id:
            return []
        if message.kind == "delete":
            return [message]
        sender, is_bot = await self._sender(message.sender.address)
        if is_bot:
            return []
        if message.kind != "message":
            return [replace(message, sender=sender)]
        attachments, notes = await self._attachments(event.get("files") or [])
        text = "\n".join(filter(None, [message.text, *notes]))
        return [replace(message, sender=sender, text=text, attachments=tuple(attachments))]

    async def _interact(self, ack: Any, body: dict[str, Any]) -> None:
        """A button of ours was pressed (block_actions; the signature was checked before
        bolt saw it): hand it to the sink, acknowledge, and tell the presser what came of it —
        replacing the buttons (through the payload's response_url) when they have served, with
        the offer of a comment after a rating; else an ephemeral line."""
        sink = self._sink or self._attached
        user, channel, actions = body.get("user"), body.get("channel"), body.get("actions")
        user_id = user.get("id") if isinstance(user, dict) else None
        action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else None
        if not isinstance(user_id, str) or action is None or not isinstance(sink, SupportsInteractions):
            await ack()
            return
        sender, _ = await self._sender(user_id)
        answer = await sink.interact(Interaction(sender, str(action.get("action_id", "")), str(action.get("value", ""))))
        await ack()
        response_url = body.get("response_url")
        if answer.close and isinstance(response_url, str) and await self._respond(response_url, _closing(answer)):
            return
        channel_id = channel.get("id") if isinstance(channel, dict) else None
        if answer.text and isinstance(channel_id, str):
            with contextlib.suppress(SlackApiError, aiohttp.ClientError, TimeoutError):
                await self._web.chat_postEphemeral(channel=channel_id, user=user_id, text=answer.text)

    async def _respond(self, response_url: str, message: dict[str, Any]) -> bool:
        """Replace the pressed message through its response_url (only Slack's own)."""
        if not response_url.startswith(self._response_prefix) or self._http is None:
            return False
        try:
            async with self._http.post(response_url, json=message, timeout=aiohttp.ClientTimeout(total=10)) as answer:
                await answer.read()
                return answer.status < 300
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("slack channel %s: response_url failed: %s", self.name, exc)
            return False

    def parse(self, raw: bytes) -> InboundMessage:
        """A quarantined event again (`frontdesk quarantine retry`), without the lookups."""
        body = load_json(raw)  # Unreadable is a ValueError
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        message = read_event(body, self._support_channels, raw)
        if message is None:
            raise ValueError("not a customer message for this channel")
        return message

    # -- who is who ------------------------------------------------------------------------

    async def _authorize(self, enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        identity = await self._bot_identity()
        return AuthorizeResult(
            enterprise_id=identity.enterprise_id or enterprise_id,
            team_id=identity.team_id or team_id,
            bot_user_id=identity.user_id,
            bot_id=identity.bot_id,
            bot_token=self.config.bot_token,
        )

    async def _bot_identity(self) -> BotIdentity:
        """auth.test, once. Raising here makes bolt answer 500, so Slack retries the event."""
        if self._identity is not None:
            return self._identity
        try:
            reply = await self._lookups.auth_test()
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in _AUTH_ERRORS:
                raise ChannelAuthError(f"Slack refused the bot token: {error}") from None
            raise SlackUnavailable(f"auth.test failed: {error or exc}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SlackUnavailable(f"auth.test failed: {type(exc).__name__}: {exc}") from None
        self._identity = BotIdentity(
            user_id=reply["user_id"],
            bot_id=reply.get("bot_id"),
            team_id=reply.get("team_id"),
            team=reply.get("team"),
            user=reply.get("user"),
            enterprise_id=reply.get("enterprise_id"),
        )
        return self._identity

    async def _sender(self, user_id: str) -> tuple[Sender, bool]:
        """The contact behind a Slack user id (users.info, cached; one lookup at a time per id)."""
        cached = self._users.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1], cached[2]
        pending = self._user_lookups.get(user_id)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._user_lookups[user_id] = pending
            try:
                result = await self._lookup_user(user_id)
                pending.set_result(result)
            except BaseException as exc:
                pending.set_exception(exc)
                raise
            finally:
                self._user_lookups.pop(user_id, None)
            return result
        return await asyncio.shield(pending)

    async def _lookup_user(self, user_id: str) -> tuple[Sender, bool]:
        try:
            reply = await self._lookups.users_info(user=user_id, include_locale=True)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            # Better a message from a bare id than a lost one; the name comes next time.
            log.warning("slack channel %s: users.info %s failed: %s", self.name, user_id, exc)
            bare = Sender(address=user_id)
            if isinstance(exc, SlackApiError) and exc.response.get("error") == "user_not_found":
                self._users[user_id] = (time.monotonic() + 600, bare, False)
            return bare, False
        user = reply.get("user") or {}
        profile = user.get("profile") or {}
        locale = user.get("locale") or ""
        sender = Sender(
            address=user_id,
            name=profile.get("real_name") or user.get("real_name") or profile.get("display_name") or user.get("name"),
            email=profile.get("email") or None,
            username=user.get("name"),
            language=locale.split("-")[0].lower() or None,
        )
        is_bot = bool(user.get("is_bot")) and user_id != "USLACKBOT"
        self._users[user_id] = (time.monotonic() + self.config.user_cache_seconds, sender, is_bot)
        return sender, is_bot

    # -- files --------------------------------------------------------------------------------

    async def _attachments(self, files: Sequence[dict[str, Any]]) -> tuple[list[InboundAttachment], list[str]]:
        attachments: list[InboundAttachment] = []
        notes: list[str] = []
        for file in files:
            name = file.get("name") or file.get("title") or file.get("id") or "file"
            url = file.get("url_private_download") or file.get("url_private")
            if file.get("mode") in ("tombstone", "hidden_by_limit") or not url:
                continue
            if int(file.get("size") or 0) > self.config.max_file_bytes:
                notes.append(f"[file not downloaded, too large: {name}]")
                continue
            data = await self._download(url)
            if data is None:
                notes.append(f"[file not downloaded: {name}]")
                continue
            attachments.append(InboundAttachment(name, file.get("mimetype") or "application/octet-stream", data))
        return attachments, notes

    async def _download(self, url: str) -> bytes | None:
        # The bot token goes only to Slack's file host or the configured API host.
        host = urlsplit(url).hostname
        if host not in ("files.slack.com", urlsplit(self.config.api_url).hostname):
            log.warning("slack channel %s: file on unexpected host %s not fetched", self.name, host)
            return None
        session = self._http
        if session is None:
            return None
        try:
            async with session.get(url, headers={"Authorization": f"Bearer {self.config.bot_token}"}) as response:
                if response.status != 200:
                    log.warning(
                        "slack channel %s: file download %s answered %s",
                        self.name,
                        url,
                        response.status,
                    )
                    return None
                data = bytearray()
                async for chunk in response.content.iter_chunked(65536):
                    data.extend(chunk)
                    if len(data) > self.config.max_file_bytes:
                        return None
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack channel %s: file download %s failed: %s", self.name, url, exc)
            return None

    # -- sending ------------------------------------------------------------------------------

    async def send(self, outbound: OutboundMessage) -> SendResult:
        """The text with chat.postMessage, then the files, shared in the same thread.

        Each step is done once: a retry after the text went out only finishes the files,
        and a retry after an answer was lost looks in the thread before doing it again.
        """
        key = outbound.idempotency_key
        posted = self._posted.get(key) or await self._post_text(outbound)
        if not outbound.attachments:
            return posted
        self._posted[key] = posted
        try:
            await self._share_files(key, posted.meta["channel"], posted.meta.get("thread_ts"), outbound.attachments)
        except PermanentSendError as exc:
            self._forget_files(key)
            raise PermanentSendError(f"the text was posted, the files were not: {exc}") from None
        self._forget_files(key)
        return posted

    async def _post_text(self, outbound: OutboundMessage) -> SendResult:
        channel, thread_ts = self._destination(outbound)
        key = outbound.idempotency_key
        if key in self._uncertain or outbound.in_doubt:  # in doubt: a previous run may have posted it
            found = await self._find_posted(channel, thread_ts, key)
            if found is not None:
                self._uncertain.discard(key)
                posted_in = self._dms.get(channel, channel)  # as chat.postMessage answers: the DM's id
                return SendResult(
                    external_id=f"{posted_in}:{found}",
                    meta={"channel": posted_in, "ts": found, "thread_ts": thread_ts},
                )
        text = to_mrkdwn(outbound.text) or " "
        extra: dict[str, Any] = {}
        if outbound.author_name and self.config.agent_display == "prefix":
            text = f"*{escape(outbound.author_name)}:*{chr(10) if chr(10) in text else ' '}{text}"
        elif outbound.author_name and self.config.agent_display == "username":
            extra["username"] = outbound.author_name
            if self.config.icon_url:
                extra["icon_url"] = self.config.icon_url
        if outbound.buttons:
            extra["blocks"] = [
                {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": b.action_id,
                            "text": {"type": "plain_text", "text": b.text[:75]},
                            "value": b.value[:2000],
                            **({"style": b.style} if b.style in ("primary", "danger") else {}),
                        }
                        for b in outbound.buttons[:25]
                    ],
                },
            ]
        await outbound.dispatched()
        try:
            reply = await self._web.chat_postMessage(
                channel=channel,
                text=text,
                thread_ts=thread_ts,
                metadata={
                    "event_type": _REPLY_EVENT_TYPE,
                    "event_payload": {"idempotency_key": key},
                },
                **extra,
            )
        except SlackApiError as exc:
            raise _send_error(exc, "chat.postMessage", key, self._uncertain) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The request may have reached Slack: look before posting again.
            self._uncertain.add(key)
            raise TransientSendError(f"chat.postMessage: {type(exc).__name__}: {exc}") from None
        self._uncertain.discard(key)
        posted_channel = reply.get("channel") or channel
        ts = reply["ts"]
        return SendResult(
            external_id=f"{posted_channel}:{ts}",
            meta={"channel": posted_channel, "ts": ts, "thread_ts": thread_ts},
        )

    def _destination(self, outbound: OutboundMessage) -> tuple[str, str | None]:
        meta = outbound.conversation_meta
        channel = meta.get("channel")
        thread_ts = meta.get("thread_ts")
        key = outbound.thread_key or ""
        if not channel and key.startswith("dm:"):
            channel = key[3:]  # posting to a user id lands in the bot's DM with them
        elif not channel and ":" in key:
            channel, thread_ts = key.split(":", 1)
        if not channel:
            channel = outbound.recipient.address
        return str(channel), str(thread_ts) if thread_ts else None

    async def _find_posted(self, channel: str, thread_ts: str | None, key: str) -> str | None:
        """The ts of a message we already posted with this idempotency key, if any."""
        for message in await self._recent_messages(channel, thread_ts):
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == _REPLY_EVENT_TYPE and (metadata.get("event_payload") or {}).get("idempotency_key") == key:
                return str(message["ts"])
        return None

    async def _recent_messages(self, channel: str, thread_ts: str | None) -> list[dict[str, Any]]:
        """The thread's messages (or the channel's latest); [] when we may not look."""
        try:
            channel = await self._conversation(channel)
            if thread_ts:
                reply = await self._web.conversations_replies(channel=channel, ts=thread_ts, include_all_metadata=True, limit=200)
            else:
                reply = await self._web.conversations_history(channel=channel, include_all_metadata=True, limit=50)
        except SlackApiError as exc:
            if exc.response.status_code == 429 or exc.response.status_code >= 500:
                raise TransientSendError("could not check whether the reply was already posted") from None
            return []  # cannot look (e.g. missing scope): post
        except (aiohttp.ClientError, TimeoutError):
            raise TransientSendError("could not check whether the reply was already posted") from None
        return list(reply.get("messages") or [])

    async def _conversation(self, channel: str) -> str:
        """An id that `conversations.*` take. chat.postMessage takes a user id and posts in the
        bot's DM with them, but reading that DM needs its own id (a user id answers
        channel_not_found): `conversations.open` gives it, the same each time (kept)."""
        if not channel.startswith(("U", "W")):
            return channel
        dm = self._dms.get(channel)
        if dm is None:
            reply = await self._web.conversations_open(users=channel)
            dm = self._dms[channel] = str(reply["channel"]["id"])
        return dm

    # -- sending files -----------------------------------------------------------------------

    async def _share_files(self, key: str, channel: str, thread_ts: str | None, files: Sequence[OutboundAttachment]) -> None:
        """Upload the files (invisible until completed), then share them in one message."""
        uploaded = self._uploads.get(key)
        if uploaded is not None and key in self._uncertain_shares:
            shared = {f.get("id") for m in await self._recent_messages(channel, thread_ts) for f in m.get("files") or []}
            if all(file_id in shared for file_id, _ in uploaded):
                return
        if uploaded is None:
            uploaded = [await self._upload(file) for file in files]
            self._uploads[key] = uploaded
        try:
            await self._web.files_completeUploadExternal(
                files=[{"id": file_id, "title": title} for file_id, title in uploaded],
                channel_id=channel,
                thread_ts=thread_ts,
            )
        except SlackApiError as exc:
            raise _send_error(exc, "files.completeUploadExternal", key, self._uncertain_shares) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._uncertain_shares.add(key)
            raise TransientSendError(f"files.completeUploadExternal: {type(exc).__name__}: {exc}") from None

    async def _upload(self, file: OutboundAttachment) -> tuple[str, str]:
        """One file's bytes to the URL Slack hands out; returns (file id, title)."""
        try:
            reply = await self._web.files_getUploadURLExternal(filename=file.filename, length=len(file.data))
        except SlackApiError as exc:
            raise _send_error(exc, "files.getUploadURLExternal", None, None) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientSendError(f"files.getUploadURLExternal: {type(exc).__name__}: {exc}") from None
        url = str(reply["upload_url"])
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, data=file.data, timeout=_UPLOAD_TIMEOUT) as response,
            ):
                if response.status >= 500 or response.status == 429:
                    raise TransientSendError(f"file upload {file.filename}: HTTP {response.status}")
                if response.status != 200:
                    raise PermanentSendError(f"file upload {file.filename}: HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientSendError(f"file upload {file.filename}: {type(exc).__name__}: {exc}") from None
        return str(reply["file_id"]), file.filename

    def _forget_files(self, key: str) -> None:
        self._posted.pop(key, None)
        self._uploads.pop(key, None)
        self._uncertain_shares.discard(key)

    # -- checks -----------------------------------------------------------------------------

    async def check(self) -> list[CheckResult]:
        results: list[CheckResult] = []
        try:
            identity = await self._bot_identity()
        except (ChannelAuthError, SlackUnavailable) as exc:
            return [CheckResult("auth.test", False, str(exc))]
        results.append(
            CheckResult(
                "auth.test",
                True,
                f"bot @{identity.user} ({identity.user_id}) in team {identity.team} ({identity.team_id})",
            )
        )
        for channel in self.config.support_channels:
            try:
                reply = await self._lookups.conversations_info(channel=channel)
                info = reply.get("channel") or {}
                member = bool(info.get("is_member"))
                detail = f"#{info.get('name', channel)}" + ("" if member else " — invite the bot: /invite @" + str(identity.user))
                results.append(CheckResult(f"channel {channel}", member, detail))
            except SlackApiError as exc:
                results.append(CheckResult(f"channel {channel}", False, str(exc.response.get("error", exc))))
            except (aiohttp.ClientError, TimeoutError) as exc:
                results.append(CheckResult(f"channel {channel}", False, f"{type(exc).__name__}: {exc}"))
        if self.config.mode == "socket":
            try:
                await AsyncWebClient(base_url=self.config.api_url).apps_connections_open(app_token=self.config.app_token or "")
                results.append(CheckResult("apps.connections.open", True, "socket mode URL issued"))
            except SlackApiError as exc:
                results.append(CheckResult("apps.connections.open", False, str(exc.response.get("error", exc))))
            except (aiohttp.ClientError, TimeoutError) as exc:
                results.append(CheckResult("apps.connections.open", False, f"{type(exc).__name__}: {exc}"))
        return results


class GroupCommit:
    """Stores messages from concurrent events in shared transactions.

    Each caller waits for the commit that includes its messages. While one commit runs,
    the next batch gathers, so a burst of events costs a few commits, not one each.
    """

    def __init__(self, sink: Sink, *, name: str) -> None:
        self._sink = sink
        self._name = name
        self._queue: asyncio.Queue[tuple[list[InboundMessage], asyncio.Future[list[IngestResult]]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"slack-commit:{self._name}")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None
        while not self._queue.empty():
            _, waiter = self._queue.get_nowait()
            if not waiter.done():
                waiter.set_exception(SlackUnavailable("channel stopped"))

    async def submit(self, messages: list[InboundMessage]) -> list[IngestResult]:
        if self._task is None or self._task.done():
            raise SlackUnavailable("channel not running")
        waiter: asyncio.Future[list[IngestResult]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((messages, waiter))
        # A caller that goes away cancels only its own waiter; the batch skips it.
        return await waiter

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0][0])
            while size < _BATCH_LIMIT and not self._queue.empty():
                item = self._queue.get_nowait()
                batch.append(item)
                size += len(item[0])
            try:
                results = await self._sink.ingest([m for messages, _ in batch for m in messages])
            except asyncio.CancelledError:
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(SlackUnavailable("channel stopped"))
                raise
            except Exception as exc:
                log.exception("slack channel %s: storing %d messages failed", self._name, size)
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(SlackUnavailable(f"ingest failed: {exc}"))
                continue
            offset = 0
            for messages, waiter in batch:
                if not waiter.done():
                    waiter.set_result(results[offset : offset + len(messages)])
                offset += len(messages)


# -- events to messages ---------------------------------------------------------------------


def _closing(answer: InteractionAnswer) -> dict[str, Any]:
    """The pressed message once its buttons have served: the answer, and a comment link if offered."""
    text = escape(answer.text)
    if answer.comment_url and answer.comment_link:
        text = f"{text} <{answer.comment_url}|{escape(answer.comment_link)}>"
    return {"replace_original": True, "text": text}


def read_event(body: dict[str, Any], support_channels: set[str], raw: bytes | None = None) -> InboundMessage | None:
    """The customer message in an Events API payload, or None when there is none.

    Pure: the sender is the bare Slack user id, with no files fetched; the adapter adds
    both. `raw` is the payload as received, kept as the message's source (the payload
    is encoded again when there is none, as in Socket Mode). Raises ValueError for a
    payload that claims to be a message but is malformed.
    """
    try:
        return _read_event(body, support_channels, raw)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed message event: {type(exc).__name__}: {exc}") from None


# The JSON types of the fields read from a message event (and its edited or deleted
# message): Slack's payloads are trusted once signed, but not to crash the adapter.
_EVENT_FIELDS: dict[str, type] = {
    "type": str,
    "subtype": str,
    "channel": str,
    "channel_type": str,
    "user": str,
    "bot_id": str,
    "text": str,
    "ts": str,
    "thread_ts": str,
    "deleted_ts": str,
    "message": dict,
    "previous_message": dict,
    "edited": dict,
    "files": list,
}
_FILE_FIELDS: dict[str, type] = {
    "id": str,
    "name": str,
    "title": str,
    "mimetype": str,
    "mode": str,
    "size": int,
    "url_private": str,
    "url_private_download": str,
}
_JSON_NAMES = {str: "a string", int: "an integer", dict: "an object", list: "an array"}


def _check(value: Any, fields: dict[str, type], where: str) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object")
    for key, expected in fields.items():
        found = value.get(key)
        if found is not None and (not isinstance(found, expected) or isinstance(found, bool)):
            raise ValueError(f"{where}.{key} must be {_JSON_NAMES[expected]}")


def _check_event(event: Any) -> None:
    _check(event, _EVENT_FIELDS, "event")
    for key in ("message", "previous_message"):
        if event.get(key) is not None:
            _check(event[key], _EVENT_FIELDS, f"event.{key}")
    for i, file in enumerate(event.get("files") or ()):
        _check(file, _FILE_FIELDS, f"event.files[{i}]")


def _read_event(body: dict[str, Any], support_channels: set[str], raw: bytes | None) -> InboundMessage | None:
    event = body.get("event")
    if event is None:
        return None
    if not isinstance(event, dict):
        raise ValueError("event must be an object")
    if event.get("type") != "message":
        return None  # other events have other shapes ("user" is an object in user_change)
    _check_event(event)
    channel = event["channel"]
    is_dm = event.get("channel_type") == "im" or channel.startswith("D")
    if not is_dm and channel not in support_channels:
        return None
    raw = raw or _encode(body)
    subtype = event.get("subtype")
    if subtype == "message_changed":
        changed = event["message"]
        if changed.get("bot_id") or not changed.get("user") or changed.get("subtype") == "bot_message":
            return None
        edited = (changed.get("edited") or {}).get("ts") or event["ts"]
        return InboundMessage(
            external_id=f"{channel}:{changed['ts']}:edit:{edited}",
            sender=Sender(address=changed["user"]),
            text=plain_text(changed.get("text") or ""),
            kind="edit",
            target_external_id=f"{channel}:{changed['ts']}",
            raw=raw,
        )
    if subtype == "message_deleted":
        deleted = event["deleted_ts"]
        previous = event.get("previous_message") or {}
        return InboundMessage(
            external_id=f"{channel}:{deleted}:delete",
            sender=Sender(address=previous.get("user") or "slack"),
            text="",
            kind="delete",
            target_external_id=f"{channel}:{deleted}",
            raw=raw,
        )
    if subtype not in _SPOKEN_SUBTYPES or event.get("bot_id") or not event.get("user"):
        return None
    user, ts = event["user"], event["ts"]
    if is_dm:
        thread_key, meta = f"dm:{user}", {"channel": channel}
    else:
        root = event.get("thread_ts") or ts
        thread_key, meta = f"{channel}:{root}", {"channel": channel, "thread_ts": root}
    return InboundMessage(
        external_id=f"{channel}:{ts}",
        sender=Sender(address=user),
        text=plain_text(event.get("text") or ""),
        thread_key=thread_key,
        sent_at=_from_ts(ts),
        meta=meta,
        raw=raw,
    )


# -- Slack's text and wire format --------------------------------------------------------------

_ANGLE = re.compile(r"<([^<>]+)>")


def plain_text(text: str) -> str:
    """Slack message markup to readable text: <@U1|ana> -> @ana, <url|label> -> label (url)."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^")[0])
        if label and label != target:
            return f"{label} ({target})"
        return target.removeprefix("mailto:")

    return _ANGLE.sub(replace, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _from_ts(ts: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(float(ts), tz=dt.UTC)
    except ValueError:
        return None


def _send_error(exc: SlackApiError, method: str, key: str | None, uncertain: set[str] | None) -> Exception:
    """A Web API refusal as a send error: 429 waits for Retry-After, a server error is
    retried (and, when `uncertain` is given, checked first: the call may have worked)."""
    status = exc.response.status_code
    error = str(exc.response.get("error", "") or "")
    if status == 429 or error == "ratelimited":
        retry_after = _header(exc.response.headers, "retry-after")
        return TransientSendError(f"{method}: rate limited", retry_after=float(retry_after) if retry_after else 1.0)
    if status >= 500 or error in _TRANSIENT_ERRORS:
        if uncertain is not None and key is not None:
            uncertain.add(key)
        return TransientSendError(f"{method}: {error or status}")
    return PermanentSendError(f"{method}: {error or status}")


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None


def _json_response(status: int, body: dict[str, Any]) -> WebhookResponse:
    return WebhookResponse(status=status, body=json.dumps(body).encode())


def _to_webhook_response(response: BoltResponse) -> WebhookResponse:
    content_type = (response.headers.get("content-type") or ["text/plain"])[0]
    body = response.body if isinstance(response.body, bytes) else str(response.body or "").encode()
    return WebhookResponse(status=response.status, body=body, content_type=content_type.split(";")[0])
