"""The reports at scale: seed a database with N conversations straight into the tables
(tickets with due times on half of them, ratings on a fifth of the resolved, M messages,
one contact with 300 conversations), then time what issue 23 asks of the reports:

- `GET /api/v1/reports` for 30 and 365 days (best and median of 3, and the CPU time of the
  query alone, which is what an idle machine would take);
- `GET /api/v1/reports/conversations.csv` streamed over real HTTP (uvicorn on loopback):
  rows per second and the process's peak RSS after 10 % and after all of the conversations;
- the GDPR erasure of the contact with 300 conversations (`erase_contact`, the action the
  API and the CLI call).

    python -m bench.reports sqlite+aiosqlite:////tmp/reports.db --seed 150000 --messages 1000000
    python -m bench.reports postgresql+asyncpg://postgres@127.0.0.1/reports --seed 150000

Without `--seed` it times an already seeded database. The erasure runs last (it empties the
contact's messages; running it again erases nothing new but times the same statements).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import resource
import statistics
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import Connection, insert
from sqlalchemy.ext.asyncio import create_async_engine

from inbox.actions.privacy import erase_contact
from inbox.actions.runner import CLI
from inbox.queries import reports
from inbox.runtime.services import Services
from inbox.store import migrate
from inbox.store.models import Agent, Channel, Contact, Conversation, CsatSurvey, Message, Team, Ticket
from tests.fixtures.inbox import add_agent, make_config

BATCH = 10_000


def seed(conn: Connection, conversations: int, messages: int) -> None:
    rnd = random.Random(7)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    conn.execute(
        insert(Channel),
        [
            {"name": n, "type": t, "settings": {}}
            for n, t in (("mail", "email"), ("chat", "widget"), ("tg", "telegram"), ("slack", "slack"))
        ],
    )
    conn.execute(insert(Team), [{"name": f"Team {i}"} for i in range(6)])
    conn.execute(insert(Agent), [{"email": f"agent{i}@example.com", "name": f"Agent {i}", "role": "agent"} for i in range(40)])
    contacts = max(2, conversations // 3)
    for start in range(0, contacts, BATCH):
        conn.execute(
            insert(Contact),
            [{"name": f"C {i}", "email": f"c{i}@example.com", "tags": []} for i in range(start, min(contacts, start + BATCH))],
        )
    rows: list[dict[str, Any]] = []
    tickets: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    number = 0
    for cid in range(1, conversations + 1):
        created = now - dt.timedelta(seconds=rnd.randint(0, 400 * 86400))
        first = created + dt.timedelta(seconds=rnd.randint(60, 20_000)) if rnd.random() < 0.9 else None
        resolved = created + dt.timedelta(seconds=rnd.randint(600, 300_000)) if rnd.random() < 0.7 else None
        rows.append(
            {
                "id": cid,
                "channel_id": rnd.randint(1, 4),
                "contact_id": 1 if cid <= 300 else rnd.randint(2, contacts),
                "subject": f"Subject {cid}",
                "status": "resolved" if resolved else "open",
                "assignee_id": rnd.randint(1, 40) if rnd.random() < 0.85 else None,
                "team_id": rnd.randint(1, 6) if rnd.random() < 0.9 else None,
                "tags": ["a", "b"],
                "meta": {},
                "first_response_at": first,
                "resolved_at": resolved,
                "last_message_at": created,
                "created_at": created,
                "updated_at": created,
            }
        )
        if rnd.random() < 0.5:
            number += 1
            tickets.append(
                {
                    "number": number,
                    "conversation_id": cid,
                    "kind": "request",
                    "title": "t",
                    "status": "resolved" if resolved else "open",
                    "priority": "P3",
                    "first_response_due": created + dt.timedelta(hours=4),
                    "resolution_due": created + dt.timedelta(days=2),
                    "resolved_at": resolved,
                    "pauses": [],
                    "sla_flags": [],
                    "created_at": created,
                    "updated_at": created,
                }
            )
        if resolved and rnd.random() < 0.2:
            ratings.append(
                {
                    "conversation_id": cid,
                    "channel_id": 1,
                    "rating": rnd.randint(1, 5),
                    "rated_at": resolved,
                    "requested_at": resolved,
                    "expires_at": resolved,
                }
            )
        if len(rows) >= BATCH or cid == conversations:
            conn.execute(insert(Conversation), rows)
            for table, batch in ((Ticket, tickets), (CsatSurvey, ratings)):
                if batch:
                    conn.execute(insert(table), batch)
            rows, tickets, ratings = [], [], []
    per = max(1, messages // conversations)
    batch: list[dict[str, Any]] = []
    mid = 0
    for cid in range(1, conversations + 1):
        for k in range(per):
            mid += 1
            inbound = k % 2 == 0
            batch.append(
                {
                    "id": mid,
                    "conversation_id": cid,
                    "channel_id": 1,
                    "external_id": f"m{mid}",
                    "direction": "in" if inbound else "out",
                    "author_type": "contact" if inbound else "agent",
                    "contact_id": 1 if cid <= 300 and inbound else None,
                    "text": "hello there " * 5,
                    "meta": {},
                    "created_at": now,
                }
            )
        if len(batch) >= 2 * BATCH or cid == conversations:
            conn.execute(insert(Message), batch)
            batch = []


async def seeded(url: str, conversations: int, messages: int) -> None:
    await migrate.upgrade(url)
    engine = create_async_engine(url)
    started = time.perf_counter()
    async with engine.begin() as conn:
        await conn.run_sync(seed, conversations, messages)
    await engine.dispose()
    print(f"seeded {conversations:,} conversations and about {messages:,} messages in {time.perf_counter() - started:.0f}s")


async def timed(url: str) -> None:
    import uvicorn

    from inbox.web.app import create_app

    svc = Services.build(make_config(url))
    _, token = await add_agent(svc, f"bench-{uuid.uuid4().hex[:6]}@example.com", role="admin")
    headers = {"Authorization": f"Bearer {token}"}
    today = dt.datetime.now(dt.UTC).date()
    for days in (30, 365):
        filters = reports.ReportFilter(today - dt.timedelta(days=days - 1), today)
        cpu = []
        for _ in range(3):
            began = time.process_time()
            await svc.db.query(lambda s, f=filters: reports.report(s, None, f, dt.datetime.now(dt.UTC)))
            cpu.append(time.process_time() - began)
        print(f"report query {days}d: CPU best {min(cpu):.3f}s")

    server = uvicorn.Server(uvicorn.Config(create_app(svc), host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=600) as client:
        for days in (30, 365):
            params = {"from": (today - dt.timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}
            wall = []
            for _ in range(3):
                began = time.perf_counter()
                answer = await client.get("/api/v1/reports", params=params)
                wall.append(time.perf_counter() - began)
                answer.raise_for_status()
            total = answer.json()["totals"]["conversations"]
            print(f"GET /api/v1/reports {days}d: {total:,} conversations, best {min(wall):.3f}s, median {statistics.median(wall):.3f}s")
        for days in (40, 400):
            params = {"from": (today - dt.timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}
            began, lines = time.perf_counter(), 0
            async with client.stream("GET", "/api/v1/reports/conversations.csv", params=params) as answer:
                async for chunk in answer.aiter_bytes():
                    lines += chunk.count(b"\n")
            took = time.perf_counter() - began
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"CSV {days}d: {lines - 1:,} rows in {took:.1f}s = {(lines - 1) / took:,.0f} rows/s; peak RSS {peak:.0f} MiB")
    server.should_exit = True
    await serving

    began, cpu_began = time.perf_counter(), time.process_time()
    counts = await erase_contact(svc.ctx, CLI, "1")
    print(f"erase contact 1: {counts} in {time.perf_counter() - began:.3f}s (CPU {time.process_time() - cpu_began:.3f}s)")
    await svc.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="database URL (SQLAlchemy async driver)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="seed N conversations first (into an empty database)")
    parser.add_argument("--messages", type=int, default=1_000_000, metavar="M", help="about M messages with --seed")
    args = parser.parse_args()
    if args.seed:
        asyncio.run(seeded(args.url, args.seed, args.messages))
    asyncio.run(timed(args.url))


if __name__ == "__main__":
    main()
