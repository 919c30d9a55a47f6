"""Mixed-channel load: messages/s across the spool, Slack and Telegram channels, end to end.

    .venv/bin/python bench/load.py [--rate 200] [--seconds 120] [--topology single|cluster|both]

`single`: one node (`--role all`) on SQLite. `cluster`: one web node and two worker
nodes on PostgreSQL (127.0.0.1:5432) — Slack and Telegram webhooks hit the web node,
the spool folder is read by whichever worker holds its lease. Each run injects `rate`
messages a second for `seconds`, round-robin over the three channels (Slack events
signed, Telegram updates with the webhook secret, JSON files), and watches
`/api/v1/stream` for each message's `message.created` event. It prints throughput,
inbound-to-visible latency (p50/p99) and the nodes' resident memory. The single-node
SQLite run is the baseline the cluster run is compared with.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

# The project root instead of bench/ (whose email.py would shadow the stdlib package).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx  # noqa: E402
import websockets  # noqa: E402

from tests.fixtures.daemon import Daemon  # noqa: E402
from tests.fixtures.databases import PG_ADMIN_URL, pg_url  # noqa: E402
from tests.fixtures.fake_slack import (  # noqa: E402
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    event_callback,
    message_event,
    sign,
)
from tests.fixtures.fake_telegram import TOKEN, FakeTelegram, _Server, message, user  # noqa: E402

SECRET = "bench-webhook-secret"


def channels(workdir: Path, slack: FakeSlack, telegram: FakeTelegram) -> list[dict[str, object]]:
    return [
        {"name": "drop", "type": "spool", "inbox_dir": str(workdir / "in"), "outbox_dir": str(workdir / "out"), "poll_interval": 0.05},
        {
            "name": "slack",
            "type": "slack",
            "bot_token": BOT_TOKEN,
            "signing_secret": SIGNING_SECRET,
            "api_url": slack.api_url,
            "support_channels": ["C0SUPPORT"],
        },
        {
            "name": "tg",
            "type": "telegram",
            "token": TOKEN,
            "mode": "webhook",
            "webhook_secret": SECRET,
            "api_base_url": telegram.api_base_url,
        },
    ]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def run(nodes: list[Daemon], web: Daemon, token: str, workdir: Path, rate: int, seconds: int) -> dict[str, float]:
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=web.url, headers={"Authorization": f"Bearer {token}"}) as api:
        latest = (await api.get("/api/v1/events", params={"limit": 1})).json()["latest_seq"]
    stream_url = web.url.replace("http", "ws") + f"/api/v1/stream?token={token}&after={latest}"

    async def watch() -> None:
        async with websockets.connect(stream_url, max_size=None) as ws:
            async for frame in ws:
                event = json.loads(frame)
                if event.get("type") == "message.created" and event["payload"].get("direction") == "in":
                    seen.setdefault(event["payload"]["channel"] + "|" + event["payload"]["external_id"], time.perf_counter())

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    inbox = workdir / "in"
    async with httpx.AsyncClient(base_url=web.url, timeout=30, limits=httpx.Limits(max_connections=100)) as client:

        async def one(i: int) -> None:
            kind = i % 3
            if kind == 0:
                key = f"m-{i}"
                doc = json.dumps({"id": key, "from": f"user{i % 500}@example.com", "text": f"spool message {i}", "thread": f"t{i % 500}"})
                tmp = inbox / f".{key}.tmp"
                await asyncio.to_thread(tmp.write_text, doc)
                sent[f"drop|{key}"] = time.perf_counter()
                await asyncio.to_thread(os.replace, tmp, inbox / f"{key}.json")
            elif kind == 1:
                ts = f"{1700000000 + i}.{i:06d}"
                body = json.dumps(event_callback(message_event(f"slack message {i}", user="U0ANA", ts=ts), event_id=f"Ev{i}")).encode()
                sent[f"slack|C0SUPPORT:{ts}"] = time.perf_counter()
                response = await client.post("/hooks/slack/slack", content=body, headers=sign(body))
                response.raise_for_status()
            else:
                chat = 5000 + i % 500
                update = {"update_id": 10_000 + i, "message": message(user(chat), f"telegram message {i}", message_id=i)}
                sent[f"tg|{chat}:{i}"] = time.perf_counter()
                response = await client.post("/hooks/telegram/tg", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                response.raise_for_status()

        start = time.perf_counter()
        tasks = []
        total = rate * seconds
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        injected = time.perf_counter() - start
    deadline = time.perf_counter() + 120
    while True:  # until every message is seen, or the deadline
        if len(seen.keys() & sent.keys()) >= len(sent) or time.perf_counter() >= deadline:
            break
        await asyncio.sleep(0.2)
    watcher.cancel()
    latencies = sorted((seen[k] - sent[k]) * 1000 for k in sent if k in seen)
    for channel in ("drop", "slack", "tg"):
        mine = sorted((seen[k] - sent[k]) * 1000 for k in sent if k in seen and k.startswith(channel + "|"))
        if mine:
            print(f"  {channel:6} p50 {statistics.median(mine):8.1f} ms  p99 {mine[int(len(mine) * 0.99) - 1]:9.1f} ms", file=sys.stderr)
    last = max(seen[k] for k in sent if k in seen)
    return {
        "injected": len(sent),
        "visible": len(latencies),
        "offered_rate": len(sent) / injected,
        "throughput": len(latencies) / (last - start),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "max_ms": latencies[-1],
        "rss_mib": sum(rss_kib(n.process.pid) for n in nodes if n.process) / 1024,
    }


async def topology(name: str, rate: int, seconds: int, slack: FakeSlack, telegram: FakeTelegram) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"frontdesk-load-{name}-"))
    (workdir / "in").mkdir()
    configured = channels(workdir, slack, telegram)
    extra = "[cluster]\nlease_seconds = 5\n"
    if name == "single":
        web = Daemon(workdir=workdir / "node", db_url=f"sqlite+aiosqlite:///{workdir}/frontdesk.db", channels=configured, extra=extra)
        nodes = [web]
    else:
        import asyncpg

        database = f"fd_load_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(PG_ADMIN_URL)
        await conn.execute(f'CREATE DATABASE "{database}"')
        await conn.close()
        url = pg_url(database)
        extra += '[bus]\nurl = "redis://127.0.0.1:6379/0"\n'
        web = Daemon(workdir=workdir / "web", db_url=url, channels=configured, extra=extra, role="web")
        workers = [
            Daemon(workdir=workdir / f"w{i}", db_url=url, channels=configured, extra=extra, role="worker", prepared=True) for i in range(2)
        ]
        nodes = [web, *workers]
    for node in nodes:
        node.workdir.mkdir(parents=True, exist_ok=True)
    try:
        token = await asyncio.to_thread(web.admin_token)
        for node in nodes:
            await asyncio.to_thread(node.start, wait=node is web)
        deadline = time.monotonic() + 60
        while not any("receiver running on this node" in n.output() for n in nodes):  # a worker took the spool lease
            if time.monotonic() > deadline:
                raise RuntimeError("no node took the channel leases")
            await asyncio.sleep(0.1)
        return await run(nodes, web, token, workdir, rate, seconds)
    finally:
        for node in nodes:
            await asyncio.to_thread(node.stop)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--topology", choices=["single", "cluster", "both"], default="both")
    args = parser.parse_args()
    slack = FakeSlack()
    await slack.start()
    slack.add_user("U0ANA", "Ana", "ana@example.com")
    telegram = FakeTelegram()
    results: dict[str, dict[str, float]] = {}
    try:
        with _Server(telegram):
            for name in ["single", "cluster"] if args.topology == "both" else [args.topology]:
                results[name] = await topology(name, args.rate, args.seconds, slack, telegram)
    finally:
        await slack.stop()
    print(f"{args.rate} msg/s offered for {args.seconds}s, round-robin over spool, Slack and Telegram")
    print(f"{'topology':28} {'visible':>9} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'RSS MiB':>8}")
    labels = {"single": "one node, SQLite", "cluster": "web + 2 workers, PostgreSQL"}
    for name, r in results.items():
        print(
            f"{labels[name]:28} {r['visible']:>5.0f}/{r['injected']:<4.0f}{r['throughput']:>7.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['max_ms']:>8.0f} {r['rss_mib']:>8.0f}"
        )
    if len(results) == 2:
        print(
            f"ratio cluster/single: throughput {results['cluster']['throughput'] / results['single']['throughput']:.2f}x, "
            f"p99 {results['cluster']['p99_ms'] / results['single']['p99_ms']:.2f}x"
        )


if __name__ == "__main__":
    asyncio.run(main())
