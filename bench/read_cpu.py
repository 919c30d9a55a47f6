"""CPU per request of the read paths on a kept `bench/scale.py` desk, in process.

    python -m bench.read_cpu DIR [--n 20] [--only contact,search] [--profile STEM]   (from the checkout's root)

DIR is a desk kept by `bench/scale.py --keep` (DIR holds `desk.json` and `frontdesk.toml`,
e.g. /srv/desk/sqlite); its config's secret comes from FRONTDESK_SECRET_KEY. The app is
built from that config and driven through httpx's ASGI transport (no HTTP server, no
migrations run): the same requests as the scale run's classes — the contact with 300
conversations (as an admin), the seven searches and four inbox lists (as agent00, so
visibility applies), the conversation with 2,000 messages and its first page of messages
(as an admin). Each class is warmed once, then run `--n` times; the figure is this
process's CPU time (`time.process_time`: every thread, so on SQLite the statements' own
work in the driver's thread is included; on PostgreSQL the server's is not) per request.
Unlike latencies it hardly depends on what else runs on the machine — but a loaded
machine still inflates it, so compare before and after in the same minutes.
`--profile STEM` writes a cProfile of each class to STEM-CLASS.prof.

The first run makes two tokens (agent00 and the desk's admin) and keeps them in DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx

QUERIES = ("quokka", "order", "tracking number", "refun", "facturacion")
INBOX = (
    {"status": "open"},
    {"status": "open", "assignee": "me"},
    {"status": "open", "assignee": "none"},
    {"status": "open", "team": "Billing"},
)


async def _tokens(services: Any, folder: Path) -> dict[str, str]:
    from inbox.actions import tokens
    from inbox.actions.runner import CLI

    kept = folder / "read_cpu_tokens.json"
    if kept.exists():
        made: dict[str, str] = json.loads(kept.read_text())
        return made
    made = {
        "agent": await tokens.create_token(services.ctx, CLI, "agent00@desk.example", "read_cpu"),
        "admin": await tokens.create_token(services.ctx, CLI, "root@desk.example", "read_cpu"),
    }
    kept.write_text(json.dumps(made))
    return made


async def run(folder: Path, n: int, only: set[str] | None, profile: str | None) -> dict[str, float]:
    from inbox import config
    from inbox.runtime.services import Services
    from inbox.web.app import create_app

    desk = json.loads((folder / "desk.json").read_text())
    services = Services.build(config.load(str(folder / "frontdesk.toml")))
    figures: dict[str, float] = {}
    try:
        tokens = await _tokens(services, folder)
        app = create_app(services)
        app.state.api_limiter.limit = 10**9  # a closed loop, not an abuser
        transport = httpx.ASGITransport(app=app)
        agent = httpx.AsyncClient(transport=transport, base_url="http://bench", headers={"Authorization": f"Bearer {tokens['agent']}"})
        admin = httpx.AsyncClient(transport=transport, base_url="http://bench", headers={"Authorization": f"Bearer {tokens['admin']}"})
        conversations = "/api/v1/conversations"
        big = desk["big_conversation"]
        searches = [*QUERIES, str(desk["ticket_number"]), desk["email"]]
        classes: dict[str, list[tuple[httpx.AsyncClient, str, dict[str, str]]]] = {
            "contact": [(admin, f"/api/v1/contacts/{desk['busy_contact']}", {})],
            "search": [(agent, conversations, {"q": q}) for q in searches],
            "inbox": [(agent, conversations, params) for params in INBOX],
            "conversation": [(admin, f"{conversations}/{big}", {}), (admin, f"{conversations}/{big}/messages", {"limit": "100"})],
        }
        for name, requests in classes.items():
            if only and name not in only:
                continue
            for client, path, params in requests:  # warm: statements cached, pages in memory
                response = await client.get(path, params=params)
                response.raise_for_status()
            profiler = cProfile.Profile() if profile else None
            started = time.process_time()
            if profiler:
                profiler.enable()
            for _ in range(n):
                for client, path, params in requests:
                    await client.get(path, params=params)
            if profiler:
                profiler.disable()
                profiler.dump_stats(f"{profile}-{name}.prof")
            figures[name] = round((time.process_time() - started) / (n * len(requests)) * 1000, 1)
            print(f"{name}: {figures[name]} ms CPU per request", flush=True)
    finally:
        await services.db.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("desk", type=Path, help="a desk kept by bench/scale.py (DIR/DATABASE)")
    parser.add_argument("--n", type=int, default=20, help="times each request of a class is run")
    parser.add_argument("--only", help="comma-separated classes: contact,search,inbox,conversation")
    parser.add_argument("--profile", help="write a cProfile of each class to PROFILE-CLASS.prof")
    args = parser.parse_args()
    os.environ.setdefault("FRONTDESK_SECRET_KEY", "daemon-test-secret-0123456789")  # the scale run's desks
    only = set(args.only.split(",")) if args.only else None
    asyncio.run(run(args.desk, args.n, only, args.profile))


if __name__ == "__main__":
    main()
