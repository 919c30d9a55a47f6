"""Through the real daemon: visitors' file uploads, typing indicators both ways, and a
conversation continued by email (relayed through another channel) when nobody is online."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.fixtures.daemon import Daemon, daemon, wait_until
from tests.widget.test_gateway import ORIGIN, Visitor, api, widget_channel

pytestmark = pytest.mark.end_to_end

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def node(daemon: Daemon, tmp_path: Path) -> Daemon:
    spool = {"name": "mailroom", "type": "spool", "inbox_dir": str(tmp_path / "in"), "outbox_dir": str(tmp_path / "out")}
    daemon.channels = [widget_channel(max_upload_bytes=4096, offline_email_channel="mailroom"), spool]
    daemon.token = daemon.admin_token()  # type: ignore[attr-defined]
    daemon.start()
    return daemon


async def frame_of(visitor: Visitor, kind: str, **match: Any) -> dict[str, Any]:
    """The next frame of `kind` (and matching fields), skipping everything else."""
    while True:
        frame = await visitor.recv()
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame


def upload(node: Daemon, ticket: str, client_id: str, name: str, data: bytes, origin: str = ORIGIN, **form: str) -> httpx.Response:
    return httpx.post(
        f"{node.url}/widget/website/upload",
        data={"ticket": ticket, "client_id": client_id, **form},
        files={"file": (name, data, "image/png" if name.endswith(".png") else "application/octet-stream")},
        headers={"Origin": origin},
        timeout=30,
    )


async def test_a_visitor_uploads_a_file_once_and_both_sides_can_fetch_it(node: Daemon) -> None:
    visitor = Visitor(node)
    welcome = await visitor.connect()
    ticket = welcome["upload"]["ticket"]
    assert welcome["upload"]["max_bytes"] == 4096

    first = upload(node, ticket, "f1", "screenshot.png", PNG, text="here it is")
    assert first.status_code == 201 and first.json()["duplicate"] is False
    assert first.headers["access-control-allow-origin"] == ORIGIN
    again = upload(node, ticket, "f1", "screenshot.png", PNG, text="here it is")  # a retried upload
    assert again.json() == {**first.json(), "duplicate": True}

    shown = await frame_of(visitor, "message", client_id="f1")
    assert shown["text"] == "here it is"
    [file] = shown["files"]
    assert (file["name"], file["type"], file["size"]) == ("screenshot.png", "image/png", len(PNG))
    fetched = httpx.get(file["url"], timeout=30)
    assert fetched.status_code == 200 and fetched.content == PNG and fetched.headers["content-type"] == "image/png"
    assert httpx.get(file["url"].split("?")[0] + "?sig=" + "0" * 32, timeout=30).status_code == 404  # the link is the capability

    with api(node) as client:
        [conversation] = client.get("/api/v1/conversations").json()["items"]
        [message] = client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()["items"]
        assert message["text"] == "here it is"
        [attachment] = message["attachments"]
        assert client.get(attachment["url"]).content == PNG
    await visitor.close()


async def visitor_asked(node: Daemon, text: str) -> tuple[Visitor, int]:
    """A visitor connected and wrote; returns them and their conversation's id."""
    visitor = Visitor(node)
    await visitor.connect()
    await visitor.send({"type": "message", "client_id": "q1", "text": text})
    await frame_of(visitor, "ack")
    with api(node) as client:
        [conversation] = client.get("/api/v1/conversations").json()["items"]
    return visitor, int(conversation["id"])


async def test_an_agents_reply_file_reaches_the_visitor(node: Daemon) -> None:
    visitor, cid = await visitor_asked(node, "Do you have the manual?")
    with api(node) as client:
        sent = client.post(
            f"/api/v1/conversations/{cid}/messages",
            data={"text": "Here it is"},
            files=[("file", ("manual.pdf", b"%PDF manual", "application/pdf"))],
        )
        assert sent.status_code == 201, sent.text
    shown = await frame_of(visitor, "message", direction="out")
    assert shown["text"] == "Here it is"
    [file] = shown["files"]
    assert (file["name"], file["type"], file["size"]) == ("manual.pdf", "application/pdf", 11)
    fetched = httpx.get(file["url"], timeout=30)
    assert fetched.status_code == 200 and fetched.content == b"%PDF manual"
    assert fetched.headers["content-disposition"].startswith("attachment;")
    await visitor.close()


async def test_uploads_refuse_forged_tickets_big_files_and_foreign_origins(node: Daemon) -> None:
    visitor = Visitor(node)
    ticket = (await visitor.connect())["upload"]["ticket"]
    forged = upload(node, ticket[:-4] + "AAAA", "x1", "a.txt", b"hello")
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "bad_ticket"
    big = upload(node, ticket, "x2", "big.bin", b"x" * 5000)
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    foreign = upload(node, ticket, "x3", "a.txt", b"hello", origin="https://evil.example")
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
    broken = httpx.post(
        f"{node.url}/widget/website/upload",
        content=b"not a form",
        headers={"Origin": ORIGIN, "Content-Type": "multipart/form-data; boundary=zz"},
    )
    assert broken.status_code in (400, 422) and "error" in broken.json()
    with api(node) as client:
        assert client.get("/api/v1/conversations").json()["items"] == []  # nothing stored
    await visitor.close()


async def test_typing_shows_on_the_other_side(node: Daemon) -> None:
    visitor, cid = await visitor_asked(node, "Hello?")
    stream_url = node.url.replace("http", "ws") + f"/api/v1/stream?token={node.token}&after=999999999"  # type: ignore[attr-defined]
    async with websockets.connect(stream_url) as agent:
        await asyncio.sleep(0.2)  # the stream subscribes once it is open
        await visitor.send({"type": "typing"})
        while True:
            signal = json.loads(await asyncio.wait_for(agent.recv(), 30))
            if signal["type"] == "signal.typing":
                break
        assert signal["conversation_id"] == cid and signal["from"] == "contact"

        with api(node) as client:
            assert client.post(f"/api/v1/conversations/{cid}/typing").status_code == 204
            assert client.post("/api/v1/conversations/999999/typing").status_code == 404
        typing = await frame_of(visitor, "typing")
        assert typing["author"] == "Root"

        await agent.send(json.dumps({"type": "typing", "conversation_id": cid}))  # the UI's way
        assert (await frame_of(visitor, "typing"))["author"] == "Root"
    await visitor.close()


async def test_a_visitor_who_leaves_an_email_gets_replies_there_too(node: Daemon, tmp_path: Path) -> None:
    visitor = Visitor(node)
    welcome = await visitor.connect(continue_by_email="ana@example.com")
    assert welcome["offline_email"] is True
    await visitor.send({"type": "message", "client_id": "o1", "text": "Call me back by email"})
    await frame_of(visitor, "ack")
    with api(node) as client:
        [conversation] = client.get("/api/v1/conversations").json()["items"]
        reply = client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "We are on it"}).json()
        assert (await frame_of(visitor, "message", direction="out"))["text"] == "We are on it"
        wait_until(
            lambda: client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()["items"][-1]["delivery"] == "sent",
            what="reply sent",
        )
    [relayed] = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    assert (relayed["to"], relayed["text"]) == ("ana@example.com", "We are on it")
    assert reply["id"]
    await visitor.close()


async def test_without_an_email_nothing_is_relayed(node: Daemon, tmp_path: Path) -> None:
    visitor = Visitor(node)
    await visitor.connect()
    await visitor.send({"type": "message", "client_id": "n1", "text": "Hi"})
    await frame_of(visitor, "ack")
    with api(node) as client:
        [conversation] = client.get("/api/v1/conversations").json()["items"]
        client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "Hello!"})
        wait_until(
            lambda: client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()["items"][-1]["delivery"] == "sent",
            what="reply sent",
        )
    assert list((tmp_path / "out").glob("*.json")) == []
    await visitor.close()
