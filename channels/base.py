"""The channel boundary: what every adapter receives, produces and implements.

An adapter turns the outside world into `InboundMessage`s handed to a `Sink`, and sends
`OutboundMessage`s. It knows nothing of the database, routing or other adapters: the
sink is the only way in, and it returns only once the messages are committed, so the
adapter may then acknowledge its source.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

# What the outbox may do with a send in doubt (see `Channel.in_doubt`).
InDoubt = Literal["resend", "look", "hold"]


class ChannelConfig(BaseModel):
    """Keys every channel has; each adapter subclasses this with its own keys."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="a slug, unique; used in URLs")
    type: str
    enabled: bool = True
    # Ask the customer to rate a conversation (1-5) when it is resolved (docs/csat.md).
    csat: bool = False
    # Seconds between the resolve and the question; a conversation reopened meanwhile is not asked.
    csat_delay: int = Field(default=120, ge=0, le=7 * 24 * 3600)

    def channels_named(self) -> dict[str, str]:
        """Other channels this one names, by key ({"offline_email_channel": "support"}):
        the config check makes sure each exists."""
        return {}


# --- inbound -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote a message, as the channel knows them."""

    address: str  # the identity on this channel: email address, Telegram user id, ...
    name: str | None = None
    email: str | None = None  # an email address when the channel knows one (merges contacts)
    username: str | None = None
    language: str | None = None  # "en", "es", ... when the channel knows it
    verified: bool = True  # False when the address is only claimed (e.g. an anonymous visitor)


@dataclass(frozen=True, slots=True)
class InboundAttachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None


MessageKind = Literal["message", "edit", "delete"]


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from the outside world, as an adapter hands it to the inbox.

    `external_id` is unique within the channel and stable across redeliveries: the
    inbox stores each (channel, external_id) once, whatever the adapter repeats.
    """

    external_id: str
    sender: Sender
    text: str
    html: str | None = None  # raw HTML as received; the inbox sanitises it before storage
    subject: str | None = None
    # The conversation key the adapter knows (Telegram chat, Slack thread, widget
    # session). Messages with the same key continue the same open conversation.
    thread_key: str | None = None
    # External ids this message answers (email In-Reply-To / References).
    references: tuple[str, ...] = ()
    # A ticket number the customer quoted (e.g. "[#123]" in an email subject).
    ticket_number: int | None = None
    attachments: tuple[InboundAttachment, ...] = ()
    sent_at: dt.datetime | None = None
    # Mail from robots (auto-replies, bounces, lists) is stored but never answered.
    automated: bool = False
    kind: MessageKind = "message"
    # For kind "edit" / "delete": the external id of the message it changes.
    target_external_id: str | None = None
    # Channel-specific facts the adapter needs again to reply (chat id, thread ts,
    # Message-ID, ...). Plain JSON values only.
    meta: dict[str, Any] = field(default_factory=dict)
    raw: bytes | None = None  # the original bytes, kept for admins


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What the inbox did with one inbound message (after commit)."""

    external_id: str
    message_id: int | None  # None when the message was quarantined
    conversation_id: int | None
    duplicate: bool = False
    quarantined: bool = False


class Sink(Protocol):
    """The inbox, as an adapter sees it."""

    async def ingest(self, messages: Sequence[InboundMessage], *, cursor: str | None = None) -> list[IngestResult]:
        """Store the messages (and the adapter's new cursor) in one transaction.

        Returns after commit. Duplicates of already stored messages are reported with
        `duplicate=True` and change nothing.
        """
        ...

    async def quarantine(self, raw: bytes, error: str, *, external_id: str | None = None) -> None:
        """Store input that cannot be parsed, with the error, so the cursor can move on."""
        ...

    async def cursor(self) -> str | None:
        """The cursor last committed with `ingest` (IMAP UID, Telegram offset, ...)."""
        ...


# --- outbound ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboundButton:
    """A button under a message, on channels that have them (Slack's block actions); the
    text already says what to do without it (e.g. the links of an approval request)."""

    action_id: str
    text: str
    value: str
    style: str | None = None  # "primary" | "danger"


@dataclass(frozen=True, slots=True)
class Interaction:
    """Someone pressed an `OutboundButton` (a Slack block action, a Telegram callback
    query, the widget's survey stars), or answered what the press asked for next (`text`:
    a comment typed after a rating): who (as the channel knows them), which, and its value.
    Every press on every channel reaches the inbox this one way (`SupportsInteractions`)."""

    sender: Sender
    action_id: str
    value: str
    text: str | None = None


@dataclass(frozen=True, slots=True)
class InteractionAnswer:
    """What came of an `Interaction`, for the channel to show the presser."""

    text: str = ""  # a short line for the presser ("" nothing to say: not our button)
    outcome: str = ""  # machine-readable ("rated", "already_rated", "expired", "commented", ...)
    close: bool = False  # the buttons have served: the message shows `text` instead of them
    # Offer to add a comment (after a rating): the prompt, and the signed web page that takes it too.
    comment_prompt: str | None = None
    comment_url: str | None = None
    comment_link: str | None = None  # the link's words ("Add a comment")


@runtime_checkable
class SupportsInteractions(Protocol):
    """A sink that takes button presses (and what they ask for next)."""

    async def interact(self, interaction: Interaction) -> InteractionAnswer: ...


@dataclass(frozen=True, slots=True)
class OutboundAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str  # the contact's identity on this channel
    name: str | None = None
    email: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A reply to send. `idempotency_key` is stable across retries of the same send
    (use it as Message-ID, client id, ...), so a retried send is recognisable."""

    idempotency_key: str
    recipient: Recipient
    text: str
    html: str | None = None  # sanitised HTML rendered by the inbox, when it has one
    subject: str | None = None
    thread_key: str | None = None
    # External ids of the thread so far, oldest first (email References).
    references: tuple[str, ...] = ()
    # The latest customer message's external id, if the reply answers it.
    in_reply_to: str | None = None
    attachments: tuple[OutboundAttachment, ...] = ()
    author_name: str | None = None  # the agent, for channels that show it
    conversation_meta: dict[str, Any] = field(default_factory=dict)
    ticket_number: int | None = None
    # The customer's signed "View your requests" link to the portal (e-mail footers).
    portal_url: str | None = None
    # Not a reply in a conversation (a portal sign-in link): its subject is sent as it is.
    standalone: bool = False
    buttons: tuple[OutboundButton, ...] = ()
    # A satisfaction survey: the channel offers the ratings 1-5 (buttons, stars, links).
    csat: CsatAsk | None = None
    # An earlier attempt of this send was dispatched and its outcome never recorded (the
    # daemon stopped in between): it may have arrived. Only channels whose `in_doubt` is
    # "look" see this; they look for the message before sending it again.
    in_doubt: bool = False
    # The outbox's "in flight" mark. An adapter awaits it right before the first request
    # that can deliver the message (after its own pacing), so a send the daemon never
    # started is told from one whose outcome is unknown. It raises TransientSendError when
    # this worker lost the send's lease: the adapter then sends nothing.
    dispatch: Callable[[], Awaitable[None]] | None = field(default=None, compare=False, repr=False)

    async def dispatched(self) -> None:
        """Mark the send as in flight (see `dispatch`); a no-op outside the outbox."""
        if self.dispatch is not None:
            await self.dispatch()


@dataclass(frozen=True, slots=True)
class CsatAsk:
    """The rating question of a satisfaction survey. `token` is the signed survey token
    (short enough for a Telegram callback, 64 bytes); `url` its web page, where
    `url + "?rating=N"` shows rating N preselected (e-mail links)."""

    token: str
    url: str
    question: str
    labels: tuple[str, ...] = ("1", "2", "3", "4", "5")
    language: str = "en"  # of the question and labels: the channel's answers to a press use it too


@dataclass(frozen=True, slots=True)
class SendResult:
    external_id: str | None = None  # the id the channel gave the sent message
    meta: dict[str, Any] = field(default_factory=dict)


class SendError(Exception):
    """Base of send failures."""


class TransientSendError(SendError):
    """Try again later (network, 4xx rate limit, 5xx). `retry_after` in seconds if known."""

    def __init__(self, reason: str, *, retry_after: float | None = None, count_attempt: bool = True) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        # False for deferrals that are not failures (our own pacing, a rate limit):
        # they do not use up the send's attempts.
        self.count_attempt = count_attempt


class PermanentSendError(SendError):
    """Retrying will not help (user blocked the bot, mailbox does not exist)."""


class DeliveryUnknown(SendError):
    """The request may or may not have delivered the message (a timeout after it was
    sent) and the channel cannot tell: raised only by channels whose `in_doubt` is
    "hold", whose sends the outbox then never repeats."""


class ChannelAuthError(Exception):
    """The channel's credentials were refused."""


@runtime_checkable
class SupportsRelay(Protocol):
    """Adapters that ask for a copy of a reply on another channel (the widget: a visitor
    who left asked to be answered by email too)."""

    def relay_target(self, outbound: OutboundMessage) -> tuple[str, Recipient] | None:
        """(the other channel's name, the recipient there), or None for no copy."""
        ...


# --- webhooks ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """An HTTP request for a channel's hook, framework-neutral."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    query: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of `frontdesk channels test NAME`."""

    what: str  # "imap login", "smtp login", "getMe", ...
    ok: bool
    detail: str = ""


# --- the protocol ------------------------------------------------------------------


@runtime_checkable
class Channel(Protocol):
    """What the inbox needs of an adapter."""

    config_model: ClassVar[type[ChannelConfig]]
    # What the inbox shows for the channel's type (one character, in lists and rows).
    icon: ClassVar[str]
    # True when a reply is delivered by being committed (the widget's gateway reads it
    # from the store on every web node), so the outbox never sends it.
    delivers_on_commit: ClassVar[bool]
    # What the outbox does with a send that was dispatched but whose outcome was never
    # recorded (a kill, a crash): "resend" when sending again is harmless (e-mail: the
    # same Message-ID, the receiver dedups), "look" when the adapter can find out (Slack:
    # the message's metadata carries the idempotency key; it is told with `in_doubt`),
    # "hold" when neither (Telegram's Bot API has no idempotency key and no way to read
    # the chat back): never sent again, the delivery is recorded as "unknown".
    in_doubt: ClassVar[InDoubt]
    name: str

    async def start(self, sink: Sink) -> None:
        """Begin receiving. Returns once running; the adapter owns its tasks."""
        ...

    async def stop(self) -> None:
        """Stop receiving and cancel every task the adapter started."""
        ...

    async def send(self, outbound: OutboundMessage) -> SendResult:
        """Send one message. Raises TransientSendError or PermanentSendError."""
        ...


@runtime_checkable
class SupportsWebhook(Protocol):
    async def handle_webhook(self, request: WebhookRequest) -> WebhookResponse: ...


@runtime_checkable
class SupportsAttach(Protocol):
    """Adapters that take webhooks: every web node attaches a sink for `handle_webhook`,
    while `start()` (the receiver: polling, webhook registration) runs on one node only."""

    def attach(self, sink: Sink) -> None: ...


@runtime_checkable
class SupportsCheck(Protocol):
    async def check(self) -> list[CheckResult]: ...


async def cancel_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel a task this component owns and wait until it has finished (for `stop()`)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What the daemon tells every adapter when it builds one."""

    public_url: str  # e.g. "https://support.example.com", no trailing slash
    # The domain of our own Message-IDs (loop protection, threading).
    message_id_domain: str = "frontdesk.local"


@runtime_checkable
class SupportsParse(Protocol):
    """Adapters whose raw input can be parsed again (`frontdesk quarantine retry ID`)."""

    def parse(self, raw: bytes) -> InboundMessage:
        """Raise ValueError when `raw` still cannot be parsed."""
        ...
