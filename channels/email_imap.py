"""One IMAP connection for the email channel, on aioimaplib: connect (TLS, STARTTLS or
plain on loopback), log in, select a folder, list UIDs after a cursor, fetch raw
messages, and wait for news with IDLE (or say the server cannot).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from dataclasses import dataclass
from typing import Any, Literal

import aioimaplib
from pydantic import BaseModel, ConfigDict, Field, model_validator

from channels.base import ChannelAuthError

Security = Literal["tls", "starttls", "none"]
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, gt=0, lt=65536)
    security: Security = "tls"
    user: str = ""
    password: str = ""
    ca_file: str | None = None  # a private CA for the server's certificate
    timeout: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _plain_only_on_loopback(self) -> ServerConfig:
        if self.security == "none" and self.host not in LOOPBACK:
            raise ValueError('security = "none" is only allowed for a loopback host (127.0.0.1, ::1, localhost)')
        return self

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


class ImapConfig(ServerConfig):
    folder: str = "INBOX"

    @property
    def real_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)


class ImapError(Exception):
    """The IMAP server refused a command or the connection broke."""


@dataclass(frozen=True, slots=True)
class FolderState:
    uidvalidity: int
    uidnext: int | None


_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_UIDNEXT = re.compile(rb"UIDNEXT (\d+)")
_FETCH_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapSession:
    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self.client: aioimaplib.IMAP4 | None = None
        self._lost: asyncio.Event = asyncio.Event()

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    async def open(self) -> None:
        """Connect and log in; ChannelAuthError when the credentials are refused."""
        config = self.config
        context = config.ssl_context() if config.security == "tls" else None
        self._lost = asyncio.Event()
        self.client = aioimaplib.IMAP4(
            host=config.host,
            port=config.real_port,
            timeout=config.timeout,
            conn_lost_cb=lambda exc: self._lost.set(),
            ssl_context=context,
        )
        try:
            await self.client.wait_hello_from_server()
        except (TimeoutError, OSError, aioimaplib.AioImapException) as exc:
            raise ImapError(f"cannot connect to {config.host}:{config.real_port}: {type(exc).__name__}: {exc}") from exc
        if config.security == "starttls":
            await self._starttls()
        response = await self.client.login(config.user, config.password)
        if response.result != "OK":
            raise ChannelAuthError(f"IMAP login refused for {config.user}: {_text(response)}")

    async def _starttls(self) -> None:
        assert self.client is not None
        protocol = self.client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise ImapError("the server does not offer STARTTLS")
        response = await asyncio.wait_for(
            protocol.execute(aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)), self.config.timeout
        )
        if response.result != "OK":
            raise ImapError(f"STARTTLS refused: {_text(response)}")
        loop = asyncio.get_running_loop()
        protocol.transport = await loop.start_tls(protocol.transport, protocol, self.config.ssl_context(), server_hostname=self.config.host)
        await asyncio.wait_for(protocol.capability(), self.config.timeout)

    @property
    def supports_idle(self) -> bool:
        return self.client is not None and self.client.has_capability("IDLE")

    async def select(self, folder: str) -> FolderState:
        response = await self._client.select(folder)
        if response.result != "OK":
            raise ImapError(f"cannot select {folder!r}: {_text(response)}")
        joined = b"\n".join(bytes(line) for line in response.lines)
        validity = _UIDVALIDITY.search(joined)
        uidnext = _UIDNEXT.search(joined)
        if validity is None:
            raise ImapError(f"the server gave no UIDVALIDITY for {folder!r}")
        return FolderState(int(validity.group(1)), int(uidnext.group(1)) if uidnext else None)

    async def uids_after(self, last_uid: int) -> list[int]:
        """UIDs greater than `last_uid`, ascending ("N:*" also returns the highest UID)."""
        response = await self._client.uid_search("UID", f"{last_uid + 1}:*", charset=None)
        if response.result != "OK":
            raise ImapError(f"UID SEARCH failed: {_text(response)}")
        uids: set[int] = set()
        for line in response.lines[:-1] if len(response.lines) > 1 else response.lines:
            for token in bytes(line).split():
                if token.isdigit() and int(token) > last_uid:
                    uids.add(int(token))
        return sorted(uids)

    async def sizes(self, uids: list[int]) -> dict[int, int]:
        """RFC822.SIZE by UID."""
        if not uids:
            return {}
        response = await self._client.uid("fetch", ",".join(map(str, uids)), "(UID RFC822.SIZE)")
        if response.result != "OK":
            raise ImapError(f"UID FETCH failed: {_text(response)}")
        out: dict[int, int] = {}
        for line in response.lines:
            if isinstance(line, bytes | bytearray):
                uid, size = _FETCH_UID.search(line), _SIZE.search(line)
                if uid and size:
                    out[int(uid.group(1))] = int(size.group(1))
        return out

    async def fetch(self, uids: list[int], part: str = "BODY.PEEK[]") -> dict[int, bytes]:
        """Raw bytes by UID (without setting \\Seen); UIDs expunged meanwhile are missing."""
        if not uids:
            return {}
        response = await self._client.uid("fetch", ",".join(map(str, uids)), f"(UID {part})")
        if response.result != "OK":
            raise ImapError(f"UID FETCH failed: {_text(response)}")
        return parse_fetch(response.lines)

    async def wait_for_news(self, timeout: float) -> None:
        """IDLE until the server reports new mail, the connection drops or `timeout` passes."""
        client = self._client
        idle = await client.idle_start(timeout=timeout)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            while not self._lost.is_set():
                push = asyncio.ensure_future(client.wait_server_push(timeout + 5))
                done, _ = await asyncio.wait({push, lost}, return_when=asyncio.FIRST_COMPLETED)
                if push not in done:
                    push.cancel()
                    raise ImapError("connection lost while idle")
                lines = push.result()
                if lines == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                if any(b"EXISTS" in bytes(line) for line in lines):
                    break
            if self._lost.is_set():
                raise ImapError("the server closed the connection")
        finally:
            lost.cancel()
            if not self._lost.is_set() and client.has_pending_idle():
                client.idle_done()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(idle, self.config.timeout)

    async def noop(self) -> None:
        await self._client.noop()

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        protocol = client.protocol
        idle = protocol.pending_sync_command is None and not protocol.pending_async_commands
        # A polite LOGOUT only when no command is in flight (a stop can cancel us mid-IDLE
        # or mid-FETCH); the server cleans up a closed connection either way.
        with contextlib.suppress(Exception):
            if idle and not self._lost.is_set():
                await asyncio.wait_for(client.logout(), 2)
        transport: Any = getattr(client.protocol, "transport", None)
        if transport is not None:
            transport.close()

    @property
    def _client(self) -> aioimaplib.IMAP4:
        if self.client is None or self._lost.is_set():
            raise ImapError("not connected")
        return self.client


def parse_fetch(lines: list[Any]) -> dict[int, bytes]:
    """The literal of each `N FETCH (UID u BODY[] {n}` response, by UID."""
    out: dict[int, bytes] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if isinstance(line, bytes) and b"FETCH" in line and i + 1 < len(lines) and isinstance(lines[i + 1], bytearray):
            match = _FETCH_UID.search(line)
            if match is None and i + 2 < len(lines) and isinstance(lines[i + 2], bytes):
                match = _FETCH_UID.search(lines[i + 2])
            if match is not None:
                out[int(match.group(1))] = bytes(lines[i + 1])
            i += 2
            continue
        i += 1
    return out


def _text(response: Any) -> str:
    return " ".join(bytes(line).decode("utf-8", "replace") for line in response.lines)[:300]
