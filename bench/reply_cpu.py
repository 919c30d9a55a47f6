"""Daemon CPU per agent reply through the API, beside a bare FastAPI endpoint inserting one row.

    python -m bench.reply_cpu [--database sqlite|postgresql|both] [--n 300]     (from the checkout's root)

For each database it builds a small desk — a fresh database migrated, a widget channel and
a spool channel, a few conversations of each made by the real ingest (visitors over the
widget's websocket, JSON files in the spool folder), an admin token — starts the real
daemon (`frontdesk serve`), and posts `n` sequential replies `POST
/api/v1/conversations/{id}/messages {"text", "private": false}` round-robin over the
conversations, after a warm-up. The figure is the daemon's CPU time (user + system from
/proc/PID/stat, which counts every thread of the process: the event loop, the SQLite
writer and reader threads) from before the first reply until the daemon is idle again
after the last, divided by `n`. So it includes everything the replies cause: the HTTP
request, authentication, the transaction, the response, and what the commits wake (the
widget hub, the outbox worker's check for due items, the live stream's listeners):

- **widget**: replies are delivered by their commit (no outbox item; no visitor is
  connected at measuring time, so no socket write is counted): the API and the write.
- **spool**: replies go through the outbox, which writes a file per send: the API, the
  write, and the outbox's claim, send and outcome (three more short transactions).

Beside it, in the same run and on the same database server, a bare FastAPI app under
uvicorn (same event loop, same HTTP parser) with one endpoint that validates a JSON body
with pydantic, inserts one row with SQLAlchemy's asyncio engine over the daemon's driver
(aiosqlite or asyncpg) in a transaction of its own, and returns JSON: the floor.

`--profile DIR` also samples the daemon with py-spy (when it is on PATH) during the
widget run and writes its raw (collapsed) samples to DIR.

Issue 23's target: <= 4 ms of daemon CPU per widget reply on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.fixtures.daemon import Daemon
from tests.fixtures.services import free_port

WARM_UP = 30
TICK = os.sysconf("SC_CLK_TCK")
PG_HOST = os.environ.get("FRONTDESK_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("FRONTDESK_TEST_PG_PORT", "5432"))

BARE_APP = """
import sys, datetime as dt
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, insert
from sqlalchemy.ext.asyncio import create_async_engine

metadata = MetaData()
rows = Table(
    "bench_bare_insert",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
engine = create_async_engine(sys.argv[1])
app = FastAPI()


class RowIn(BaseModel):
    text: str


@app.post("/rows", status_code=201)
async def add_row(body: RowIn) -> dict:
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as conn:
        row_id = (await conn.execute(insert(rows).values(text=body.text, created_at=now).returning(rows.c.id))).scalar_one()
    return {"id": row_id, "text": body.text, "created_at": now.isoformat()}


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


async def main() -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    config = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[2]), log_config=None, access_log=False, lifespan="off")
    await uvicorn.Server(config).serve()


try:
    import uvloop
    uvloop.run(main())
except ImportError:
    import asyncio
    asyncio.run(main())
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the whole process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def settle(pid: int, quiet_ticks: int = 1, interval: float = 0.3, limit: float = 30.0) -> None:
    """Wait until the process is idle: at most `quiet_ticks` clock ticks of CPU in `interval`
    (what the last requests woke — an outbox send, the hub, listeners — has run)."""
    deadline = time.monotonic() + limit
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(interval)
        now = cpu_seconds(pid)
        if (now - last) * TICK <= quiet_ticks:
            return
        last = now


def _cpu_ms_per_request(pid: int, n: int, request: Callable[[int], None]) -> float:
    for i in range(WARM_UP):
        request(i)
    settle(pid)
    began = cpu_seconds(pid)
    for i in range(n):
        request(i)
    settle(pid)
    return (cpu_seconds(pid) - began) * 1000 / n


def measure_reply_cpu(base_url: str, token: str, pid: int, conversation_ids: list[int], n: int = 300) -> float:
    """Daemon CPU ms per API reply: `n` sequential public replies round-robin over
    `conversation_ids` (after a warm-up of 30), from before the first until the daemon is
    idle again after the last (so background work the replies wake, such as outbox sends,
    is included). `pid` is the daemon's process."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as api:

        def reply(i: int) -> None:
            conversation = conversation_ids[i % len(conversation_ids)]
            response = api.post(
                f"/api/v1/conversations/{conversation}/messages", json={"text": f"Reply **{i}**: on its way.", "private": False}
            )
            response.raise_for_status()

        return _cpu_ms_per_request(pid, n, reply)


def measure_bare_insert_cpu(database_url: str, n: int = 300) -> float:
    """The same measurement for a bare FastAPI app under uvicorn in a subprocess: one
    endpoint that inserts one row (SQLAlchemy asyncio, the URL's driver) and returns JSON.
    Its table, `bench_bare_insert`, is created in `database_url` if missing."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", BARE_APP, database_url, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                assert server.stderr is not None
                raise RuntimeError(f"the bare app exited with {server.returncode}: {server.stderr.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the bare app did not start")
            time.sleep(0.05)
        with httpx.Client(base_url=base_url, timeout=60) as client:

            def insert(i: int) -> None:
                client.post("/rows", json={"text": f"Reply **{i}**: on its way."}).raise_for_status()

            return _cpu_ms_per_request(server.pid, n, insert)
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- the desk ---------------------------------------------------------------------------


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _widget_visitors(node: Daemon, count: int) -> None:
    """`count` visitors say hello over the widget's websocket (the real ingest makes their
    conversations), then leave."""
    import websockets

    url = node.url.replace("http", "ws") + "/widget/website/ws"
    for i in range(count):
        async with websockets.connect(url, origin=node.url) as ws:
            await ws.send(json.dumps({"type": "hello"}))
            await ws.recv()
            await ws.send(json.dumps({"type": "message", "client_id": f"hello-{i}", "text": f"Visitor {i}: where is my order?"}))
            await ws.recv()


def _spool_messages(inbox: Path, count: int) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name = uuid.uuid4().hex
        message = {
            "id": f"bench-{i}",
            "from": f"customer{i}@example.com",
            "name": f"Customer {i}",
            "text": f"Order {i}: it has not arrived.",
        }
        (inbox / f".{name}.tmp").write_text(json.dumps(message))
        (inbox / f".{name}.tmp").rename(inbox / f"{name}.json")


def _conversations(node: Daemon, token: str, want: int) -> dict[str, list[int]]:
    """Conversation ids by channel name, once `want` of them exist."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 60
    while True:
        items = httpx.get(f"{node.url}/api/v1/conversations", params={"limit": 200}, headers=headers, timeout=30).json()["items"]
        by_channel: dict[str, list[int]] = {}
        for item in items:
            by_channel.setdefault(str(item["channel"]["name"] if isinstance(item["channel"], dict) else item["channel"]), []).append(
                item["id"]
            )
        if len(items) >= want or time.monotonic() > deadline:
            return by_channel
        time.sleep(0.1)


def run_desk(database: str, n: int, conversations: int, profile: Path | None) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"frontdesk-bench-reply-{database}-"))
    pg_name = None
    if database == "sqlite":
        db_url = f"sqlite+aiosqlite:///{workdir / 'frontdesk.db'}"
    else:
        pg_name = f"fd_bench_reply_{uuid.uuid4().hex[:8]}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{pg_name}"'))
        db_url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{pg_name}"
    node = Daemon(
        workdir=workdir,
        db_url=db_url,
        prepared=False,  # a new database: migrate it
        channels=[
            {"name": "website", "type": "widget", "rate_limit": 1000},
            {"name": "chat", "type": "spool", "inbox_dir": str(workdir / "in"), "outbox_dir": str(workdir / "out"), "poll_interval": 0.2},
        ],
        server={"api_requests_per_minute": 1_000_000},
    )
    try:
        token = node.admin_token()
        node.start()
        assert node.process is not None
        asyncio.run(_widget_visitors(node, conversations))
        _spool_messages(workdir / "in", conversations)
        by_channel = _conversations(node, token, 2 * conversations)
        widget_ids, spool_ids = by_channel.get("website", []), by_channel.get("chat", [])
        assert widget_ids and spool_ids, f"conversations by channel: {by_channel}"
        pid = node.process.pid
        spy = _start_profile(pid, profile / f"reply-{database}") if profile else None
        widget = measure_reply_cpu(node.url, token, pid, widget_ids, n)
        if spy is not None:
            spy.send_signal(2)  # SIGINT: py-spy writes what it has
            spy.wait(timeout=60)
        spool = measure_reply_cpu(node.url, token, pid, spool_ids, n)
        sent = len(list((workdir / "out").glob("*.json"))) if (workdir / "out").exists() else 0
        node.stop()
        bare = measure_bare_insert_cpu(db_url, n)
        return {"widget": widget, "spool": spool, "bare": bare, "spool_files": sent}
    finally:
        node.stop()
        if pg_name is not None:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        shutil.rmtree(workdir, ignore_errors=True)


def _start_profile(pid: int, stem: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy")
    if spy is None:
        print("(py-spy is not on PATH: no profile)", file=sys.stderr)
        return None
    stem.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--threads", "--gil", "--rate", "250", "--format", "raw", "--output", f"{stem}.txt"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--n", type=int, default=300, help="replies (and bare inserts) measured, after a warm-up of 30")
    parser.add_argument("--conversations", type=int, default=5, help="conversations of each channel replied to, round-robin")
    parser.add_argument("--profile", type=Path, help="sample the daemon with py-spy during the widget run, into this folder")
    args = parser.parse_args()
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    print(f"daemon CPU per request, {args.n} sequential requests after {WARM_UP} of warm-up (ms; user + system, all threads)")
    print(f"{'database':11} {'bare insert':>12} {'reply widget':>13} {'ratio':>6} {'reply spool':>12} {'ratio':>6}")
    for database in databases:
        got = run_desk(database, args.n, args.conversations, args.profile)
        print(
            f"{database:11} {got['bare']:12.2f} {got['widget']:13.2f} {got['widget'] / got['bare']:5.1f}x"
            f" {got['spool']:12.2f} {got['spool'] / got['bare']:5.1f}x",
            flush=True,
        )
    print("reply widget: delivered by its commit (API + write); reply spool: also the outbox's claim, send (a file) and outcome")
    print("target (issue 23): reply widget <= 4 ms on SQLite and PostgreSQL")


if __name__ == "__main__":
    main()
