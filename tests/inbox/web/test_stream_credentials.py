"""Through the real daemon: an open `/api/v1/stream` ends (close code 4401) once its
credential is gone — a revoked token, a signed-out session, a deactivated agent, a new
password — and delivers nothing committed after that."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.fixtures.daemon import Daemon, daemon
from tests.inbox.runtime.test_daemon import drop_messages, spool_channel

pytestmark = pytest.mark.end_to_end

PASSWORD = "a long password 1"


def csrf_in(html: str, action: str) -> str:
    form = html[html.index(f'action="{action}"') :]
    match = re.search(r'name="csrf" value="([^"]+)"', form)
    assert match, html
    return match.group(1)


async def browser(node: Daemon, email: str) -> httpx.AsyncClient:
    """A signed-in browser (its cookie jar holds the session)."""
    client = httpx.AsyncClient(base_url=node.url, timeout=30)
    form = await client.get("/login")
    signed = await client.post("/login", data={"email": email, "password": PASSWORD, "csrf": csrf_in(form.text, "/login")})
    assert signed.status_code == 303, signed.text
    return client


async def add_agent(admin: httpx.AsyncClient, email: str) -> str:
    """An agent with a password and an API token; returns the token."""
    assert (
        await admin.post(
            "/api/v1/agents",
            json={
                "email": email,
                "name": email.split("@")[0],
                "role": "agent",
                "password": PASSWORD,
            },
        )
    ).status_code == 201
    created = await admin.post("/api/v1/tokens", json={"agent": email, "name": "stream"})
    assert created.status_code == 201, created.text
    return str(created.json()["token"])


class Stream:
    def __init__(self, node: Daemon, after: int, *, token: str | None = None, cookie: str | None = None) -> None:
        query = f"after={after}" + (f"&token={token}" if token else "")
        self.url = node.url.replace("http", "ws") + f"/api/v1/stream?{query}"
        self.headers = {"Cookie": f"fd_session={cookie}"} if cookie else {}
        self.frames: list[dict[str, Any]] = []

    async def __aenter__(self) -> Stream:
        self.ws = await websockets.connect(self.url, additional_headers=self.headers)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def until(self, kind: str) -> dict[str, Any]:
        """The next event of `kind` about an inbound message (the frames before it are kept)."""
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            self.frames.append(frame)
            if frame["type"] == kind and frame.get("payload", {}).get("direction") == "in" and frame["seq"] > 0:
                return frame

    async def closing_code(self, deadline: float = 30.0) -> int:
        """Read until the server closes the socket; its close code. Heartbeats keep an open
        socket talking, so the deadline is for the whole wait, not for each frame."""
        try:
            async with asyncio.timeout(deadline):
                while True:
                    self.frames.append(json.loads(await self.ws.recv()))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return closed.rcvd.code
        except TimeoutError:
            raise AssertionError(f"the stream stayed open; it sent {self.frames}") from None


async def latest_seq(admin: httpx.AsyncClient) -> int:
    return int((await admin.get("/api/v1/events", params={"limit": 1})).json()["latest_seq"])


async def test_a_stream_closes_4401_and_delivers_nothing_once_its_credential_is_gone(daemon: Daemon, tmp_path: Path) -> None:
    daemon.channels = [spool_channel(tmp_path)]
    root = daemon.admin_token()
    daemon.start()
    admin = httpx.AsyncClient(base_url=daemon.url, timeout=30, headers={"Authorization": f"Bearer {root}"})
    ana_token, cy_token = (
        await add_agent(admin, "ana@example.com"),
        await add_agent(admin, "cy@example.com"),
    )
    await add_agent(admin, "bo@example.com")
    await add_agent(admin, "di@example.com")
    bo, di = await browser(daemon, "bo@example.com"), await browser(daemon, "di@example.com")
    after = await latest_seq(admin)
    async with (
        Stream(daemon, after, token=root) as control,
        Stream(daemon, after, token=ana_token) as revoked,
        Stream(daemon, after, cookie=bo.cookies["fd_session"]) as signed_out,
        Stream(daemon, after, token=cy_token) as deactivated,
        Stream(daemon, after, cookie=di.cookies["fd_session"]) as new_password,
    ):
        gone = (revoked, signed_out, deactivated, new_password)
        drop_messages(tmp_path / "in", 1, prefix="before")
        for stream in (control, *gone):  # every stream is live
            await stream.until("message.created")

        [ana] = [t for t in (await admin.get("/api/v1/tokens")).json()["items"] if t["agent"] == "ana@example.com"]
        assert (await admin.delete(f"/api/v1/tokens/{ana['id']}")).status_code == 204
        page = await bo.get("/")
        assert (await bo.post("/logout", data={"csrf": csrf_in(page.text, "/logout")})).status_code == 303
        [cy] = [a for a in (await admin.get("/api/v1/agents")).json()["items"] if a["email"] == "cy@example.com"]
        assert (await admin.patch(f"/api/v1/agents/{cy['id']}", json={"active": False})).status_code == 200
        di_elsewhere = await browser(daemon, "di@example.com")
        form = await di_elsewhere.get("/account/password")
        fields = {
            "csrf": csrf_in(form.text, "/account/password"),
            "current": PASSWORD,
            "password": "a new password 2",
            "confirm": "a new password 2",
        }
        assert (await di_elsewhere.post("/account/password", data=fields)).status_code == 200
        cutoff = await latest_seq(admin)

        drop_messages(tmp_path / "in", 1, prefix="after")
        late = await control.until("message.created")
        assert late["seq"] > cutoff
        for stream in gone:
            assert await stream.closing_code() == 4401
            delivered = [f["seq"] for f in stream.frames if f["type"] != "heartbeat" and f["seq"] > cutoff]
            assert delivered == [], stream.frames
        for client in (admin, bo, di, di_elsewhere):
            await client.aclose()


async def test_an_idle_stream_closes_within_seconds_of_its_token_being_revoked(
    daemon: Daemon,
) -> None:
    root = daemon.admin_token()
    daemon.start()
    admin = httpx.AsyncClient(base_url=daemon.url, timeout=30, headers={"Authorization": f"Bearer {root}"})
    token = await add_agent(admin, "ana@example.com")
    async with Stream(daemon, await latest_seq(admin), token=token) as stream:
        [row] = [t for t in (await admin.get("/api/v1/tokens")).json()["items"] if t["agent"] == "ana@example.com"]
        assert (await admin.delete(f"/api/v1/tokens/{row['id']}")).status_code == 204
        # No event follows: the periodic re-check (every 5 s) closes it.
        assert await stream.closing_code() == 4401
        assert {f["type"] for f in stream.frames} <= {"heartbeat"}
    await admin.aclose()
