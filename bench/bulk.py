"""Bulk changes and macros against single PATCHes, same run, through the HTTP API.

    .venv/bin/python bench/bulk.py [--conversations 10000] [--macro 1000] [--database-url URL]

Builds the conversations through the real ingest (SQLite in a temporary directory by
default; `--database-url` for a migrated PostgreSQL database of your own), then drives the
API in-process over ASGI (httpx's ASGITransport: the whole app, routing, validation and
actions, without a socket): one `POST /conversations/bulk` changing every conversation,
one applying a macro with a reply to `--macro` of them (idempotency key given), and
`--patches` single `PATCH /conversations/{id}` as the baseline. Prints the time per
conversation of each and the ratio to a single PATCH: compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # bench/email.py shadows the stdlib

import httpx  # noqa: E402

from channels.base import InboundMessage, Sender  # noqa: E402
from inbox import config as config_module  # noqa: E402
from inbox.auth import new_token  # noqa: E402
from inbox.pipeline.ingest import ChannelRef  # noqa: E402
from inbox.runtime.services import Services  # noqa: E402
from inbox.store import migrate  # noqa: E402
from inbox.store.models import Agent, Channel  # noqa: E402
from inbox.web.app import create_app  # noqa: E402


async def run(url: str, n: int, macro_n: int, patches: int) -> None:
    await migrate.upgrade(url)
    raw = {"server": {"secret_key": "b" * 40, "public_url": "http://127.0.0.1:8000"}, "database": {"url": url}, "channels": []}
    svc = Services.build(config_module.parse(raw, "bench.toml", {}))
    async with svc.db.transaction() as session:
        channel = Channel(name="bench-mail", type="email", settings={})
        agent = Agent(email="bench@example.com", name="Bench", role="admin")
        session.add_all([channel, agent])
        await session.flush()
        token, row = new_token(agent.id, "bench")
        session.add(row)
        ref = ChannelRef(channel.id, channel.name, channel.type)
    started = time.perf_counter()
    ids: list[int] = []
    for start in range(0, n, 500):
        batch = [
            InboundMessage(
                external_id=f"b{i}",
                sender=Sender(address=f"c{i}@example.com", name=f"Customer {i}", email=f"c{i}@example.com"),
                text="Help",
                subject=f"Case {i}",
            )
            for i in range(start, min(n, start + 500))
        ]
        ids.extend(r.conversation_id for r in await svc.ingestor.ingest(ref, batch))
    print(f"ingested {len(ids)} conversations in {time.perf_counter() - started:.1f} s")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(svc)), base_url="http://bench", timeout=None) as client:
        started = time.perf_counter()
        for cid in ids[:patches]:
            response = await client.patch(f"/api/v1/conversations/{cid}", headers=headers, json={"priority": "P3"})
            assert response.status_code == 200, response.text
        patch = (time.perf_counter() - started) / patches
        started = time.perf_counter()
        response = await client.post(
            "/api/v1/conversations/bulk", headers=headers, json={"ids": ids, "changes": {"status": "pending", "add_tags": ["bench"]}}
        )
        assert response.status_code == 200 and response.json()["updated"] == len(ids), response.text
        bulk = (time.perf_counter() - started) / len(ids)
        made = await client.post(
            "/api/v1/macros",
            headers=headers,
            json={"name": "Ack", "actions": [{"reply": "Hello {{contact.first_name}}"}, {"status": "open"}]},
        )
        started = time.perf_counter()
        response = await client.post(
            "/api/v1/conversations/bulk",
            headers={**headers, "Idempotency-Key": "bench"},
            json={"ids": ids[:macro_n], "macro": made.json()["id"]},
        )
        assert response.status_code == 200 and response.json()["updated"] == macro_n, response.text
        macro = (time.perf_counter() - started) / macro_n
    await svc.db.dispose()
    print(f"single PATCH:             {patch * 1000:8.3f} ms per conversation (x{patches})")
    print(f"bulk change ({len(ids)}):     {bulk * 1000:8.3f} ms per conversation  ratio {bulk / patch:.3f}")
    print(f"bulk macro+reply ({macro_n}): {macro * 1000:8.3f} ms per conversation  ratio {macro / patch:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--macro", type=int, default=1_000)
    parser.add_argument("--patches", type=int, default=200)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    tmp = None
    url = args.database_url
    if not url:
        tmp = tempfile.mkdtemp(prefix="fd-bench-bulk-")
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
    try:
        asyncio.run(run(url, args.conversations, min(args.macro, args.conversations), min(args.patches, args.conversations)))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
