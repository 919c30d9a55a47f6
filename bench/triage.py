"""Triage of 20 conversations in a real browser: how many clicks and how long it takes an
agent to know, for every conversation, who wrote, what it is about and how urgent it is.

A row that shows all three is triaged from the list; any other must be opened (a click)
and left again (a click back). Run it against any checkout (its daemon is the one started):

    python -m bench.triage [--shots DIR]     (from the checkout's root)

`--shots DIR` also saves the agent pages at 1280 and 390 px, in English and Spanish.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.daemon import Daemon, wait_until

PASSWORD = "correct horse battery"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SUBJECTLESS = ("(no subject)", "(sin asunto)")
INTERNAL = re.compile(r"\bv:[\w-]+")


def seed(workdir: Path) -> Daemon:
    node = Daemon(workdir=workdir, db_url=f"sqlite+aiosqlite:///{workdir / 'triage.db'}", prepared=False)  # a new file: migrate it
    node.channels = [
        {"name": "chat", "type": "spool", "inbox_dir": str(workdir / "in"), "outbox_dir": str(workdir / "out"), "poll_interval": 0.1}
    ]
    node.prepare()
    node.cli("agents", "add", "rosa@example.com", "--name", "Rosa Admin", "--role", "admin", "--password-stdin", input=PASSWORD + "\n")
    node.cli("agents", "add", "ana@example.com", "--name", "Ana Agent", "--role", "agent", "--password-stdin", input=PASSWORD + "\n")
    token = node.cli("tokens", "create", "--agent", "rosa@example.com").stdout.strip()
    node.start()
    inbox = workdir / "in"
    inbox.mkdir(exist_ok=True)
    for n in range(20):
        message: dict[str, str] = {
            "id": f"t-{n}",
            "text": f"Order {1000 + n}: the parcel has not arrived and the tracking page shows nothing since Monday.",
        }
        if n % 3 == 0:
            message["from"] = f"v:20Z_{uuid.uuid4().hex[:10]}"  # a chat visitor who gave no name
        else:
            message |= {"from": f"customer{n}@example.com", "name": f"Customer {n}"}
        if n % 4 == 0:
            message["subject"] = f"Refund for order {1000 + n}"
        name = uuid.uuid4().hex
        (inbox / f".{name}.tmp").write_text(json.dumps(message))
        (inbox / f".{name}.tmp").rename(inbox / f"{name}.json")
    api = httpx.Client(base_url=f"{node.url}/api/v1", headers={"Authorization": f"Bearer {token}"})
    wait_until(lambda: len(api.get("/conversations", params={"limit": 50}).json()["items"]) == 20, what="20 conversations")
    items = api.get("/conversations", params={"limit": 50}).json()["items"]
    for i, c in enumerate(items):
        if i % 5 == 1:
            api.patch(f"/conversations/{c['id']}", json={"assignee": "ana@example.com"}).raise_for_status()
        if i % 7 == 2:
            api.post(f"/conversations/{c['id']}/ticket", json={"kind": "incident", "priority": "P1"}).raise_for_status()
    return node


async def signed_in(browser: Any, node: Daemon, *, width: int, locale: str) -> Any:
    context = await browser.new_context(locale=locale, timezone_id="America/Mexico_City", viewport={"width": width, "height": 900})
    page = await context.new_page()
    page.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
    await page.goto(f"{node.url}/login")
    await page.locator("input[name=email]").fill("rosa@example.com")
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("form button[type=submit]").click()
    await page.wait_for_url(f"{node.url}/")
    return page


def triaged_from_row(text: str) -> bool:
    """Who, what and how urgent can all be read in the row."""
    who = not INTERNAL.search(text)
    what = not any(s in text for s in SUBJECTLESS)
    urgent = bool(re.search(r"\d+\s*(min|h|d)\b", text))  # a waiting time or an SLA due time
    return who and what and urgent


async def triage(browser: Any, node: Daemon) -> tuple[int, float, int]:
    page = await signed_in(browser, node, width=1280, locale="en-US")
    started = time.monotonic()
    clicks = opened = 0
    rows = page.locator("tbody[data-rows-body] tr[data-id]")
    for i in range(await rows.count()):
        row = rows.nth(i)
        if triaged_from_row(await row.inner_text()):
            continue
        opened += 1
        await row.locator("a").first.click()
        await page.wait_for_load_state("domcontentloaded")
        await page.locator("main").inner_text()  # read the thread
        await page.go_back()
        await page.wait_for_load_state("domcontentloaded")
        clicks += 2
    return clicks, time.monotonic() - started, opened


PAGES = (
    "/",
    "/?status=any&q=parcel",
    "/tickets",
    "/incidents",
    "/problems",
    "/dashboard",
    "/ui/kb",
    "/macros",
    "/admin/channels",
    "/admin/agents",
    "/admin/rules",
    "/admin/canned",
    "/admin/tokens",
    "/admin/webhooks",
    "/admin/audit",
    "/notifications",
    "/nowhere",
)


async def screenshots(browser: Any, node: Daemon, out: Path) -> None:
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    for locale in ("en-US", "es-ES"):
        for width in (1280, 390):
            page = await signed_in(browser, node, width=width, locale=locale)
            first = await page.locator("tbody[data-rows-body] tr[data-id] a").first.get_attribute("href")
            for path in (*PAGES, first):
                await page.goto(node.url + str(path))
                slug = re.sub(r"\W+", "_", str(path)).strip("_") or "inbox"
                await page.screenshot(path=str(out / f"{slug}-{locale[:2]}-{width}.png"), full_page=True)
                wide = await page.evaluate("document.documentElement.scrollWidth")
                if wide > width:
                    print(f"  {path} ({locale}, {width} px) is {wide} px wide")
            await page.context.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shots", type=Path)
    args = parser.parse_args()
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as tmp:
        node = seed(Path(tmp))
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                clicks, seconds, opened = await triage(browser, node)
                print(f"triage of 20 conversations: {clicks} clicks, {opened} opened, {seconds:.1f} s")
                if args.shots:
                    await screenshots(browser, node, args.shots)
                await browser.close()
        finally:
            node.stop()


if __name__ == "__main__":
    asyncio.run(main())
