"""A folder-based channel: JSON files in, JSON files out.

Scripts and other systems drop one JSON object per file into `inbox_dir`; the adapter
ingests them and deletes each file only after the inbox has committed it. Replies are
written to `outbox_dir` as `<idempotency_key>.json`, so a retried send overwrites the
same file instead of adding a second one. It is also the channel the fault tests use.

Inbound file format (keys beyond `id`, `from` and `text` are optional):

    {"id": "ext-1", "from": "ana@example.com", "name": "Ana", "text": "Hello",
     "subject": "...", "thread": "key", "html": "<p>..</p>", "language": "en"}

A file that cannot be read (not JSON, nested too deep, too big, wrong keys) or that
the inbox refused `MAX_INGEST_ATTEMPTS` times is quarantined once and moved to
`inbox_dir/quarantined/`, so it never holds back the files behind it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from channels.base import (
    ChannelConfig,
    ChannelContext,
    CheckResult,
    InboundMessage,
    InDoubt,
    OutboundMessage,
    PermanentSendError,
    Sender,
    SendResult,
    Sink,
    cancel_task,
)
from channels.untrusted import Unreadable, load_json, repair_text

log = logging.getLogger(__name__)

QUARANTINED_DIR = "quarantined"  # inside inbox_dir: where bad files are moved aside
# A file the inbox refuses this many runs in a row is poison, not bad luck.
MAX_INGEST_ATTEMPTS = 3


class SpoolConfig(ChannelConfig):
    type: Literal["spool"] = "spool"
    inbox_dir: str
    outbox_dir: str
    poll_interval: float = 0.2
    batch_size: int = 100
    # Bigger files are quarantined (their first max_file_bytes kept) and moved aside.
    max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)


class SpoolChannel:
    config_model: ClassVar[type[ChannelConfig]] = SpoolConfig
    icon: ClassVar[str] = "⇣"
    delivers_on_commit: ClassVar[bool] = False
    in_doubt: ClassVar[InDoubt] = "resend"  # a repeat rewrites the same file

    def __init__(self, config: SpoolConfig, context: ChannelContext) -> None:
        self.config = config
        self.name = config.name
        self._inbox = Path(config.inbox_dir)
        self._outbox = Path(config.outbox_dir)
        self._held = self._inbox / QUARANTINED_DIR
        self._failures: dict[str, int] = {}  # file name -> ingests refused in a row
        self._task: asyncio.Task[None] | None = None

    async def start(self, sink: Sink) -> None:
        await asyncio.to_thread(self._make_dirs)
        self._task = asyncio.create_task(self._run(sink), name=f"spool:{self.name}")

    async def stop(self) -> None:
        await cancel_task(self._task)
        self._task = None

    async def check(self) -> list[CheckResult]:
        results = []
        for label, path in (("inbox_dir", self._inbox), ("outbox_dir", self._outbox)):
            ok = await asyncio.to_thread(os.access, path, os.R_OK | os.W_OK)
            results.append(CheckResult(label, ok, str(path) if ok else f"{path} is not writable"))
        return results

    def parse(self, raw: bytes) -> InboundMessage:
        return parse_spool_file(raw, self.config.max_file_bytes)

    async def send(self, outbound: OutboundMessage) -> SendResult:
        if "/" in outbound.idempotency_key or outbound.idempotency_key.startswith("."):
            raise PermanentSendError(f"unsafe idempotency key {outbound.idempotency_key!r}")
        document = {
            "id": outbound.idempotency_key,
            "to": outbound.recipient.address,
            "text": outbound.text,
            "subject": outbound.subject,
            "thread": outbound.thread_key,
            "in_reply_to": outbound.in_reply_to,
            "author": outbound.author_name,
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "data_base64": base64.b64encode(a.data).decode(),
                }
                for a in outbound.attachments
            ],
        }
        await asyncio.to_thread(self._write_atomically, outbound.idempotency_key, document)
        return SendResult(external_id=outbound.idempotency_key)

    # -- internals ------------------------------------------------------------------

    def _make_dirs(self) -> None:
        self._inbox.mkdir(parents=True, exist_ok=True)
        self._outbox.mkdir(parents=True, exist_ok=True)

    def _write_atomically(self, key: str, document: Mapping[str, object]) -> None:
        tmp = self._outbox / f".{key}.tmp"
        tmp.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self._outbox / f"{key}.json")

    def _pending_files(self) -> list[Path]:
        files = sorted(p for p in self._inbox.glob("*.json") if not p.name.startswith("."))
        return files[: self.config.batch_size]

    async def _run(self, sink: Sink) -> None:
        while True:
            files = await asyncio.to_thread(self._pending_files)
            if not files:
                await asyncio.sleep(self.config.poll_interval)
                continue
            try:
                await self._ingest_files(sink, files)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("spool channel %s: ingest failed; retrying", self.name)
                await asyncio.sleep(1.0)

    async def _ingest_files(self, sink: Sink, files: list[Path]) -> None:
        parsed: list[tuple[Path, InboundMessage]] = []
        for path in files:
            message = await self._read(sink, path)
            if message is not None:
                parsed.append((path, message))
        if not parsed:
            return
        try:
            await sink.ingest([m for _, m in parsed])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "spool channel %s: storing %d files failed (%s); trying them one by one",
                self.name,
                len(parsed),
                exc,
            )
            for path, message in parsed:
                await self._ingest_alone(sink, path, message)
            return
        # Acknowledge the source only after the commit: a crash before this line
        # leaves the files in place and the next run's insert is a no-op.
        for path, _ in parsed:
            self._failures.pop(path.name, None)
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def _read(self, sink: Sink, path: Path) -> InboundMessage | None:
        """One file as a message; None when it is gone or was quarantined."""
        limit = self.config.max_file_bytes
        try:
            raw = await asyncio.to_thread(_read_head, path, limit + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            await self._quarantine(sink, path, b"", f"cannot read the file: {exc.strerror or exc}")
            return None
        if len(raw) > limit:
            await self._quarantine(
                sink,
                path,
                raw[:limit],
                f"file over max_file_bytes ({limit}); its first {limit} bytes are kept",
            )
            return None
        try:
            return parse_spool_file(raw, limit)
        except ValueError as exc:
            await self._quarantine(sink, path, raw, str(exc))
            return None

    async def _ingest_alone(self, sink: Sink, path: Path, message: InboundMessage) -> None:
        try:
            await sink.ingest([message])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            attempts = self._failures[path.name] = self._failures.get(path.name, 0) + 1
            if attempts < MAX_INGEST_ATTEMPTS:
                log.warning(
                    "spool channel %s: %s not stored (attempt %d): %s",
                    self.name,
                    repair_text(path.name),
                    attempts,
                    exc,
                )
                return
            await self._quarantine(
                sink,
                path,
                message.raw or b"",
                f"the inbox refused it {attempts} times: {type(exc).__name__}: {exc}",
            )
            return
        self._failures.pop(path.name, None)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def _quarantine(self, sink: Sink, path: Path, raw: bytes, error: str) -> None:
        """Store the file raw with the error, then move it aside (kept whole on disk).

        In that order: a crash between the two quarantines it again on the next run,
        which the inbox recognises by the external id (the file's name) and keeps once.
        """
        name = repair_text(path.name)
        log.warning("spool channel %s: file %s quarantined: %s", self.name, name, error)
        await sink.quarantine(raw, error, external_id=repair_text(path.stem)[:512])
        await asyncio.to_thread(self._move_aside, path)
        self._failures.pop(path.name, None)

    def _move_aside(self, path: Path) -> None:
        self._held.mkdir(exist_ok=True)
        target = self._held / path.name
        n = 0
        while target.exists():  # an earlier bad file of the same name stays too
            n += 1
            target = self._held / f"{path.stem}.{n}{path.suffix}"
        try:
            os.replace(path, target)
        except FileNotFoundError:
            pass


def _read_head(path: Path, size: int) -> bytes:
    with path.open("rb") as file:
        return file.read(size)


def parse_spool_file(raw: bytes, max_bytes: int | None = None) -> InboundMessage:
    """One spool file as a message (lone surrogates repaired); ValueError saying why not."""
    try:
        data = load_json(raw, max_bytes=max_bytes)
    except Unreadable as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    for key in ("id", "from", "text"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f"key {key!r} must be a non-empty string")
    optional = {k: data.get(k) for k in ("name", "subject", "thread", "html", "language", "email")}
    for key, value in optional.items():
        if value is not None and not isinstance(value, str):
            raise ValueError(f"key {key!r} must be a string")
    return InboundMessage(
        external_id=data["id"],
        sender=Sender(
            address=data["from"],
            name=optional["name"],
            email=optional["email"] or (data["from"] if "@" in data["from"] else None),
            language=optional["language"],
        ),
        text=data["text"],
        html=optional["html"],
        subject=optional["subject"],
        thread_key=optional["thread"],
        raw=raw,
    )
