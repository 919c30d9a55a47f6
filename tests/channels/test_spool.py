"""The spool folder channel with hostile files: each bad file is quarantined once and
moved aside, and the files behind it arrive (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.base import ChannelContext, InboundMessage, IngestResult
from channels.spool import (
    MAX_INGEST_ATTEMPTS,
    QUARANTINED_DIR,
    SpoolChannel,
    SpoolConfig,
    parse_spool_file,
)
from inbox.runtime.channels import ChannelSink
from inbox.runtime.services import Services
from inbox.store.models import Message, QuarantineItem
from tests.fixtures.inbox import add_channel
from tests.fixtures.memory_sink import MemorySink, eventually

Factory = Callable[..., SpoolChannel]


@pytest.fixture
async def make_spool(tmp_path: Path) -> AsyncIterator[Factory]:
    built: list[SpoolChannel] = []

    def build(**overrides: Any) -> SpoolChannel:
        raw = {
            "name": "drop",
            "type": "spool",
            "inbox_dir": str(tmp_path / "in"),
            "outbox_dir": str(tmp_path / "out"),
            "poll_interval": 0.02,
        }
        raw.update(overrides)
        channel = SpoolChannel(SpoolConfig.model_validate(raw), ChannelContext(public_url="http://support.test"))
        built.append(channel)
        return channel

    yield build
    for channel in built:
        await channel.stop()


def drop(folder: Path, name: str | bytes, content: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = os.path.join(os.fsencode(folder), name if isinstance(name, bytes) else name.encode())
    with open(path, "wb") as file:
        file.write(content)


def message_file(external_id: str, text: str = "Hello") -> bytes:
    return json.dumps({"id": external_id, "from": "ana@example.com", "text": text}).encode()


def pending(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.json"))


DEEP = b'{"id": "deep", "from": "a@example.com", "text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
SURROGATE = b'{"id": "lone-\\udc80", "from": "ana@example.com", "name": "An\\ud800a", "text": "broken \\udc80 text"}'


async def test_lone_surrogates_are_repaired_and_a_deep_file_is_quarantined_once_without_holding_back_the_rest(
    services: Services, make_spool: Factory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ref = await add_channel(services, "drop", "spool")
    inbox = tmp_path / "in"
    drop(inbox, "001-surrogate.json", SURROGATE)
    drop(inbox, "002-deep.json", DEEP)
    drop(inbox, "003-good.json", message_file("good", "after the bad ones"))
    caplog.set_level(logging.WARNING, logger="channels.spool")
    await make_spool().start(ChannelSink(services.ingestor, ref))

    await eventually(lambda: pending(inbox) == [], what="the spool to drain")
    async with services.db.read() as session:
        stored = {m.external_id: m.text for m in (await session.scalars(select(Message))).all()}
        held = (await session.scalars(select(QuarantineItem))).all()
    assert stored == {"lone-\ufffd": "broken \ufffd text", "good": "after the bad ones"}
    [item] = held
    assert item.external_id == "002-deep" and item.raw == DEEP and "nested deeper" in item.error
    assert [p.name for p in (inbox / QUARANTINED_DIR).iterdir()] == ["002-deep.json"]
    assert any("drop" in r.getMessage() and "002-deep.json" in r.getMessage() for r in caplog.records)


async def test_a_file_over_max_file_bytes_is_quarantined_with_its_head_and_kept_whole_aside(make_spool: Factory, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    big = message_file("big", "x" * 5000)
    drop(inbox, "a-big.json", big)
    drop(inbox, "b-small.json", message_file("small"))
    sink = MemorySink()
    await make_spool(max_file_bytes=1024).start(sink)

    await eventually(lambda: "small" in sink.messages, what="the file behind the big one")
    [(raw, error, external_id)] = sink.quarantined
    assert raw == big[:1024] and "max_file_bytes" in error and external_id == "a-big"
    assert (inbox / QUARANTINED_DIR / "a-big.json").read_bytes() == big
    assert pending(inbox) == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\xff\xfe\x00garbage", "not"),
        (b"[" * 3000 + b"]" * 3000, "nested deeper"),
        (b'{"id": "n", "from": "a@example.com", "text": NaN}', "NaN"),
        (b'{"id": "n", "from": "a@example.com", "text": ' + b"9" * 5000 + b"}", "not JSON"),
        (b'{"id": 5, "from": "a@example.com", "text": "x"}', "'id'"),
        (b'{"id": "x", "from": "a@example.com", "text": {"a": 1}}', "'text'"),
        (b"[]", "JSON object"),
    ],
)
async def test_every_unreadable_file_is_quarantined_once_with_the_reason(
    make_spool: Factory, tmp_path: Path, content: bytes, reason: str
) -> None:
    inbox = tmp_path / "in"
    drop(inbox, "1-bad.json", content)
    drop(inbox, "2-good.json", message_file("good"))
    sink = MemorySink()
    await make_spool().start(sink)
    await eventually(lambda: "good" in sink.messages, what="the good file")
    [(raw, error, _)] = sink.quarantined
    assert raw == content and reason in error


async def test_a_file_name_that_is_not_utf8_is_quarantined_under_a_repaired_id(make_spool: Factory, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    drop(inbox, b"\xff-bad.json", b"{not json")
    sink = MemorySink()
    await make_spool().start(sink)
    await eventually(lambda: sink.quarantined, what="the quarantine")
    [(_, _, external_id)] = sink.quarantined
    assert external_id == "\ufffd-bad"
    await eventually(lambda: pending(inbox) == [], what="the file moved aside")


class RefusingSink(MemorySink):
    """An inbox that can never store one particular message (as a database bug would)."""

    def __init__(self, poison: str) -> None:
        super().__init__()
        self.poison = poison

    async def ingest(self, messages: Sequence[InboundMessage], *, cursor: str | None = None) -> list[IngestResult]:
        if any(m.external_id == self.poison for m in messages):
            self.ingest_calls += 1
            raise RuntimeError("value out of range for the column")
        return await super().ingest(messages, cursor=cursor)


async def test_a_file_the_inbox_keeps_refusing_is_quarantined_and_the_others_are_stored(make_spool: Factory, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    drop(inbox, "1.json", message_file("poison"))
    drop(inbox, "2.json", message_file("fine"))
    sink = RefusingSink("poison")
    await make_spool().start(sink)
    await eventually(lambda: sink.quarantined and "fine" in sink.messages, what="the poison quarantined")
    [(raw, error, external_id)] = sink.quarantined
    assert external_id == "1" and raw == message_file("poison")
    assert f"refused it {MAX_INGEST_ATTEMPTS} times" in error and "out of range" in error
    assert pending(inbox) == []


def test_parse_repairs_lone_surrogates_in_every_field() -> None:
    message = parse_spool_file(SURROGATE)
    assert (message.external_id, message.sender.name, message.text) == (
        "lone-\ufffd",
        "An\ufffda",
        "broken \ufffd text",
    )
    assert message.raw == SURROGATE
