"""Telegram: a bot's private chats and groups into the inbox, agent replies back out.

Receiving is either a getUpdates long poll that this adapter owns, or Telegram's
webhook at `/hooks/telegram/{channel}`. In polling mode the offset that confirms
updates to Telegram is the cursor committed with the messages: Telegram hears "got
them" only on the next getUpdates, after the commit, so a crash at any point neither
loses nor repeats an update. Sending goes through python-telegram-bot's `Bot`, paced
per chat and per bot (see telegram_pacing).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import hmac
import html
import json
import logging
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, model_validator
from telegram import Bot, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from channels.base import (
    ChannelConfig,
    ChannelContext,
    CheckResult,
    InboundAttachment,
    InboundMessage,
    InDoubt,
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
from channels.telegram_format import html_to_telegram, text_to_telegram
from channels.telegram_pacing import Limits, SendPacer, TooSoon
from channels.telegram_updates import (
    GROUPS,
    BotIdentity,
    FileToFetch,
    ReadUpdate,
    UnreadableUpdate,
    read_update,
    update_id_of,
)
from channels.untrusted import Unreadable, load_json

log = logging.getLogger(__name__)

# python-telegram-bot 22 warns on every 429 that `retry_after` will become a timedelta;
# `_seconds` takes both forms, so the warning says nothing to our operators.
warnings.filterwarnings("ignore", message=r".*`retry_after` will be of type", category=PTBDeprecationWarning)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
PHOTO_MAX_BYTES = 10 * 1024 * 1024


class TelegramConfig(ChannelConfig):
    type: Literal["telegram"] = "telegram"
    token: str = Field(pattern=r"^\d+:[A-Za-z0-9_-]+$", description="the bot token from @BotFather")
    mode: Literal["polling", "webhook"] = "polling"
    webhook_secret: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,256}$",
        description="1-256 characters A-Z a-z 0-9 _ -",
    )
    api_base_url: str = "https://api.telegram.org/bot"
    api_file_url: str | None = None  # default: api_base_url with "/file" before its last "/bot"
    poll_timeout: int = Field(default=30, ge=0, le=50)  # seconds a getUpdates may wait
    # Seconds to wait for an answer before treating the call as lost (then retried).
    request_timeout: float = Field(default=15.0, gt=0, le=300)
    max_attachment_bytes: int = Field(default=20 * 1024 * 1024, ge=0)  # getFile serves up to 20 MB

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramConfig:
        if self.mode == "webhook" and not self.webhook_secret:
            raise ValueError('mode "webhook" needs webhook_secret (1-256 characters A-Z a-z 0-9 _ -)')
        return self

    @property
    def file_url(self) -> str:
        if self.api_file_url:
            return self.api_file_url
        base = self.api_base_url
        head, sep, tail = base.rpartition("/bot")
        return f"{head}/file/bot{tail}" if sep else base.rstrip("/") + "/file/bot"


@dataclass(frozen=True, slots=True)
class _Part:
    """One Telegram message of a reply: a text chunk or an attachment."""

    text: str | None = None  # Telegram HTML
    attachment: OutboundAttachment | None = None


class TelegramChannel:
    config_model: ClassVar[type[ChannelConfig]] = TelegramConfig
    icon: ClassVar[str] = "✈"
    delivers_on_commit: ClassVar[bool] = False
    in_doubt: ClassVar[InDoubt] = "hold"  # no idempotency key, no reading the chat back

    def __init__(self, config: TelegramConfig, context: ChannelContext) -> None:
        self.config = config
        self.name = config.name
        self.context = context
        # One connection pool we own and close; the library's own initialize() would call
        # getMe (and put the token in its error message).
        self._request = HTTPXRequest(
            connection_pool_size=32,
            read_timeout=config.request_timeout,
            media_write_timeout=60.0,
            httpx_kwargs={"event_hooks": {"request": [_mark_in_flight_on_the_wire]}},
        )
        self.bot = Bot(
            config.token,
            base_url=config.api_base_url,
            base_file_url=config.file_url,
            request=self._request,
            get_updates_request=self._request,
        )
        self.pacer = SendPacer(Limits())
        self.me = BotIdentity(id=int(config.token.split(":", 1)[0]))
        self.webhook_url = f"{context.public_url}/hooks/telegram/{config.name}"
        self._sink: Sink | None = None
        self._attached: Sink | None = None
        self._request_open = False
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        # Parts of a multi-part reply already delivered, by idempotency key, so a retry
        # after a 429 on part 3 does not send parts 1 and 2 again.
        self._delivered: OrderedDict[str, list[int]] = OrderedDict()

    # -- lifecycle ----------------------------------------------------------------------

    def attach(self, sink: Sink) -> None:
        """Every web node: webhook updates are stored through `sink` (see channels.base.SupportsAttach)."""
        self._attached = sink

    async def _open_request(self) -> None:
        if not self._request_open:
            await self._request.initialize()
            self._request_open = True

    async def start(self, sink: Sink) -> None:
        await self._open_request()
        self._sink = sink
        if self.config.mode == "polling":
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=self.config.poll_timeout + self.config.request_timeout))
            self._task = asyncio.create_task(self._poll(sink), name=f"telegram-poll:{self.name}")
        else:
            self._task = asyncio.create_task(self._register_webhook(), name=f"telegram-webhook:{self.name}")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self._sink = None
        self._request_open = False
        await self._request.shutdown()

    async def check(self) -> list[CheckResult]:
        if self._sink is not None:  # running: share its connections
            return await self._checks()
        await self._request.initialize()
        try:
            return await self._checks()
        finally:
            await self._request.shutdown()

    async def _checks(self) -> list[CheckResult]:
        try:
            user = await self.bot.get_me()
        except InvalidToken:
            return [CheckResult("getMe", False, "the token was refused")]
        except TelegramError as exc:
            return [CheckResult("getMe", False, f"{type(exc).__name__}: {exc}")]
        results = [CheckResult("getMe", True, f"@{user.username} ({user.full_name}, id {user.id})")]
        try:
            info = await self.bot.get_webhook_info()
        except TelegramError as exc:
            results.append(CheckResult("getWebhookInfo", False, f"{type(exc).__name__}: {exc}"))
            return results
        if self.config.mode == "webhook":
            ok = info.url == self.webhook_url
            detail = f"registered at {info.url or '(none)'}; expected {self.webhook_url}"
            if info.last_error_message:
                detail += f"; last delivery error: {info.last_error_message}"
            results.append(CheckResult("webhook", ok, detail))
        else:
            detail = f"a webhook is set ({info.url}); it is removed when polling starts" if info.url else "no webhook set"
            results.append(CheckResult("polling", True, detail))
        return results

    def parse(self, raw: bytes) -> InboundMessage:
        """One stored update again as a message (`frontdesk quarantine retry`); files are not fetched."""
        data = load_json(raw)  # Unreadable is a ValueError
        read = read_update(data, self.me, check_addressed=False)
        if read is None:
            raise ValueError("the update holds nothing for the inbox")
        return read.message

    # -- receiving: polling ---------------------------------------------------------------

    async def _poll(self, sink: Sink) -> None:
        cursor = await sink.cursor()
        offset = int(cursor) if cursor else None
        failures = 0
        while True:
            try:
                await self._learn_username()
                updates = await self._get_updates(offset)
                if updates:
                    offset = await self._ingest_updates(sink, updates)
                failures = 0
            except asyncio.CancelledError:
                raise
            except _PollPause as pause:
                log.warning("telegram %s: %s; polling again in %.0fs", self.name, pause, pause.seconds)
                await asyncio.sleep(pause.seconds)
            except Exception as exc:
                failures += 1
                delay = min(2.0**failures, 60.0)
                log.warning(
                    "telegram %s: polling failed (%s: %s); again in %.0fs",
                    self.name,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _get_updates(self, offset: int | None) -> list[Any]:
        assert self._http is not None
        payload: dict[str, Any] = {
            "timeout": self.config.poll_timeout,
            "allowed_updates": ALLOWED_UPDATES,
        }
        if offset is not None:
            payload["offset"] = offset
        # Raw JSON rather than the library's Update objects: one malformed update must be
        # quarantined on its own, not make the whole batch unreadable.
        response = await self._http.post(f"{self.bot.base_url}/getUpdates", json=payload)
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError):
            raise NetworkError(f"getUpdates answered HTTP {response.status_code} without JSON") from None
        if response.status_code == 200 and isinstance(body, dict) and body.get("ok") and isinstance(body.get("result"), list):
            return body["result"]
        description = body.get("description", "") if isinstance(body, dict) else ""
        parameters = (body.get("parameters") or {}) if isinstance(body, dict) else {}
        if response.status_code == 429:
            raise _PollPause(f"getUpdates rate limited: {description}", float(parameters.get("retry_after", 5)))
        if response.status_code == 409:
            # A webhook is set (or another process polls with this token).
            with contextlib.suppress(TelegramError):
                await self.bot.delete_webhook()
            raise _PollPause(f"getUpdates conflict: {description}", 5.0)
        if response.status_code in (401, 404):
            raise _PollPause("the bot token was refused", 60.0)
        raise NetworkError(f"getUpdates answered HTTP {response.status_code}: {description}")

    async def _ingest_updates(self, sink: Sink, updates: list[Any]) -> int:
        """Ingest a batch and commit the next offset with it. Returns that offset."""
        messages: list[InboundMessage] = []
        last_id: int | None = None
        for data in updates:
            try:
                update_id = update_id_of(data)
            except UnreadableUpdate as exc:
                await sink.quarantine(_encoded(data), str(exc))
                continue
            last_id = update_id if last_id is None else max(last_id, update_id)
            if isinstance(data.get("callback_query"), dict):
                await self._callback(sink, data["callback_query"])
                continue
            if await self._comment(sink, data):
                continue
            message = await self._read(sink, data)
            if message is not None:
                messages.append(message)
        if last_id is None:
            raise NetworkError("getUpdates returned no readable update id")
        next_offset = last_id + 1
        # Empty batches (only chatter or quarantined updates) still move the cursor.
        await sink.ingest(messages, cursor=str(next_offset))
        return next_offset

    async def _read(self, sink: Sink, data: dict[str, Any]) -> InboundMessage | None:
        """One update to a message with its files; quarantines what cannot be read."""
        try:
            read = read_update(data, self.me)
        except UnreadableUpdate as exc:
            log.warning("telegram %s: update %s quarantined: %s", self.name, update_id_of(data), exc)
            await sink.quarantine(_encoded(data), str(exc), external_id=f"update:{update_id_of(data)}")
            return None
        if read is None:
            return None
        return await self._with_files(read)

    async def _learn_username(self) -> None:
        if self.me.username is None:
            user = await self.bot.get_me()
            self.me = BotIdentity(user.id, user.username)

    # -- receiving: webhook -----------------------------------------------------------------

    async def _register_webhook(self) -> None:
        assert self.config.webhook_secret is not None
        failures = 0
        while True:
            try:
                await self.bot.set_webhook(
                    self.webhook_url,
                    secret_token=self.config.webhook_secret,
                    allowed_updates=ALLOWED_UPDATES,
                )
                log.info("telegram %s: webhook registered at %s", self.name, self.webhook_url)
                await self._learn_username()
                return
            except InvalidToken:
                log.error("telegram %s: the bot token was refused; webhook not registered", self.name)
                return
            except TelegramError as exc:
                failures += 1
                delay = _retry_after(exc) if isinstance(exc, RetryAfter) else min(2.0**failures, 300.0)
                log.warning("telegram %s: setWebhook failed (%s); again in %.0fs", self.name, exc, delay)
                await asyncio.sleep(delay)

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResponse:
        if self.config.mode != "webhook" or self.config.webhook_secret is None:
            return _json(404, {"ok": False, "description": "this channel polls; it takes no webhook"})
        given = request.headers.get("x-telegram-bot-api-secret-token", "").encode()
        if not hmac.compare_digest(given, self.config.webhook_secret.encode()):
            log.warning("telegram %s: webhook call with a wrong or missing secret token refused", self.name)
            return _json(403, {"ok": False, "description": "wrong secret token"})
        sink = self._sink or self._attached
        if sink is None:
            return _json(503, {"ok": False, "description": "channel not running on this node"})
        await self._open_request()
        try:
            data = load_json(request.body)
            update_id = update_id_of(data)
        except (Unreadable, UnreadableUpdate) as exc:
            # Telegram sends a refused update again and again: a body that can never be
            # read is kept in quarantine and confirmed, so the updates after it flow.
            log.warning("telegram %s: unreadable webhook body quarantined: %s", self.name, exc)
            await sink.quarantine(request.body, f"unreadable webhook update: {exc}")
            return _json(200, {"ok": True, "quarantined": True})
        try:
            if isinstance(data, dict) and isinstance(data.get("callback_query"), dict):
                await self._callback(sink, data["callback_query"])
                return _json(200, {"ok": True})
            if isinstance(data, dict) and await self._comment(sink, data):
                return _json(200, {"ok": True})
            if self.me.username is None:
                await self._learn_username()
            try:
                read = read_update(data, self.me)
            except UnreadableUpdate as exc:
                log.warning("telegram %s: update %s quarantined: %s", self.name, update_id, exc)
                await sink.quarantine(request.body, str(exc), external_id=f"update:{update_id}")
                return _json(200, {"ok": True, "quarantined": True})
            if read is not None:
                await sink.ingest([await self._with_files(read)])
        except (TelegramError, httpx.HTTPError) as exc:
            # Telegram delivers the update again later; the insert is idempotent.
            log.warning("telegram %s: webhook update not stored yet: %s", self.name, exc)
            return _json(503, {"ok": False, "description": "try again"})
        return _json(200, {"ok": True})

    # -- buttons (inline keyboards): every press is an Interaction ------------------------------

    async def _callback(self, sink: Sink, query: dict[str, Any]) -> None:
        """A press of one of our buttons (a callback query): hand it to the sink as an
        Interaction, answer the query (Telegram shows the answer as a short notice and stops
        the button's spinner), take the buttons away once they have served, and after a
        rating offer a comment (a message to reply to). A press is never retried."""
        query_id = query.get("id")
        given = query.get("from")
        sender: dict[str, Any] = given if isinstance(given, dict) else {}
        pressed = _pressed(query.get("data"))
        answer = InteractionAnswer()
        if pressed is not None and isinstance(sink, SupportsInteractions):
            answer = await sink.interact(Interaction(_sender(sender), *pressed))
        if isinstance(query_id, str) and len(query_id) <= 64:
            try:
                await self.bot.answer_callback_query(query_id, text=answer.text[:200] or None)
            except TelegramError as exc:
                log.info("telegram %s: answerCallbackQuery failed: %s", self.name, exc)
        message = query.get("message")
        message = message if isinstance(message, dict) else {}
        chat = message.get("chat")
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        message_id = message.get("message_id")
        if not answer.close or not isinstance(chat_id, int) or not isinstance(message_id, int):
            return
        try:  # answered: the buttons go
            await self.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
            if answer.comment_prompt and answer.comment_url:
                # A message to reply to (force_reply opens the reply box); its link to the
                # comment page names the survey, so the reply finds it on any node, any time.
                text = f'{html.escape(answer.comment_prompt)}\n<a href="{html.escape(answer.comment_url)}">{html.escape(answer.comment_link or "")}</a>'
                await self.bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=ForceReply(selective=True),
                    reply_parameters=ReplyParameters(message_id=message_id, allow_sending_without_reply=True),
                )
        except TelegramError as exc:
            log.info("telegram %s: after the press: %s", self.name, exc)

    async def _comment(self, sink: Sink, data: dict[str, Any]) -> bool:
        """A reply to our comment prompt is the rating's comment, not a message in the
        conversation (docs/csat.md): handed to the sink as the prompt's Interaction, and the
        prompt edited to the outcome. False: not such a reply (the update goes on as a message)."""
        message = data.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("text"), str) or not isinstance(sink, SupportsInteractions):
            return False
        token = self._prompt_token(message.get("reply_to_message"))
        if token is None:
            return False
        given = message.get("from")
        answer = await sink.interact(
            Interaction(_sender(given if isinstance(given, dict) else {}), COMMENT_ACTION, token, text=message["text"])
        )
        prompt = message["reply_to_message"]
        chat = prompt.get("chat")
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        if answer.text and isinstance(chat_id, int) and isinstance(prompt.get("message_id"), int):
            try:
                await self.bot.edit_message_text(html.escape(answer.text), chat_id, prompt["message_id"], parse_mode=ParseMode.HTML)
            except TelegramError as exc:
                log.info("telegram %s: editMessageText failed: %s", self.name, exc)
        return True

    def _prompt_token(self, prompt: Any) -> str | None:
        """The survey token of our comment prompt (its link to the comment page), or None."""
        if not isinstance(prompt, dict):
            return None
        author = prompt.get("from")
        if not isinstance(author, dict) or not author.get("is_bot") or (self.me.id and author.get("id") != self.me.id):
            return None
        page = f"{self.context.public_url}/csat/"
        for entity in prompt.get("entities") or []:
            url = entity.get("url") if isinstance(entity, dict) and entity.get("type") == "text_link" else None
            if isinstance(url, str) and url.startswith(page):
                token = url.removeprefix(page).split("?", 1)[0]
                if 0 < len(token) <= 64 and "/" not in token:
                    return token
        return None

    # -- files ------------------------------------------------------------------------------

    async def _with_files(self, read: ReadUpdate) -> InboundMessage:
        if not read.files:
            return read.message
        attachments: list[InboundAttachment] = []
        notes: list[str] = []
        for ref in read.files:
            data, problem = await self._fetch(ref)
            if data is not None:
                attachments.append(InboundAttachment(ref.filename, ref.content_type, data))
            else:
                notes.append(f"[attachment {ref.filename} not downloaded: {problem}]")
        text = "\n".join(p for p in (read.message.text, *notes) if p)
        return dataclasses.replace(read.message, text=text, attachments=tuple(attachments))

    async def _fetch(self, ref: FileToFetch) -> tuple[bytes | None, str]:
        """The file's bytes, or None and why when it cannot ever be fetched.

        Network trouble raises: the update is then read again later.
        """
        limit = self.config.max_attachment_bytes
        if ref.size is not None and ref.size > limit:
            return None, f"{ref.size} bytes is over the {limit} byte limit"
        try:
            file = await self.bot.get_file(ref.file_id)
            data = bytes(await file.download_as_bytearray())
        except (
            BadRequest,
            Forbidden,
            InvalidToken,
        ) as exc:  # InvalidToken: the file URL answered 404
            return None, str(exc)
        if len(data) > limit:
            return None, f"{len(data)} bytes is over the {limit} byte limit"
        return data, ""

    # -- sending ----------------------------------------------------------------------------

    async def send(self, outbound: OutboundMessage) -> SendResult:
        chat_id = _chat_id(outbound)
        parts = _parts(outbound)
        if not parts:
            raise PermanentSendError("nothing to send: the reply has no text and no attachment")
        delivered = self._delivered.setdefault(outbound.idempotency_key, [])
        self._delivered.move_to_end(outbound.idempotency_key)
        while len(self._delivered) > 10_000:
            self._delivered.popitem(last=False)
        reply_to = _reply_target(outbound, chat_id)
        thread_id = outbound.conversation_meta.get("message_thread_id")
        for index, part in enumerate(parts):
            if index < len(delivered):
                continue
            try:
                wait = self.pacer.reserve(chat_id, f"{outbound.idempotency_key}:{index}")
            except TooSoon as exc:
                raise TransientSendError(str(exc), retry_after=exc.retry_after, count_attempt=False) from None
            if wait > 0:
                await asyncio.sleep(wait)
            markup = _keyboard(outbound) if index == len(parts) - 1 else None
            # The first part's request marks the send in flight once its connection is ready,
            # right before its bytes go out: from there a kill leaves the send in doubt.
            pending = _PENDING_MARK.set(outbound.dispatch if not delivered else None)
            try:
                message_id, chat_id = await self._send_part(chat_id, part, reply_to if index == 0 else None, thread_id, markup)
            finally:
                _PENDING_MARK.reset(pending)
            delivered.append(message_id)
        self._delivered.pop(outbound.idempotency_key, None)
        return SendResult(
            external_id=f"{chat_id}:{delivered[0]}",
            meta={"chat_id": chat_id, "message_ids": delivered},
        )

    async def _send_part(
        self, chat_id: int | str, part: _Part, reply_to: int | None, thread_id: Any, markup: InlineKeyboardMarkup | None = None
    ) -> tuple[int, int | str]:
        """Send one part; returns (message id, chat id). Maps Telegram errors to send errors."""
        reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
        extra: dict[str, Any] = {"reply_parameters": reply}
        if markup is not None:
            extra["reply_markup"] = markup
        if isinstance(thread_id, int):
            extra["message_thread_id"] = thread_id
        for _ in range(2):  # a second time only after the group became a supergroup
            try:
                if part.attachment is None:
                    assert part.text is not None
                    sent = await self.bot.send_message(chat_id, part.text, parse_mode=ParseMode.HTML, **extra)
                else:
                    sent = await self._send_attachment(chat_id, part.attachment, extra)
                return sent.message_id, chat_id
            except ChatMigrated as exc:
                chat_id = exc.new_chat_id
            except RetryAfter as exc:
                seconds = _retry_after(exc)
                self.pacer.hold(chat_id, seconds)
                raise TransientSendError(f"Telegram asked to wait {seconds:g}s (429)", retry_after=seconds) from None
            except Forbidden as exc:
                raise PermanentSendError(exc.message) from None
            except InvalidToken as exc:
                raise PermanentSendError(f"the bot token was refused: {exc.message}") from None
            except BadRequest as exc:  # before NetworkError: BadRequest is a subclass of it
                raise PermanentSendError(exc.message) from None
            except NetworkError as exc:
                # A timeout may hide a message Telegram did send; nothing tells them apart. While
                # the daemon runs it is retried (a stalled call mostly delivered nothing, and a
                # lost reply is worse); only a kill's doubt is held (in_doubt = "hold").
                raise TransientSendError(f"{type(exc).__name__}: {exc.message}") from None
            except TelegramError as exc:
                raise TransientSendError(f"{type(exc).__name__}: {exc.message}") from None
        raise PermanentSendError(f"chat {chat_id} migrated more than once")

    async def _send_attachment(self, chat_id: int | str, attachment: OutboundAttachment, extra: dict[str, Any]) -> Any:
        upload = InputFile(attachment.data, filename=attachment.filename)
        if attachment.content_type in PHOTO_TYPES and len(attachment.data) <= PHOTO_MAX_BYTES:
            return await self.bot.send_photo(chat_id, upload, **extra)
        return await self.bot.send_document(chat_id, upload, **extra)


COMMENT_ACTION = "csat_comment"  # routing/csat.py: what a reply to the comment prompt is
_LEGACY_RATING = "csat:"  # survey buttons sent before every button was an Interaction: csat:<token>:<n>


def _keyboard(outbound: OutboundMessage) -> InlineKeyboardMarkup | None:
    """The message's buttons in one row; each carries `<action_id>|<value>` (a button that
    would not fit Telegram's 64 bytes is left out: the text says what to do without it)."""
    buttons = [
        InlineKeyboardButton(b.text, callback_data=data)
        for b in outbound.buttons
        if len((data := f"{b.action_id}|{b.value}").encode()) <= 64
    ]
    return InlineKeyboardMarkup([buttons]) if buttons else None


def _pressed(data: Any) -> tuple[str, str] | None:
    """(action id, value) of a callback's data, or None."""
    if not isinstance(data, str) or len(data) > 64:
        return None
    if "|" in data:
        action_id, _, value = data.partition("|")
        return (action_id, value) if action_id else None
    if data.startswith(_LEGACY_RATING):
        token, _, rating = data.removeprefix(_LEGACY_RATING).rpartition(":")
        return (f"csat_rate_{rating}", token) if token and rating in ("1", "2", "3", "4", "5") else None
    return None


def _sender(user: dict[str, Any]) -> Sender:
    name = " ".join(str(user.get(k) or "") for k in ("first_name", "last_name")).strip() or None
    language = str(user.get("language_code") or "")[:2] or None
    return Sender(address=str(user.get("id", "")), name=name, language=language)


class _PollPause(Exception):
    def __init__(self, reason: str, seconds: float) -> None:
        super().__init__(reason)
        self.seconds = seconds


def _chat_id(outbound: OutboundMessage) -> int | str:
    value = outbound.conversation_meta.get("chat_id", outbound.recipient.address)
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def _parts(outbound: OutboundMessage) -> list[_Part]:
    chunks = html_to_telegram(outbound.html) if outbound.html else text_to_telegram(outbound.text)
    parts = [_Part(text=chunk) for chunk in chunks]
    parts.extend(_Part(attachment=a) for a in outbound.attachments)
    return parts


def _reply_target(outbound: OutboundMessage, chat_id: int | str) -> int | None:
    """The customer's message to thread the reply to, when threading helps.

    It helps in groups (several people talk) and when other messages came after the
    customer's; in a private chat answering the latest message it only adds noise.
    """
    target = outbound.in_reply_to
    if not target:
        return None
    chat, _, message_id = target.partition(":")
    if chat != str(chat_id) or not message_id.isdigit():
        return None
    in_group = outbound.conversation_meta.get("chat_type") in GROUPS
    latest = outbound.references[-1] if outbound.references else target
    return int(message_id) if in_group or latest != target else None


def _retry_after(exc: RetryAfter) -> float:
    return _seconds(exc.retry_after)


def _seconds(value: Any) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


def _encoded(data: Any) -> bytes:
    """An update as bytes for the quarantine, whatever it holds (ASCII escapes keep
    lone surrogates; a structure too deep to encode is kept as its repr)."""
    try:
        return json.dumps(data).encode()
    except (ValueError, TypeError, RecursionError):
        pass
    try:
        return repr(data)[:1_000_000].encode("utf-8", "backslashreplace")
    except RecursionError:
        return b"(an update nested too deep to keep)"


def _json(status: int, body: dict[str, Any]) -> WebhookResponse:
    return WebhookResponse(status=status, body=json.dumps(body).encode())


# The outbox's "in flight" mark of the send under way in this task (OutboundMessage.dispatch),
# committed by the request's trace as the request is about to be written: PTB's own work, the
# wait for a pooled connection and its opening all come before it, so a kill there is no doubt.
_PENDING_MARK: contextvars.ContextVar[Callable[[], Awaitable[None]] | None] = contextvars.ContextVar("telegram_pending_mark", default=None)
_ON_THE_WIRE = ("http11.send_request_headers.started", "http2.send_request_headers.started")


async def _mark_in_flight_on_the_wire(request: httpx.Request) -> None:
    """httpx request hook: hand the pending mark to httpcore's trace of this request."""
    mark = _PENDING_MARK.get()
    if mark is None:
        return
    _PENDING_MARK.set(None)  # once: a retry on another pooled connection is the same send
    earlier = request.extensions.get("trace")
    state: dict[str, Callable[[], Awaitable[None]] | None] = {"mark": mark}

    async def trace(event: str, info: dict[str, Any]) -> None:
        if earlier is not None:
            await earlier(event, info)
        pending = state["mark"]
        if pending is not None and event in _ON_THE_WIRE:
            state["mark"] = None
            await pending()  # raises when the lease was lost: nothing is written

    request.extensions = {**request.extensions, "trace": trace}
