"""Email: an IMAP folder into the inbox (IDLE, or polling when the server lacks it), agent
replies out through SMTP.

The cursor committed with each batch is the folder's UIDVALIDITY and the last UID
stored; it moves only when the inbox has committed the batch, so a crash at any point
re-reads at most one batch, whose messages the inbox already knows by Message-ID. A new
UIDVALIDITY (a rebuilt or restored mailbox) re-reads the folder with the same dedup.
Mail that cannot be parsed is quarantined with its raw bytes and the cursor moves on.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from email.utils import parseaddr
from typing import ClassVar, Literal

import aiosmtplib
from pydantic import ConfigDict, Field, field_validator

from channels.base import (
    ChannelAuthError,
    ChannelConfig,
    ChannelContext,
    CheckResult,
    InboundMessage,
    InDoubt,
    OutboundMessage,
    PermanentSendError,
    SendResult,
    Sink,
    TransientSendError,
    cancel_task,
)
from channels.email_compose import EmailTemplates, compose, message_id
from channels.email_imap import ImapConfig, ImapError, ImapSession, ServerConfig
from channels.email_parse import ParseOptions, headers_only, message_id_of, parse_email

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0


class SmtpConfig(ServerConfig):
    @property
    def real_port(self) -> int:
        return self.port or {"tls": 465, "starttls": 587, "none": 25}[self.security]


class EmailConfig(ChannelConfig):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["email"] = "email"
    imap: ImapConfig
    smtp: SmtpConfig
    from_: str = Field(alias="from", description='e.g. "Example Support <support@example.com>"')
    message_id_domain: str | None = None  # default: the host of server.public_url
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=0)
    max_message_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)  # bigger: headers only
    use_idle: bool = True
    idle_timeout: float = Field(default=25 * 60, gt=0, le=29 * 60)  # re-issue IDLE before servers drop it
    poll_interval: float = Field(default=60.0, gt=0)  # without IDLE
    batch_size: int = Field(default=50, ge=1, le=1000)

    @field_validator("from_")
    @classmethod
    def _from_address(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError('expected an address, e.g. "Example Support <support@example.com>"')
        return value

    @property
    def from_address(self) -> str:
        return parseaddr(self.from_)[1].lower()


@dataclass(frozen=True, slots=True)
class Cursor:
    folder: str
    uidvalidity: int
    uid: int

    def encode(self) -> str:
        return json.dumps({"folder": self.folder, "uidvalidity": self.uidvalidity, "uid": self.uid})

    @classmethod
    def decode(cls, value: str | None) -> Cursor | None:
        if not value:
            return None
        try:
            data = json.loads(value)
            return cls(str(data["folder"]), int(data["uidvalidity"]), int(data["uid"]))
        except (ValueError, KeyError, TypeError):
            log.warning("email cursor %r is unreadable; reading the folder again", value[:100])
            return None


class EmailChannel:
    config_model: ClassVar[type[ChannelConfig]] = EmailConfig
    icon: ClassVar[str] = "✉"
    delivers_on_commit: ClassVar[bool] = False
    in_doubt: ClassVar[InDoubt] = "resend"  # a repeat carries the same Message-ID

    def __init__(self, config: EmailConfig, context: ChannelContext) -> None:
        self.config = config
        self.name = config.name
        self.domain = config.message_id_domain or context.message_id_domain
        own = {config.from_address}
        if "@" in config.imap.user:
            own.add(config.imap.user.lower())
        self.options = ParseOptions(self.domain, frozenset(own), config.max_attachment_bytes)
        self.templates = EmailTemplates()
        self._task: asyncio.Task[None] | None = None
        # For tests and metrics: the last time a catch-up finished (monotonic seconds).
        self.caught_up_at: float | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, sink: Sink) -> None:
        self._task = asyncio.create_task(self._receive(sink), name=f"email:{self.name}")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None

    def parse(self, raw: bytes) -> InboundMessage:
        return parse_email(raw, self.options)

    # -- receiving ------------------------------------------------------------------------

    async def _receive(self, sink: Sink) -> None:
        delay = 1.0
        while True:
            session = ImapSession(self.config.imap)
            try:
                await session.open()
                await self._follow(session, sink)
            except asyncio.CancelledError:
                raise
            except ChannelAuthError as exc:
                log.error("email channel %s: %s; retrying in %.0fs", self.name, exc, delay)
            except Exception as exc:
                log.warning("email channel %s: %s: %s; reconnecting in %.0fs", self.name, type(exc).__name__, exc, delay)
            finally:
                await session.close()
            if self.caught_up_at is not None and time.monotonic() - self.caught_up_at < 60:
                delay = 1.0  # the connection worked a moment ago: a blip, not an outage
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    async def _follow(self, session: ImapSession, sink: Sink) -> None:
        folder = self.config.imap.folder
        state = await session.select(folder)
        cursor = Cursor.decode(await sink.cursor())
        last = 0
        if cursor is not None and cursor.folder == folder and cursor.uidvalidity == state.uidvalidity:
            last = cursor.uid
        elif cursor is not None:
            log.warning(
                "email channel %s: UIDVALIDITY of %s changed (%s -> %s); reading it again, known messages are skipped",
                self.name,
                folder,
                cursor.uidvalidity,
                state.uidvalidity,
            )
        idle = self.config.use_idle and session.supports_idle
        while True:
            last = await self._catch_up(session, sink, folder, state.uidvalidity, last)
            self.caught_up_at = time.monotonic()
            if idle:
                await session.wait_for_news(self.config.idle_timeout)
            else:
                await asyncio.sleep(self.config.poll_interval)
                await session.noop()

    async def _catch_up(self, session: ImapSession, sink: Sink, folder: str, uidvalidity: int, last: int) -> int:
        """Import every UID after `last`, a batch per transaction; returns the new last UID."""
        uids = await session.uids_after(last)
        size = self.config.batch_size
        for start in range(0, len(uids), size):
            chunk = uids[start : start + size]
            raws = await self._fetch(session, chunk)
            parsed, failed = await asyncio.to_thread(self._parse_batch, raws)
            for raw, error in failed:
                key = message_id_of(raw) or "sha256:" + hashlib.sha256(raw).hexdigest()
                await sink.quarantine(raw, error, external_id=key)
            last = chunk[-1]
            await sink.ingest(parsed, cursor=Cursor(folder, uidvalidity, last).encode())
        return last

    async def _fetch(self, session: ImapSession, uids: list[int]) -> dict[int, bytes]:
        sizes = await session.sizes(uids)
        limit = self.config.max_message_bytes
        small = [u for u in uids if sizes.get(u, 0) <= limit]
        large = [u for u in uids if sizes.get(u, 0) > limit]
        raws = await session.fetch(small)
        if large:
            heads = await session.fetch(large, part="BODY.PEEK[HEADER]")
            for uid, head in heads.items():
                note = f"[message of {sizes[uid]} bytes over the {limit}-byte limit: only its headers were imported]"
                raws[uid] = headers_only(head, note)
        return dict(sorted(raws.items()))

    def _parse_batch(self, raws: dict[int, bytes]) -> tuple[list[InboundMessage], list[tuple[bytes, str]]]:
        parsed: list[InboundMessage] = []
        failed: list[tuple[bytes, str]] = []
        for uid, raw in raws.items():
            try:
                parsed.append(parse_email(raw, self.options))
            except ValueError as exc:
                log.warning("email channel %s: UID %s cannot be parsed: %s", self.name, uid, exc)
                failed.append((raw, str(exc)))
        return parsed, failed

    # -- sending --------------------------------------------------------------------------

    async def send(self, outbound: OutboundMessage) -> SendResult:
        try:
            msg = compose(outbound, sender=self.config.from_, domain=self.domain, templates=self.templates)
        except ValueError as exc:
            raise PermanentSendError(str(exc)) from None
        recipient = parseaddr(str(msg["To"]))[1]
        smtp = self._smtp_client()
        try:
            await smtp.connect()
            if self.config.smtp.user:
                await smtp.login(self.config.smtp.user, self.config.smtp.password)
            await smtp.send_message(msg, sender=self.config.from_address, recipients=[recipient])
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            error = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            if codes and all(c >= 500 for c in codes):
                raise PermanentSendError(f"recipient refused: {error}") from None
            raise TransientSendError(f"recipient deferred: {error}") from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Wrong credentials are the channel's problem, not this message's: retry.
            raise TransientSendError(f"SMTP login refused: {exc.code} {exc.message}") from None
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise PermanentSendError(f"SMTP {exc.code}: {exc.message}") from None
            raise TransientSendError(f"SMTP {exc.code}: {exc.message}") from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise TransientSendError(f"SMTP: {type(exc).__name__}: {exc}") from None
        finally:
            if smtp.is_connected:
                try:
                    await asyncio.wait_for(smtp.quit(), 5)
                except (TimeoutError, aiosmtplib.SMTPException, OSError):
                    smtp.close()
        return SendResult(external_id=message_id(outbound.idempotency_key, self.domain))

    def _smtp_client(self) -> aiosmtplib.SMTP:
        config = self.config.smtp
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.real_port,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            tls_context=config.ssl_context() if config.security != "none" else None,
            timeout=config.timeout,
        )

    # -- `frontdesk channels test NAME` ---------------------------------------------------

    async def check(self) -> list[CheckResult]:
        return [await self._check_imap(), await self._check_smtp()]

    async def _check_imap(self) -> CheckResult:
        imap = self.config.imap
        where = f"{imap.user} at {imap.host}:{imap.real_port} ({imap.security})"
        session = ImapSession(imap)
        try:
            await session.open()
            state = await session.select(imap.folder)
            idle = "IDLE" if session.supports_idle else f"no IDLE: polling every {self.config.poll_interval:g}s"
            return CheckResult("imap login", True, f"{where}; folder {imap.folder} (UIDVALIDITY {state.uidvalidity}); {idle}")
        except (TimeoutError, ChannelAuthError, ImapError, OSError) as exc:
            return CheckResult("imap login", False, f"{where}: {exc}")
        finally:
            await session.close()

    async def _check_smtp(self) -> CheckResult:
        smtp_config = self.config.smtp
        where = f"{smtp_config.user or '(no login)'} at {smtp_config.host}:{smtp_config.real_port} ({smtp_config.security})"
        smtp = self._smtp_client()
        try:
            await smtp.connect()
            if smtp_config.user:
                await smtp.login(smtp_config.user, smtp_config.password)
            await smtp.noop()
            return CheckResult("smtp login", True, where)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            return CheckResult("smtp login", False, f"{where}: {type(exc).__name__}: {exc}")
        finally:
            if smtp.is_connected:
                smtp.close()
