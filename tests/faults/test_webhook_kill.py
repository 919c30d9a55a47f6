"""SIGKILL mid-delivery of a burst of webhook events: after the restart every event is
delivered, none skipped and in seq order; a repeat only ever carries the same delivery id."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.fixtures.daemon import Daemon, daemon, wait_until  # noqa: F401
from tests.inbox.runtime.test_daemon import drop_messages, message_events, spool_channel

SECRET = "kill-test-shared-secret"


class SlowReceiver:
    """Answers each POST after a short pause, so a burst takes long enough to be killed in."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, int]] = []  # (X-Frontdesk-Delivery, seq), every request
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.arrivals.append((self.headers["X-Frontdesk-Delivery"], json.loads(body)["seq"]))
                time.sleep(0.03)  # the receiver's own work, not a test wait
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def seen(self) -> list[tuple[str, int]]:
        with self.lock:
            return list(self.arrivals)


@pytest.fixture
def slow_receiver() -> Iterator[SlowReceiver]:
    got = SlowReceiver()
    thread = threading.Thread(target=got.server.serve_forever, daemon=True)
    thread.start()
    yield got
    got.server.shutdown()
    got.server.server_close()
    thread.join(timeout=10)


def test_sigkill_mid_delivery_resumes_in_order_with_no_gap(daemon: Daemon, tmp_path: Path, slow_receiver: SlowReceiver) -> None:
    count = 60
    daemon.channels = [spool_channel(tmp_path)]
    daemon.extra = "[webhooks]\nallow_private = true\ntimeout_seconds = 2\nbase_delay = 0.2\nmax_delay = 1\nlease_seconds = 4\n"
    token = daemon.admin_token()
    headers = {"Authorization": f"Bearer {token}"}
    daemon.start()
    created = httpx.post(
        f"{daemon.url}/api/v1/webhooks",
        json={"url": slow_receiver.url, "events": ["message.created"], "secret": SECRET},
        headers=headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    drop_messages(tmp_path / "in", count)
    wait_until(lambda: len(slow_receiver.seen()) >= 5, what="the first deliveries")
    daemon.kill()
    at_kill = len({seq for _, seq in slow_receiver.seen()})
    assert at_kill < count, "the kill should land mid-burst"
    daemon.start()
    wait_until(lambda: len({seq for _, seq in slow_receiver.seen()}) >= count, what="every event delivered after the restart")
    expected = [e["seq"] for e in message_events(daemon, token)]
    arrivals = slow_receiver.seen()
    seqs = [seq for _, seq in arrivals]
    assert sorted(set(seqs)) == expected  # no gap, nothing extra
    assert seqs == sorted(seqs)  # in seq order (a repeat comes right after the first)
    ids = {}
    for delivery, seq in arrivals:
        assert ids.setdefault(seq, delivery) == delivery  # a repeat carries the same delivery id
    assert len(set(ids.values())) == count
    assert len(seqs) - count <= 2  # repeats are rare: the event in flight at the kill (and a timed-out try)
