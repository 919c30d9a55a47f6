"""The visitor gateway in-process over both databases (a socket double speaking the wire
format): 15 quick messages stored once and in order, resends idempotent, the rate limit
saying when to resend, the page context and the pre-chat answers stored; and the embed
script served compressed, with an ETag and a year's caching of its versioned URL."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from channels.widget import WidgetConfig
from inbox.queries.visitor_context import visitor_context
from inbox.runtime.channels import ChannelSink
from inbox.runtime.services import Services
from inbox.store.models import Contact, Conversation, Message
from tests.fixtures.inbox import add_channel, services
from widget.gateway import Gateway, GatewayChannel
from widget.routes import LONG_CACHE, SHORT_CACHE, build_router, embed_script, script_url

ORIGIN = "https://shop.example.test"
PUBLIC = "http://127.0.0.1:8000"


class Socket:
    """Just enough of Starlette's WebSocket for the gateway: queues of text frames."""

    def __init__(self, origin: str = ORIGIN) -> None:
        self.headers = {"origin": origin}
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed: int | None = None

    async def accept(self) -> None:
        return None

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send_text(self, text: str) -> None:
        await self.outgoing.put(json.loads(text))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = code

    def say(self, frame: dict[str, Any]) -> None:
        self.incoming.put_nowait({"type": "websocket.receive", "text": json.dumps(frame)})

    async def next(self, kind: str) -> dict[str, Any]:
        while True:
            frame = await asyncio.wait_for(self.outgoing.get(), 30)
            if frame["type"] == kind:
                return frame


class Widget:
    def __init__(self, services: Services, info: GatewayChannel) -> None:
        self.services = services
        self.info = info
        self.gateway = Gateway(
            "gateway-test-secret-0123456789", _store(services), services.bus, lambda name: info if name == "website" else None
        )
        self.tasks: list[asyncio.Task[None]] = []

    async def visitor(self, **hello: Any) -> tuple[Socket, dict[str, Any]]:
        socket = Socket()
        self.tasks.append(asyncio.create_task(self.gateway.serve(socket, "website")))  # type: ignore[arg-type]
        socket.say({"type": "hello", **hello})
        return socket, await socket.next("welcome")

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.gateway.hub.stop()


def _store(services: Services) -> Any:
    from inbox.pipeline.widget_store import WidgetTranscripts

    return WidgetTranscripts(services.db)


def widget_config(**extra: Any) -> WidgetConfig:
    return WidgetConfig(name="website", allowed_origins=[ORIGIN], **extra)


async def make_widget(services: Services, **extra: Any) -> Widget:
    ref = await add_channel(services, "website", "widget")
    return Widget(services, GatewayChannel(widget_config(**extra), ChannelSink(services.ingestor, ref), PUBLIC))


@pytest.fixture
async def widget(services: Services) -> AsyncIterator[Widget]:  # noqa: F811
    found = await make_widget(services, prechat=["name", "email"])
    yield found
    await found.close()


async def stored_texts(services: Services) -> list[str]:
    async with services.db.read() as session:
        return list(await session.scalars(select(Message.text).where(Message.direction == "in").order_by(Message.id)))


async def test_fifteen_quick_messages_are_stored_in_order_and_resends_are_stored_once(widget: Widget) -> None:
    socket, _ = await widget.visitor()
    for n in range(15):  # written faster than any ack comes back
        socket.say({"type": "message", "client_id": f"c{n:02}", "text": f"message {n}"})
    acks = [await socket.next("ack") for _ in range(15)]
    assert [a["client_id"] for a in acks] == [f"c{n:02}" for n in range(15)]
    assert not any(a["duplicate"] for a in acks)
    assert [a["id"] for a in acks] == sorted(a["id"] for a in acks)
    for n in (3, 9, 14):  # a lost ack: the same client id again
        socket.say({"type": "message", "client_id": f"c{n:02}", "text": f"message {n}"})
    again = [await socket.next("ack") for _ in range(3)]
    assert [(a["client_id"], a["duplicate"]) for a in again] == [("c03", True), ("c09", True), ("c14", True)]
    assert {a["id"] for a in again} == {acks[n]["id"] for n in (3, 9, 14)}
    assert await stored_texts(widget.services) == [f"message {n}" for n in range(15)]


async def test_over_the_rate_limit_the_answer_says_when_to_resend_and_the_resend_is_stored(services: Services) -> None:  # noqa: F811
    widget = await make_widget(services, rate_limit=3)
    try:
        socket, _ = await widget.visitor()
        for n in range(4):
            socket.say({"type": "message", "client_id": f"r{n}", "text": f"burst {n}"})
        refused = await socket.next("error")
        assert refused["code"] == "rate_limited" and refused["client_id"] == "r3"
        assert 0 < refused["retry_after"] <= 10
        assert await stored_texts(services) == ["burst 0", "burst 1", "burst 2"]
    finally:
        await widget.close()
    assert widget_config().rate_limit >= 15  # fifteen quick messages fit the default


async def test_page_context_and_prechat_answers_are_stored_unverified(widget: Widget) -> None:
    context = {
        "url": "https://shop.example.test/pricing?plan=pro",
        "title": "Pricing · Shop",
        "referrer": "javascript:alert(1)",  # not a web address: dropped
        "language": "es-MX",
        "time_zone": "America/Mexico_City",
        "colour": "ignored",
    }
    socket, welcome = await widget.visitor(context=context, prechat={"name": "  Lucía Pérez ", "email": "lucia@example.com"}, language="es")
    assert welcome["prechat"] == ["name", "email"]
    socket.say({"type": "message", "client_id": "p1", "text": "¿Tienen descuento?"})
    await socket.next("ack")
    moved = {
        "url": "https://shop.example.test/checkout",
        "title": "Checkout",
        "referrer": "https://www.example.org/",
        "time_zone": "America/Mexico_City",
    }
    socket.say({"type": "message", "client_id": "p2", "text": "Ya estoy pagando", "context": moved})
    await socket.next("ack")
    async with widget.services.db.read() as session:
        contact = (await session.scalars(select(Contact))).one()
        conversation = (await session.scalars(select(Conversation))).one()
        metas = list(await session.scalars(select(Message.meta).order_by(Message.id)))
        shown = await visitor_context(session, conversation.id, contact.id)
    assert contact.name == "Lucía Pérez"
    assert contact.email is None and contact.unverified_email == "lucia@example.com"  # claimed: never merges
    assert metas[0]["context"] == {k: v for k, v in context.items() if k in ("url", "title", "language", "time_zone")}
    assert metas[1]["context"] == moved
    assert shown is not None
    assert (shown.url, shown.title, shown.referrer, shown.time_zone, shown.unverified_email) == (
        moved["url"],
        "Checkout",
        "https://www.example.org/",
        "America/Mexico_City",
        "lucia@example.com",
    )


async def test_prechat_answers_are_ignored_when_the_channel_does_not_ask(services: Services) -> None:  # noqa: F811
    widget = await make_widget(services)
    try:
        socket, welcome = await widget.visitor(prechat={"name": "Mallory", "email": "boss@example.com"})
        assert welcome["prechat"] == []
        socket.say({"type": "message", "client_id": "x1", "text": "hi"})
        await socket.next("ack")
        async with services.db.read() as session:
            contact = (await session.scalars(select(Contact))).one()
        assert contact.name != "Mallory" and contact.unverified_email is None and contact.email is None
    finally:
        await widget.close()


def test_prechat_setting_is_validated() -> None:
    assert widget_config(prechat=["email", "name"]).prechat == ["email", "name"]
    for bad in (["phone"], ["name", "name"], "name"):
        with pytest.raises(ValidationError):
            widget_config(prechat=bad)


async def test_embed_script_is_gzipped_etagged_and_cached_for_a_year_at_its_versioned_url() -> None:
    info = GatewayChannel(widget_config(prechat=["name"]), None, PUBLIC)
    gateway = Gateway("gateway-test-secret-0123456789", None, None, lambda name: info if name == "website" else None)  # type: ignore[arg-type]
    app = FastAPI()
    app.include_router(build_router(gateway, gateway.channel))
    script = embed_script(info)
    versioned = script_url(info)
    assert versioned == f"{PUBLIC}/widget/website.js?v={script.version}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as client:
        plain = await client.get("/widget/website.js", headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and "content-encoding" not in plain.headers
        assert plain.headers["cache-control"] == SHORT_CACHE and plain.headers["etag"] == f'"{script.version}"'
        assert '"prechat": ["name"]' in plain.text and plain.headers["content-type"].startswith("application/javascript")
        zipped = await client.get(versioned.removeprefix(PUBLIC), headers={"Accept-Encoding": "br, gzip;q=0.8"})
        assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["vary"] == "Accept-Encoding"
        assert zipped.headers["cache-control"] == LONG_CACHE == "public, max-age=31536000, immutable"
        assert int(zipped.headers["content-length"]) == len(script.gzipped) < len(plain.content) / 2  # what came over the wire
        assert gzip.decompress(script.gzipped) == plain.content and zipped.text == plain.text
        stale = await client.get("/widget/website.js?v=0000000000000000")
        assert stale.headers["cache-control"] == SHORT_CACHE  # an old version's URL is not pinned
        again = await client.get("/widget/website.js", headers={"If-None-Match": plain.headers["etag"]})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == plain.headers["etag"]
        changed = await client.get("/widget/website.js", headers={"If-None-Match": '"0000000000000000"'})
        assert changed.status_code == 200
        demo = await client.get("/widget/website/demo")
        assert versioned.replace("&", "&amp;") in demo.text
        assert (await client.get("/widget/nope.js")).status_code == 404
