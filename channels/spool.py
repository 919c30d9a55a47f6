"""A folder-based channel: JSON files in, JSON files out.

Scripts and other systems drop one JSON object per file into `inbox_dir`; the adapter
ingests them and deletes each file only after the inbox has committed it. Replies are
written to `outbox_dir` as `<idempotency_key>.json`, so a retried send overwrites the
same file instead of adding a second one. It is also the channel the fault tests use.

Inbound file format (keys beyond `id`, `from` and `text` are optional):

    {"id": "ext-1", "from": "ana@example.com", "name": "Ana", "text": "Hello",
     "subject": "...", "thread": "key", "html": "<p>..</p>", "language": "en"}
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

from channels.base import (
    ChannelConfig,
    ChannelContext,
    CheckResult,
    InboundMessage,
    OutboundMessage,
    PermanentSendError,
    Sender,
    SendResult,
    Sink,
    cancel_task,
)

log = logging.getLogger(__name__)


class SpoolConfig(ChannelConfig):
    type: Literal["spool"] = "spool"
    inbox_dir: str
    outbox_dir: str
    poll_interval: float = 0.2
    batch_size: int = 100


class SpoolChannel:
    config_model: ClassVar[type[ChannelConfig]] = SpoolConfig

    def __init__(self, config: SpoolConfig, context: ChannelContext) -> None:
        self.config = config
        self.name = config.name
        self._inbox = Path(config.inbox_dir)
        self._outbox = Path(config.outbox_dir)
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
        return parse_spool_file(raw)

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
                {"filename": a.filename, "content_type": a.content_type, "data_base64": base64.b64encode(a.data).decode()}
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
        tmp.write_text(json.dumps(document, ensure_ascii=False))
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
        messages: list[InboundMessage] = []
        parsed: list[Path] = []
        for path in files:
            raw = await asyncio.to_thread(path.read_bytes)
            try:
                messages.append(parse_spool_file(raw))
                parsed.append(path)
            except ValueError as exc:
                log.warning("spool channel %s: %s quarantined: %s", self.name, path.name, exc)
                await sink.quarantine(raw, str(exc), external_id=path.stem)
                await asyncio.to_thread(path.unlink, missing_ok=True)
        if messages:
            await sink.ingest(messages)
            # Acknowledge the source only after the commit: a crash before this line
            # leaves the files in place and the next run's insert is a no-op.
            for path in parsed:
                await asyncio.to_thread(path.unlink, missing_ok=True)


def parse_spool_file(raw: bytes) -> InboundMessage:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
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
