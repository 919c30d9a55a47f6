"""Service restarts under a running system: Redis (live updates resume by themselves) and
PostgreSQL (nothing lost; the daemon carries on once the database is back)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from inbox.events import RedisBus
from tests.fixtures.daemon import Daemon, wait_until
from tests.fixtures.services import port_open, require
from tests.inbox.runtime.test_daemon import drop_messages, message_events, spool_channel

# These restart the machine's PostgreSQL and Redis: `make test` runs them on their own,
# after the parallel part, so no other test sees the outage.
pytestmark = pytest.mark.serial

REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]


def restart_redis() -> None:
    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], capture_output=True, timeout=30)
    deadline = time.monotonic() + 30
    while port_open("127.0.0.1", 6379) and time.monotonic() < deadline:
        time.sleep(0.05)
    subprocess.run(REDIS_START, check=True, timeout=30)
    while not port_open("127.0.0.1", 6379):
        if time.monotonic() > deadline:
            raise RuntimeError("Redis did not come back")
        time.sleep(0.05)


def restart_postgres() -> None:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"], check=True, timeout=120)


@pytest.mark.slow
async def test_redis_restart_the_bus_resubscribes_by_itself() -> None:
    require(port_open("127.0.0.1", 6379) and shutil.which("redis-cli") is not None, "Redis (and redis-cli) on 127.0.0.1:6379")
    channel = f"frontdesk:test:{uuid.uuid4().hex}"
    a, b = RedisBus("redis://127.0.0.1:6379/0"), RedisBus("redis://127.0.0.1:6379/0")
    a.CHANNEL = b.CHANNEL = channel  # type: ignore[misc]
    await a.start()
    await b.start()
    try:
        await asyncio.to_thread(restart_redis)
        deadline = time.monotonic() + 60
        seq = 100
        while True:  # publishes fail or go unheard until b has resubscribed
            seq += 1
            await a.publish(seq)
            if await b.wait(seq - 1, 0.2) >= seq:
                break
            assert time.monotonic() < deadline, "the bus did not resubscribe after the Redis restart"
    finally:
        if not port_open("127.0.0.1", 6379):
            await asyncio.to_thread(subprocess.run, REDIS_START, timeout=30)
        await a.stop()
        await b.stop()


@pytest.mark.slow
def test_postgres_restart_loses_no_message(tmp_path: Path, pg_db_url: str) -> None:
    require(Path("/etc/postgresql").is_dir() and shutil.which("pg_ctlcluster") is not None, "a local PostgreSQL cluster (pg_ctlcluster)")
    node = Daemon(workdir=tmp_path, db_url=pg_db_url, channels=[spool_channel(tmp_path)])
    token = node.admin_token()
    node.start()
    try:
        drop_messages(tmp_path / "in", 100, prefix="before")
        wait_until(lambda: len(message_events(node, token)) == 100, what="the first messages")
        drop_messages(tmp_path / "in", 100, prefix="during")
        restart_postgres()
        drop_messages(tmp_path / "in", 100, prefix="after")

        def stored() -> int:
            try:
                return len(message_events(node, token))
            except Exception:
                return 0

        wait_until(lambda: stored() == 300, timeout=120, what="every message after the restart")
        ids = [e["payload"]["external_id"] for e in message_events(node, token)]
        assert len(set(ids)) == 300
        assert node.process is not None and node.process.poll() is None  # the daemon carried on
    finally:
        node.stop()
