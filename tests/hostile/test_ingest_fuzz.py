"""Arbitrary inbound messages through the real ingest on both databases: stored or
quarantined, never an exception that would make an adapter retry forever."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from channels.base import InboundAttachment, InboundMessage, Sender
from inbox.runtime.services import Services
from inbox.store.models import Message, QuarantineItem
from tests.fixtures.inbox import add_channel, make_config

text = st.text(max_size=300)  # includes NUL, surrogates are excluded by hypothesis' default alphabet
maybe = lambda s: st.none() | s  # noqa: E731

messages = st.builds(
    InboundMessage,
    external_id=st.text(max_size=600),
    sender=st.builds(Sender, address=st.text(max_size=400), name=maybe(text), email=maybe(text), language=maybe(st.text(max_size=20))),
    text=text,
    html=maybe(text),
    subject=maybe(st.text(max_size=1200)),
    thread_key=maybe(st.text(max_size=300)),
    references=st.lists(st.text(max_size=100), max_size=3).map(tuple),
    attachments=st.lists(
        st.builds(InboundAttachment, filename=st.text(max_size=300), content_type=st.text(max_size=300), data=st.binary(max_size=64)),
        max_size=2,
    ).map(tuple),
    meta=st.dictionaries(st.text(max_size=10), st.text(max_size=20) | st.integers(), max_size=3),
)


def test_arbitrary_messages_are_stored_or_quarantined(db_url: str) -> None:
    services = Services.build(make_config(db_url))
    loop = asyncio.new_event_loop()
    channel = loop.run_until_complete(add_channel(services))
    total = {"n": 0}

    @given(batch=st.lists(messages, min_size=1, max_size=5))
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def ingest(batch: list[InboundMessage]) -> None:
        results = loop.run_until_complete(services.ingestor.ingest(channel, batch))
        assert len(results) == len(batch)
        for result in results:
            assert result.quarantined or result.message_id is not None
        total["n"] += len(batch)

    try:
        ingest()

        async def counts() -> tuple[int, int]:
            async with services.db.read() as session:
                stored = await session.scalar(select(func.count()).select_from(Message))
                held = await session.scalar(select(func.count()).select_from(QuarantineItem))
                return int(stored or 0), int(held or 0)

        stored, held = loop.run_until_complete(counts())
        assert stored + held > 0
    finally:
        loop.run_until_complete(services.db.dispose())
        loop.close()
