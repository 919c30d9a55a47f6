"""Slack ack latency: 1,000 signed events in a burst, Frontdesk against a bare bolt app.

Frontdesk acknowledges an event only after the message is committed; the baseline is a
bolt app (same bolt, same uvicorn) whose listener only acks. Both run as their own
processes and are measured in the same run with the same client; the ratio of p99s
is printed. A local fake Slack Web API answers auth.test and users.info.

    python bench/slack.py [--events 1000] [--users 50] [--database-url URL]

The database defaults to a fresh SQLite file; pass a PostgreSQL URL to bench that.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import importlib
import importlib.util
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, cast
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/, whose email.py would shadow the stdlib package

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"
TARGET_P99_MS = 300.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the baseline: a bolt app that only acks ---------------------------------------------


def serve_bare_bolt(port: int, api_url: str, loop: str) -> None:
    import uvicorn
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.app.async_app import AsyncApp
    from slack_bolt.authorization import AuthorizeResult
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_user_id="U0BOT", bot_id="B0BOT", bot_token=BOT_TOKEN)

    bolt = AsyncApp(signing_secret=SECRET, authorize=authorize, client=AsyncWebClient(base_url=api_url), process_before_response=True)

    @bolt.event("message")
    async def only_ack(ack: object) -> None:
        await ack()  # type: ignore[operator]

    handler = AsyncSlackRequestHandler(bolt)

    async def endpoint(request: Request) -> object:
        return await handler.handle(request)

    app = Starlette(routes=[Route("/hooks/slack/slack", endpoint, methods=["POST"]), Route("/healthz", lambda r: _ok(), methods=["GET"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, loop=loop)


def _ok() -> object:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse("ok")


# -- a fake Slack Web API (auth.test, users.info) ------------------------------------------


async def start_fake_slack() -> tuple[web.AppRunner, str]:
    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = dict(request.query)
        if request.can_read_body:
            params.update(dict(await request.post()))
        if method == "auth.test":
            return web.json_response(
                {"ok": True, "team": "Bench", "user": "frontdesk", "team_id": "T0", "user_id": "U0BOT", "bot_id": "B0BOT"}
            )
        if method == "users.info":
            uid = params.get("user", "")
            return web.json_response(
                {
                    "ok": True,
                    "user": {
                        "id": uid,
                        "name": uid.lower(),
                        "real_name": f"User {uid}",
                        "profile": {"real_name": f"User {uid}", "email": f"{uid.lower()}@example.com"},
                    },
                }
            )
        return web.json_response({"ok": False, "error": "unknown_method"})

    app = web.Application()
    app.router.add_route("*", "/api/{method}", api)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/api/"


# -- Frontdesk: the real daemon --------------------------------------------------------------


# `frontdesk serve` runs on uvloop when it is installed (it comes with uvicorn[standard]).
DAEMON_LOOP = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def frontdesk_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from inbox.cli import main; sys.exit(main())", *args]


def write_config(path: Path, port: int, db_url: str, api_url: str) -> None:
    path.write_text(
        f"""[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
secret_key = "env:FRONTDESK_SECRET_KEY"

[database]
url = {json.dumps(db_url)}

[[channels]]
name = "slack"
type = "slack"
bot_token = "{BOT_TOKEN}"
signing_secret = "{SECRET}"
api_url = {json.dumps(api_url)}
support_channels = ["C0BENCH"]
"""
    )


# -- the burst -------------------------------------------------------------------------------


def signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}", "Content-Type": "application/json"}


def event_body(n: int, users: int, run: str) -> bytes:
    ts = f"{1_700_000_000 + n}.{run}"
    event = {
        "type": "message",
        "user": f"U{n % users:05d}",
        "text": f"burst message {n}",
        "ts": ts,
        "channel": "C0BENCH",
        "channel_type": "channel",
    }
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0",
            "api_app_id": "A0",
            "event_id": f"Ev{run}{n:06d}",
            "event_time": int(time.time()),
            "event": event,
        }
    ).encode()


def http_request(url: str, body: bytes) -> bytes:
    """One signed POST, as bytes on the wire (HTTP/1.1, keep-alive)."""
    parts = urlsplit(url)
    head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in signed(body).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Exchanges(asyncio.Protocol):
    """One client connection that sends requests one after another and times each answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.answer: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it

    def send(self, request: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.answer

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head, found, rest = bytes(self.buffer).partition(b"\r\n\r\n")
        if not found:
            return
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(rest) < length:
            return
        del self.buffer[: len(head) + 4 + length]
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(int(head.split(b" ", 2)[1]))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(exc or ConnectionError("connection closed before the answer"))


async def burst(url: str, bodies: list[bytes], concurrency: int = 0) -> list[float]:
    """Send every body at once, over `concurrency` keep-alive connections (0: one each).

    The requests are built and signed before the clock starts, and the client speaks
    plain HTTP/1.1 over asyncio protocols: a heavier client (aiohttp's costs about
    0.4 ms of CPU per request) would be measured along with the server it loads.
    A request's latency runs from its connection being opened (the first on each
    connection) or from its being written (the rest) to the end of its answer.
    """
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    pending = iter([http_request(url, body) for body in bodies])
    latencies: list[float] = []

    async def connection() -> None:
        start = time.perf_counter()
        _, exchanges = await loop.create_connection(Exchanges, parts.hostname, parts.port)
        try:
            for request in pending:
                status = await exchanges.send(request)
                latencies.append((time.perf_counter() - start) * 1000)
                if status != 200:
                    raise RuntimeError(f"{url} answered {status}")
                start = time.perf_counter()
        finally:
            assert exchanges.transport is not None
            exchanges.transport.close()

    await asyncio.gather(*(connection() for _ in range(min(concurrency or len(bodies), len(bodies)))))
    return latencies


async def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not healthy in time")
            await asyncio.sleep(0.05)


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(name: str, latencies: list[float]) -> str:
    return f"{name:<22} p50 {p(latencies, 0.50):7.1f} ms   p99 {p(latencies, 0.99):7.1f} ms   max {max(latencies):7.1f} ms   mean {statistics.fmean(latencies):7.1f} ms"


def start_servers(
    config: Path, env: dict[str, str], bare_port: int, api_url: str
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], IO[bytes]]:
    subprocess.run(frontdesk_command("migrate", "--config", str(config)), cwd=ROOT, env=env, check=True, capture_output=True)
    log = (config.parent / "daemon.log").open("wb")
    daemon = subprocess.Popen(frontdesk_command("serve", "--config", str(config)), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    # Both servers on the same event loop implementation, or the comparison says little.
    bare = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--bare-server", str(bare_port), api_url, DAEMON_LOOP], cwd=ROOT, env=env
    )
    return daemon, bare, log


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--concurrency", type=int, default=100, help="connections the sender uses, as Slack's delivery does (0: every event at once)"
    )
    args = parser.parse_args()

    runner, api_url = await start_fake_slack()
    workdir = Path(tempfile.mkdtemp(prefix="frontdesk-bench-slack-"))
    db_path = workdir / "bench.db"
    db_url = args.database_url or f"sqlite+aiosqlite:///{db_path}"
    env = {**os.environ, "FRONTDESK_SECRET_KEY": "bench-secret-key-0123456789", "PYTHONPATH": str(ROOT)}
    fd_port, bare_port = free_port(), free_port()
    config = workdir / "frontdesk.toml"
    write_config(config, fd_port, db_url, api_url)
    daemon, bare, log = await asyncio.to_thread(start_servers, config, env, bare_port, api_url)
    try:
        await wait_healthy(f"http://127.0.0.1:{fd_port}/healthz", daemon)
        await wait_healthy(f"http://127.0.0.1:{bare_port}/healthz", bare)
        targets = {
            "bare bolt (ack only)": f"http://127.0.0.1:{bare_port}/hooks/slack/slack",
            "frontdesk (stored)": f"http://127.0.0.1:{fd_port}/hooks/slack/slack",
        }
        # Warm-up: one event per user, so both sides have their connections and caches.
        for i, url in enumerate(targets.values()):
            await burst(url, [event_body(n, args.users, f"w{i}") for n in range(args.users)])
        print(
            f"Slack ack latency, {args.events} signed events per burst, {args.users} users, "
            f"database {db_url.split(':')[0]}, event loop {DAEMON_LOOP} (both)"
        )
        scenarios = [args.concurrency] + ([0] if args.concurrency else [])
        for round_, concurrency in enumerate(scenarios):
            results: dict[str, list[float]] = {}
            for i, (name, url) in enumerate(targets.items()):
                results[name] = await burst(url, [event_body(n, args.users, f"b{round_}{i}") for n in range(args.events)], concurrency)
            print(f"\nburst over {concurrency or args.events} concurrent connections:")
            for name, latencies in results.items():
                print(summary(name, latencies))
            base = p(results["bare bolt (ack only)"], 0.99)
            ours = p(results["frontdesk (stored)"], 0.99)
            print(f"p99 ratio frontdesk / bare bolt: {ours / base:.2f}x")
            print(f"target p99 <= {TARGET_P99_MS:.0f} ms: {'met' if ours <= TARGET_P99_MS else 'NOT met'} ({ours:.1f} ms)")
        if not args.database_url:
            with sqlite3.connect(db_path) as db:
                stored = db.execute(
                    "select count(*) from message where channel_id = (select id from channel where name = 'slack')"
                ).fetchone()[0]
            expected = args.events * len(scenarios) + args.users
            print(f"\nmessages stored: {stored} of {expected} {'(all)' if stored == expected else '(MISSING SOME)'}")
        return 0
    finally:
        for process in (daemon, bare):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
        await runner.cleanup()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--bare-server":
        serve_bare_bolt(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        # The sender runs on the same event loop as the servers it loads.
        loop_factory = importlib.import_module("uvloop").new_event_loop if DAEMON_LOOP == "uvloop" else None
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            sys.exit(runner.run(main()))
