"""The live-chat widget channel: visitors on a website, through the websocket gateway.

The browser half and the websocket gateway live in `widget/`. Visitors' messages reach
the inbox through the gateway's sink; agents' replies are stored by the inbox and the
gateway of whichever web node holds the visitor's socket reads them back from the
database when the event bus says so. So `send()` has nothing to transmit: the reply is
already "delivered" to every gateway the moment it is committed.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, field_validator

from channels.base import (
    ChannelConfig,
    ChannelContext,
    CheckResult,
    InDoubt,
    OutboundMessage,
    Recipient,
    SendResult,
    Sink,
)

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
EMAIL = re.compile(r"^[^@\s<>,;]{1,64}@[^@\s<>,;]{1,255}\.[^@\s<>,;]{2,63}$")


class WidgetConfig(ChannelConfig):
    type: Literal["widget"] = "widget"
    # Pages allowed to embed the widget (the websocket's Origin header), e.g.
    # "https://www.example.com". The daemon's own public_url is always allowed (demo page).
    allowed_origins: list[str] = []
    # Optional: when set, Frontdesk.identify() is trusted only with hmac = HMAC-SHA256(id).
    identity_secret: str | None = None
    title: str = "Support"
    title_es: str | None = None
    color: str = "#2456d6"
    greeting: str = "Hi! How can we help?"
    greeting_es: str | None = "¡Hola! ¿En qué podemos ayudarte?"
    # Per visitor: at most this many messages in 10 seconds (a quick typist's burst fits).
    rate_limit: int = Field(default=30, ge=1, le=1000)
    max_message_chars: int = Field(default=5000, ge=1, le=100_000)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # An email channel's name: when no agent is online the widget asks for an email,
    # and replies are then also sent there, so the conversation continues by email.
    offline_email_channel: str | None = None
    # Asked before the first message, in this order: any of "name", "email". The email is
    # stored on the contact as claimed (unverified): it never merges contacts.
    prechat: list[Literal["name", "email"]] = []
    # Request types (the service catalogue) offered as forms before the first message:
    # their names, or ["*"] for every type; empty (the default): none, a plain chat.
    request_types: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]] = Field(
        default=[], max_length=50
    )

    def channels_named(self) -> dict[str, str]:
        return {"offline_email_channel": self.offline_email_channel} if self.offline_email_channel else {}

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        for value in values:
            if value != "*" and not re.match(r"^https?://[^/\s]+$", value):
                raise ValueError(f"{value!r} is not an origin like https://www.example.com (no path, no trailing slash)")
        return values

    @field_validator("prechat")
    @classmethod
    def _prechat(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("each of name, email at most once")
        return values

    @field_validator("color")
    @classmethod
    def _color(cls, value: str) -> str:
        if not _COLOUR.match(value):
            raise ValueError("expected a colour like #2456d6")
        return value


class WidgetChannel:
    config_model: ClassVar[type[ChannelConfig]] = WidgetConfig
    icon: ClassVar[str] = "❝"
    delivers_on_commit: ClassVar[bool] = True
    in_doubt: ClassVar[InDoubt] = "resend"  # delivered by its commit, never sent

    def __init__(self, config: WidgetConfig, context: ChannelContext) -> None:
        self.config = config
        self.name = config.name
        self.context = context
        self.sink: Sink | None = None

    def attach(self, sink: Sink) -> None:
        """Every web node's gateway stores visitors' messages through this sink."""
        self.sink = sink

    async def start(self, sink: Sink) -> None:
        self.sink = self.sink or sink

    async def stop(self) -> None:
        return None

    async def send(self, outbound: OutboundMessage) -> SendResult:
        return SendResult(external_id=f"widget-out:{outbound.idempotency_key}")

    def relay_target(self, outbound: OutboundMessage) -> tuple[str, Recipient] | None:
        """A visitor who left their email in the offline form gets replies there too."""
        email = outbound.conversation_meta.get("continue_by_email")
        if not self.config.offline_email_channel or not isinstance(email, str) or not EMAIL.match(email):
            return None
        recipient = Recipient(address=email, name=outbound.recipient.name, email=email, language=outbound.recipient.language)
        return self.config.offline_email_channel, recipient

    async def check(self) -> list[CheckResult]:
        origins = ", ".join(self.config.allowed_origins) or "(only this server's own pages)"
        return [
            CheckResult("embed script", True, f"{self.context.public_url}/widget/{self.name}.js"),
            CheckResult("allowed origins", True, origins),
            CheckResult("identity verification", True, "on (HMAC-SHA256)" if self.config.identity_secret else "off"),
        ]
