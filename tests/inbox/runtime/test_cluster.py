"""Several nodes on one PostgreSQL: a channel's receiver runs on one node and moves on death."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.daemon import Daemon, wait_until
from tests.inbox.runtime.test_daemon import drop_messages, message_events, spool_channel


def holds(node: Daemon) -> bool:
    return "receiver running on this node" in node.output()


def test_receiver_moves_to_another_node_when_its_node_is_killed(tmp_path: Path, pg_db_url: str) -> None:
    channel = spool_channel(tmp_path)
    extra = "[cluster]\nlease_seconds = 2\n"
    a = Daemon(workdir=tmp_path / "a", db_url=pg_db_url, channels=[channel], extra=extra)
    b = Daemon(workdir=tmp_path / "b", db_url=pg_db_url, channels=[channel], extra=extra, role="worker")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    try:
        token = a.admin_token()
        a.start()
        b.start(wait=False)
        wait_until(lambda: "node started" in b.output(), what="node b to start")
        wait_until(lambda: holds(a) or holds(b), what="a lease holder")
        assert not (holds(a) and holds(b)), "exactly one node runs the receiver"
        drop_messages(tmp_path / "in", 50, prefix="before")
        wait_until(lambda: len(message_events(a, token)) == 50, what="the first batch")
        holder, other = (a, b) if holds(a) else (b, a)
        holder.kill()
        drop_messages(tmp_path / "in", 50, prefix="after")
        wait_until(lambda: holds(other), timeout=30, what="the other node to take the channel over")
        reader = other if other is a else None
        if reader is None:  # b is a worker without HTTP: bring a back up to read
            a.start()
            reader = a
        wait_until(lambda: len(message_events(reader, token)) == 100, what="the second batch")
        ids = [e["payload"]["message_id"] for e in message_events(reader, token)]
        assert len(set(ids)) == 100
    finally:
        a.stop()
        b.stop()
