"""Widget gateway: reply latency with many visitors, and memory per idle visitor.

    .venv/bin/python bench/widget.py [--visitors 1000] [--agents 50] [--replies 2000] [--rate 25] [--idle 5000]

1. `--visitors` websocket visitors connect to a real `frontdesk serve` (SQLite) and each
   sends a message; `--agents` API clients then post `--replies` replies in all, at
   `--rate` replies a second together (`--rate 0`: each agent as fast as it can, which
   measures throughput; latency is then mostly queueing), and we time each from the POST
   until the visitor's socket receives it (end to end: API, commit, event bus, gateway).
   Beside it, the same number of clients against a bare `websockets` echo server,
   timing a round trip: the floor of this machine.
2. `--idle` more visitors connect and stay idle; the daemon's resident memory grows by
   this much per connection, against the same for the bare echo server.

Targets (issue 5): p50 <= 15 ms, p99 <= 100 ms; idle visitors <= 25 KB each.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The project root instead of bench/ (whose email.py would shadow the stdlib package).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx  # noqa: E402
import websockets  # noqa: E402

from tests.fixtures.daemon import Daemon  # noqa: E402
from tests.fixtures.services import free_port  # noqa: E402

ECHO_SERVER = """
import asyncio, sys, websockets
async def echo(ws):
    async for message in ws:
        await ws.send(message)
async def main():
    async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1]), max_size=2**16):
        print("ready", flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quiet_collector() -> None:
    """Keep this load generator's own garbage collection out of the timings: with 1,000
    client sockets its full collections stop it for 80-160 ms, which would be counted
    as the server's latency. Frozen set-up objects and rare full collections, as the
    daemon does."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * p) - 1)]


async def settle(pid: int) -> int:
    """RSS once it stops moving (allocators return memory lazily)."""
    last = rss_kib(pid)
    for _ in range(20):
        await asyncio.sleep(0.25)
        now = rss_kib(pid)
        if abs(now - last) < 64:
            return now
        last = now
    return last


async def open_visitors(url: str, count: int, origin: str) -> list[tuple[object, str]]:
    sockets = []
    for start in range(0, count, 200):
        batch = await asyncio.gather(*(websockets.connect(url, origin=origin, max_size=2**20) for _ in range(min(200, count - start))))
        for ws in batch:
            await ws.send(json.dumps({"type": "hello"}))
        for ws in batch:
            welcome = json.loads(await ws.recv())
            sockets.append((ws, welcome["visitor"]))
    return sockets


async def gateway_run(args: argparse.Namespace) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="frontdesk-bench-widget-"))
    node = Daemon(
        workdir=workdir,
        db_url=f"sqlite+aiosqlite:///{workdir}/frontdesk.db",
        channels=[{"name": "website", "type": "widget", "rate_limit": 1000}],
        server={"api_requests_per_minute": 1_000_000},  # 50 agents share one token here
    )
    token = await asyncio.to_thread(node.admin_token)
    await asyncio.to_thread(node.start)
    assert node.process is not None
    url = node.url.replace("http", "ws") + "/widget/website/ws"
    try:
        visitors = await open_visitors(url, args.visitors, node.url)
        for i, (ws, _) in enumerate(visitors):
            await ws.send(json.dumps({"type": "message", "client_id": "hello", "text": f"visitor {i} says hi"}))  # type: ignore[attr-defined]
        conversations: dict[str, int] = {}
        async with httpx.AsyncClient(base_url=node.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
            while len(conversations) < len(visitors):
                cursor = None
                conversations.clear()
                while True:
                    page = (await api.get("/api/v1/conversations", params={"limit": 200} | ({"cursor": cursor} if cursor else {}))).json()
                    for c in page["items"]:
                        conversations[c["contact"]["name"]] = c["id"]
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
                await asyncio.sleep(0.2)
        waiting: dict[str, asyncio.Future[float]] = {}

        async def read(ws: object) -> None:
            async for raw in ws:  # type: ignore[attr-defined]
                frame = json.loads(raw)
                if frame.get("type") == "message" and frame.get("direction") == "out":
                    future = waiting.pop(frame["text"], None)
                    if future is not None and not future.done():
                        future.set_result(time.perf_counter())

        readers = [asyncio.create_task(read(ws)) for ws, _ in visitors]
        quiet_collector()
        keys = [f"v:{visitor}" for _, visitor in visitors]
        latencies: list[float] = []
        posts: list[float] = []
        per_agent = args.replies // args.agents

        # The agents' clients exist and are connected before the clock starts: creating 50
        # of them (an SSL context each) blocks this process for about a second, after
        # which the first replies of every agent would all go at once.
        clients = [
            httpx.AsyncClient(base_url=node.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) for _ in range(args.agents)
        ]
        await asyncio.gather(*(api.get("/healthz") for api in clients))

        began = time.perf_counter()
        cpu_began = cpu_seconds(node.process.pid)

        async def agent(n: int) -> None:
            api = clients[n]
            for k in range(per_agent):
                if args.rate:  # open loop: replies at a steady rate, as agents type them
                    due = began + (k * args.agents + n) / args.rate
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                key = random.choice(keys)
                text = f"reply {n}-{k}"
                future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
                waiting[text] = future
                start = time.perf_counter()
                response = await api.post(f"/api/v1/conversations/{conversations[key]}/messages", json={"text": text})
                posts.append((time.perf_counter() - start) * 1000)
                response.raise_for_status()
                latencies.append((await asyncio.wait_for(future, 60) - start) * 1000)

        await asyncio.gather(*(agent(n) for n in range(args.agents)))
        elapsed = time.perf_counter() - began
        await asyncio.gather(*(api.aclose() for api in clients))
        cpu_ms = (cpu_seconds(node.process.pid) - cpu_began) * 1000 / max(len(latencies), 1)
        for task in readers:
            task.cancel()
        before = await settle(node.process.pid)
        idle = await open_visitors(url, args.idle, node.url)
        after = await settle(node.process.pid)
        for ws, _ in [*visitors, *idle]:
            await ws.close()  # type: ignore[attr-defined]
        return {
            "throughput": len(latencies) / elapsed,
            "p50": statistics.median(latencies),
            "p99": pct(latencies, 0.99),
            "replies": len(latencies),
            "kib_per_idle": (after - before) / max(args.idle, 1),
            "post_p50": statistics.median(posts),
            "cpu_ms": cpu_ms,
        }
    finally:
        await asyncio.to_thread(node.stop)


async def echo_run(args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    server = await asyncio.to_thread(subprocess.Popen, [sys.executable, "-c", ECHO_SERVER, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        await asyncio.to_thread(server.stdout.readline)
        url = f"ws://127.0.0.1:{port}"
        clients = []
        for start in range(0, args.visitors, 200):
            clients += await asyncio.gather(*(websockets.connect(url) for _ in range(min(200, args.visitors - start))))
        latencies: list[float] = []
        per_agent = args.replies // args.agents

        quiet_collector()
        # One agent per socket at a time: split the clients between the agents.
        groups = [clients[i :: args.agents] for i in range(args.agents)]

        async def agent_on(group: list[object], n: int) -> None:
            for k in range(per_agent):
                ws = random.choice(group)
                start = time.perf_counter()
                await ws.send(f"{n}-{k}")  # type: ignore[attr-defined]
                await ws.recv()  # type: ignore[attr-defined]
                latencies.append((time.perf_counter() - start) * 1000)

        await asyncio.gather(*(agent_on(g, n) for n, g in enumerate(groups)))
        before = await settle(server.pid)
        idle = []
        for start in range(0, args.idle, 200):
            idle += await asyncio.gather(*(websockets.connect(url) for _ in range(min(200, args.idle - start))))
        after = await settle(server.pid)
        for ws in [*clients, *idle]:
            await ws.close()
        return {
            "p50": statistics.median(latencies),
            "p99": pct(latencies, 0.99),
            "replies": len(latencies),
            "kib_per_idle": (after - before) / max(args.idle, 1),
        }
    finally:
        server.terminate()
        server.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument(
        "--rate", type=float, default=25.0, help="replies per second from all agents together (0: each agent posts as fast as it can)"
    )
    args = parser.parse_args()
    echo = await echo_run(args)
    gateway = await gateway_run(args)
    pace = f"at {args.rate:g}/s" if args.rate else "as fast as the agents can"
    print(
        f"{args.visitors} visitors, {args.agents} agents, {gateway['replies']:.0f} replies {pace} ({gateway['throughput']:.0f}/s done); then {args.idle} idle visitors"
    )
    print(f"{'':34} {'p50 ms':>8} {'p99 ms':>8} {'KiB/idle':>9}")
    print(f"{'bare websockets echo (floor)':34} {echo['p50']:8.1f} {echo['p99']:8.1f} {echo['kib_per_idle']:9.1f}")
    print(f"{'Frontdesk reply, API -> visitor':34} {gateway['p50']:8.1f} {gateway['p99']:8.1f} {gateway['kib_per_idle']:9.1f}")
    print(f"{'  of which the API POST (p50)':34} {gateway['post_p50']:8.1f}")
    print(f"daemon CPU per reply: {gateway['cpu_ms']:.1f} ms")
    print(
        f"ratio: p50 {gateway['p50'] / echo['p50']:.1f}x, p99 {gateway['p99'] / echo['p99']:.1f}x, memory {gateway['kib_per_idle'] / max(echo['kib_per_idle'], 0.1):.1f}x"
    )
    print("targets: p50 <= 15 ms, p99 <= 100 ms, <= 25 KB per idle visitor")


if __name__ == "__main__":
    asyncio.run(main())
