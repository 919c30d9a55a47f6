"""The visitor websocket through the real daemon: tokens, replay by seq, client-id dedup,
origins, identity, bad frames, limits, and agent replies arriving live."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.fixtures.daemon import Daemon, daemon
from widget.gateway import MAX_BAD_FRAMES
from widget.tokens import TokenSigner, identity_hmac, identity_ok

pytestmark = pytest.mark.end_to_end

ORIGIN = "http://shop.example.test"
SECRET = "identity-secret-for-tests"


def widget_channel(**extra: Any) -> dict[str, object]:
    return {
        "name": "website",
        "type": "widget",
        "allowed_origins": [ORIGIN],
        "identity_secret": SECRET,
        "rate_limit": 5,
        **extra,
    }


@pytest.fixture
def node(daemon: Daemon) -> Daemon:
    daemon.channels = [widget_channel()]
    daemon.token = daemon.admin_token()  # type: ignore[attr-defined]
    daemon.start()
    return daemon


class Visitor:
    def __init__(self, node: Daemon, origin: str = ORIGIN) -> None:
        self.url = node.url.replace("http", "ws") + "/widget/website/ws"
        self.origin = origin
        self.ws: Any = None

    async def connect(self, **hello: Any) -> dict[str, Any]:
        self.ws = await websockets.connect(self.url, origin=self.origin)
        await self.send({"type": "hello", **hello})
        return await self.expect("welcome")

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv(self) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), 30))

    async def expect(self, kind: str) -> dict[str, Any]:
        while True:
            frame = await self.recv()
            if frame["type"] == kind:
                return frame
            if frame["type"] not in ("heartbeat", "message", "ack", "error"):
                raise AssertionError(frame)

    async def close(self) -> None:
        await self.ws.close()


def api(node: Daemon) -> httpx.Client:
    return httpx.Client(base_url=node.url, headers={"Authorization": f"Bearer {node.token}"}, timeout=30)  # type: ignore[attr-defined]


async def test_message_ack_replay_and_resend_is_stored_once(node: Daemon) -> None:
    visitor = Visitor(node)
    welcome = await visitor.connect()
    assert welcome["token"].startswith("v1.") and welcome["identified"] is False
    await visitor.send({"type": "message", "client_id": "c1", "text": "Hello there"})
    ack = await visitor.expect("ack")
    assert ack["client_id"] == "c1" and ack["id"] and ack["duplicate"] is False
    echoed = await visitor.expect("message")
    assert (echoed["direction"], echoed["text"], echoed["client_id"]) == ("in", "Hello there", "c1")
    await visitor.close()

    again = Visitor(node)
    await again.connect(token=welcome["token"], after=0)  # a reload: same visitor
    replay = await again.expect("message")
    assert replay["id"] == ack["id"] and replay["seq"] == echoed["seq"]
    await again.send({"type": "message", "client_id": "c1", "text": "Hello there"})  # resent after reconnect
    assert (await again.expect("ack"))["duplicate"] is True
    await again.close()
    with api(node) as client:
        [conversation] = client.get("/api/v1/conversations").json()["items"]
        assert conversation["channel"] == "website"
        texts = [m["text"] for m in client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()["items"]]
    assert texts == ["Hello there"]


async def test_agent_reply_reaches_the_visitor_live_and_after_reconnect(node: Daemon) -> None:
    visitor = Visitor(node)
    welcome = await visitor.connect()
    await visitor.send({"type": "message", "client_id": "q1", "text": "Is my order shipped?"})
    await visitor.expect("ack")
    mine = await visitor.expect("message")
    with api(node) as client:
        [conversation] = client.get("/api/v1/conversations").json()["items"]
        assert client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Yes, today!"}).status_code == 201
        assert (
            client.post(
                f"/api/v1/conversations/{conversation['id']}/messages",
                json={"text": "internal", "private": True},
            ).status_code
            == 201
        )
    reply = await visitor.expect("message")
    assert (reply["direction"], reply["text"], reply["author"]) == ("out", "Yes, today!", "Root")
    await visitor.close()
    later = Visitor(node)
    await later.connect(token=welcome["token"], after=mine["seq"])  # only what was missed
    missed = await later.expect("message")
    assert missed["text"] == "Yes, today!"
    await later.send({"type": "ping"})
    assert (await later.expect("pong"))["type"] == "pong"  # and nothing else: the note stays private
    await later.close()


async def test_a_disallowed_origin_is_refused(node: Daemon) -> None:
    for origin in ("https://evil.example", None):
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(node.url.replace("http", "ws") + "/widget/website/ws", origin=origin)
        assert refused.value.response.status_code == 403  # refused at the handshake: nothing stored


async def test_bad_frames_get_error_frames_and_the_socket_stays_open(node: Daemon) -> None:
    visitor = Visitor(node)
    await visitor.connect()
    for frame, code in (
        ("not json", "bad_json"),
        ("[1,2]", "bad_frame"),
        (json.dumps({"type": "warp"}), "unknown_type"),
    ):
        await visitor.ws.send(frame)
        assert (await visitor.expect("error"))["code"] == code
    await visitor.send({"type": "message", "client_id": "", "text": "x"})
    assert (await visitor.expect("error"))["code"] == "bad_client_id"
    await visitor.ws.send(json.dumps({"type": "message", "client_id": "big", "text": "x" * 20000}))
    assert (await visitor.expect("error"))["code"] == "too_large"
    for i in range(6):
        await visitor.send({"type": "message", "client_id": f"r{i}", "text": f"spam {i}"})
    kinds = []
    for _ in range(6):
        kinds.append(await visitor.expect("error") if len(kinds) == 5 else await visitor.expect("ack"))
    assert kinds[-1]["code"] == "rate_limited"
    await visitor.send({"type": "ping"})
    assert (await visitor.expect("pong"))["type"] == "pong"
    await visitor.close()


async def test_binary_deep_and_lone_surrogate_frames_are_answered_and_the_socket_stays_open(
    node: Daemon,
) -> None:
    early = Visitor(node)
    early.ws = await websockets.connect(early.url, origin=ORIGIN)
    await early.ws.send(b"\x00\x01 binary before hello")
    assert (await early.expect("error"))["code"] == "bad_frame"
    await early.ws.send("[" * 5000 + "]" * 5000)
    assert (await early.expect("error"))["code"] == "bad_frame"
    # A token with a non-ASCII signature, a lone surrogate in the name, an absurd `after`.
    hello = '{"type": "hello", "token": "v1.AAAAAAAAAAAAAAAAAAAA.\u00f1", "after": 1e308, "identity": {"name": "An\\ud800a"}}'
    await early.ws.send(hello)
    assert (await early.expect("welcome"))["identified"] is False

    deep = json.dumps({"type": "message", "client_id": "d1", "text": "x"})[:-1] + ', "extra": ' + "[" * 3000 + "]" * 3000 + "}"
    await early.ws.send(deep)
    error = await early.expect("error")
    assert error["code"] == "bad_frame" and "nests" in error["message"]
    await early.ws.send(b"\xff" * 100)
    assert (await early.expect("error"))["code"] == "bad_frame"
    await early.ws.send('{"type": "message", "client_id": "s\\udc80", "text": "hola \\ud800 mundo"}')
    ack = await early.expect("ack")
    assert ack["client_id"] == "s\ufffd" and ack["duplicate"] is False
    echoed = await early.expect("message")
    assert echoed["text"] == "hola \ufffd mundo"
    await early.send({"type": "ping"})
    assert (await early.expect("pong"))["type"] == "pong"
    await early.close()
    with api(node) as client:
        [conversation] = client.get("/api/v1/conversations").json()["items"]
        assert conversation["contact"]["name"] == "An\ufffda"


async def test_a_client_flooding_bad_frames_is_disconnected(node: Daemon) -> None:
    visitor = Visitor(node)
    await visitor.connect()
    for _ in range(MAX_BAD_FRAMES):
        await visitor.ws.send(b"\x00")
        assert (await visitor.expect("error"))["code"] == "bad_frame"
    await visitor.ws.send(b"\x00")
    with pytest.raises(ConnectionClosed) as closed:
        await visitor.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429


async def test_identify_with_a_valid_hmac_follows_the_user_and_merges_by_email(
    node: Daemon,
) -> None:
    identity = {
        "id": "user-42",
        "email": "ana@example.com",
        "name": "Ana",
        "hmac": identity_hmac(SECRET, "user-42"),
    }
    first = Visitor(node)
    welcome = await first.connect(identity=identity)
    assert welcome["identified"] is True
    await first.send({"type": "message", "client_id": "a", "text": "from my laptop"})
    await first.expect("ack")
    await first.close()
    phone = Visitor(node)  # another device: no token, same user
    await phone.connect(identity=identity)
    assert (await phone.expect("message"))["text"] == "from my laptop"
    await phone.close()
    forged = Visitor(node)
    welcome = await forged.connect(identity={**identity, "hmac": "0" * 64})
    assert welcome["identified"] is False
    await forged.close()
    with api(node) as client:
        [conversation] = client.get("/api/v1/conversations").json()["items"]
        assert conversation["contact"]["email"] == "ana@example.com"


def test_tokens_cannot_be_forged_or_moved_between_channels() -> None:
    a, b = TokenSigner("secret-one", "website"), TokenSigner("secret-one", "other")
    visitor, token = a.issue()
    assert a.visitor_of(token) == visitor
    assert b.visitor_of(token) is None
    assert a.visitor_of(token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    assert a.visitor_of("v1.short.sig") is None and a.visitor_of(None) is None
    assert a.visitor_of(f"v1.{visitor}.ñ") is None and a.visitor_of(f"v1.{visitor}.\udc80") is None
    assert a.file_ok(1, "ñ") is False and identity_ok("s", "user-1", "ñ") is False


def test_embed_script_and_demo_page(node: Daemon, tmp_path: Path) -> None:
    script = httpx.get(f"{node.url}/widget/website.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("application/javascript")
    assert script.text.startswith("var FRONTDESK_CONFIG = {") and '"channel": "website"' in script.text
    # What a visitor downloads is the gzipped script: under 14 KiB (the script itself under 48 KiB).
    assert len(script.content) < 48 * 1024
    wire = httpx.get(f"{node.url}/widget/website.js", headers={"Accept-Encoding": "gzip"})
    assert wire.headers["content-encoding"] == "gzip" and int(wire.headers["content-length"]) < 14 * 1024
    demo = httpx.get(f"{node.url}/widget/website/demo")
    # The demo shows the embed tag at its versioned URL (cached for a year; the version is the ETag).
    tag = f'<script src="{node.url}/widget/website.js?v={script.headers["etag"].strip(chr(34))}" async></script>'
    assert demo.status_code == 200 and tag in demo.text, demo.text
    assert httpx.get(f"{node.url}/widget/nope.js").status_code == 404
