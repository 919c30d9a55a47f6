"""The agent's desk in real Chromium, as an agent in Mexico City on a phone sees it: inbox rows
in local time with names and previews, the unread count in the title kept live, a desktop
notification for a new message, undo after `e`, no page wider than the screen (English and
Spanish), the Spanish header on one line at 1366 px, and axe-core with no serious or critical
violation on every agent page visited.

SQLite only: what runs in the page does not depend on the database (the action tests cover both).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.fixtures.axe import axe_source, axe_violations
from tests.fixtures.browser import ARGS, CHROMIUM, browser  # noqa: F401
from tests.fixtures.daemon import ROOT, Daemon, daemon, wait_until  # noqa: F401
from tests.ui.test_ui_browser import PASSWORD, drop, shot

pytestmark = pytest.mark.browser

ZONE = "America/Mexico_City"
LONG = "Hola, my order 5521 was charged twice and the second charge is still pending on my card after a week " * 2
PAGES = ("/tickets", "/incidents", "/problems", "/dashboard", "/ui/kb", "/macros", "/notifications", "/account/password")
ADMIN_PAGES = ("/admin/channels", "/admin/agents", "/admin/rules", "/admin/canned", "/admin/tokens", "/admin/webhooks", "/admin/audit")
# Notifications as the page asks for them, recorded (the headless browser shows none).
FAKE_NOTIFICATION = """
window.__notes = [];
window.Notification = function (title, options) { window.__notes.push({ title: title, body: (options || {}).body }); };
window.Notification.permission = "default";
window.Notification.requestPermission = function () { window.Notification.permission = "granted"; return Promise.resolve("granted"); };
"""


@pytest.fixture
def desk(daemon: Daemon, tmp_path: Path) -> Daemon:
    axe_source()  # installed, or the test stops here
    daemon.channels = [
        {"name": "chat", "type": "spool", "inbox_dir": str(tmp_path / "in"), "outbox_dir": str(tmp_path / "out"), "poll_interval": 0.1}
    ]
    daemon.prepare()
    for email, name, role in (("rosa@example.com", "Rosa Admin", "admin"), ("ana@example.com", "Ana Agent", "agent")):
        daemon.cli("agents", "add", email, "--name", name, "--role", role, "--password-stdin", input=PASSWORD + "\n")
    daemon.start()
    return daemon


async def signed_in(browser: Any, node: Daemon, *, locale: str, width: int) -> Any:
    context = await browser.new_context(locale=locale, timezone_id=ZONE, viewport={"width": width, "height": 844})
    await context.add_init_script(FAKE_NOTIFICATION)
    page = await context.new_page()
    page.on("dialog", lambda d: d.accept())
    await page.goto(f"{node.url}/login")
    await page.locator("input[name=email]").fill("rosa@example.com")
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("form[action='/login'] button[type=submit]").click()
    await page.wait_for_url(f"{node.url}/")
    return page


async def page_width(page: Any) -> int:
    return int(await page.evaluate("document.documentElement.scrollWidth"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_an_agent_in_mexico_city_triages_on_a_phone_resolves_undoes_and_every_page_fits(
    browser: Any, desk: Daemon, tmp_path: Path
) -> None:
    inbox_dir = tmp_path / "in"
    drop(inbox_dir, id="d-1", **{"from": "v:20Z_0JfT9xkq"}, text=LONG)
    drop(inbox_dir, id="d-2", **{"from": "carla@example.com"}, name="Carla Ruiz", subject="Refund for order 5521", text="Charged twice")
    token = desk.cli("tokens", "create", "--agent", "rosa@example.com").stdout.strip()
    api = httpx.Client(base_url=f"{desk.url}/api/v1", headers={"Authorization": f"Bearer {token}"})
    wait_until(lambda: len(api.get("/conversations").json()["items"]) == 2, what="two conversations")
    listed = await asyncio.to_thread(api.get, "/conversations")
    items = {c["contact"]["display_name"]: c for c in listed.json()["items"]}
    carla = items["Carla Ruiz"]
    visitor_name = next(name for name in items if name.startswith("Visitor "))
    changed = await asyncio.to_thread(api.patch, f"/conversations/{carla['id']}", json={"assignee": "ana@example.com", "status": "pending"})
    changed.raise_for_status()

    problems: list[str] = []
    page = await signed_in(browser, desk, locale="en-US", width=390)
    rows = page.locator("tbody[data-rows-body] tr[data-id]")
    await page.goto(f"{desk.url}/?status=any")
    assert await rows.count() == 2
    assert await page.title() == "(2) Inbox · Frontdesk"
    text = await page.locator("tbody[data-rows-body]").inner_text()
    assert visitor_name in text and "v:20Z" not in text and "Carla Ruiz" in text
    assert "Ana Agent" in text and "ana@example.com" not in text
    assert LONG[:60] in text and LONG[:130] not in text  # the preview, cut at 120 characters
    # Local time, in the browser's zone: the element keeps the ISO instant, the text is Mexico City's.
    stamp = page.locator(f'tr[data-id="{carla["id"]}"] time[data-local]')
    instant = dt.datetime.fromisoformat(str(await stamp.get_attribute("datetime")))
    local = instant.astimezone(ZoneInfo(ZONE))
    assert local.strftime("%I:%M") in await stamp.inner_text() and "UTC" not in await stamp.inner_text()
    assert re.search(r"\d+ min|now|this minute", await page.locator(f'tr[data-id="{carla["id"]}"] .ago').inner_text())
    assert re.fullmatch(r"\d+ min", (await page.locator(f'tr[data-id="{carla["id"]}"] time[data-duration]').inner_text()).strip())
    assert await page_width(page) <= 390
    problems += await axe_violations(page)
    await shot(page, "desk-inbox-390")

    # Notifications: asked for by the button; a new customer message shows one and bumps the title.
    await page.get_by_role("button", name="Enable notifications").click()
    await page.wait_for_function("() => document.querySelector('[data-enable-notifications]').disabled")
    drop(inbox_dir, id="d-3", **{"from": "dan@example.com"}, name="Dan Ortiz", subject="Cannot sign in", text="Locked out")
    await page.wait_for_function("() => document.title === '(3) Inbox · Frontdesk'")
    await page.wait_for_function("() => window.__notes.length === 1")
    note = (await page.evaluate("window.__notes"))[0]
    assert note["title"] == "New message" and "Dan Ortiz" in note["body"] and "Cannot sign in" in note["body"]

    # `e` resolves the selected row; "Undo" puts back the status it had (pending).
    await page.goto(f"{desk.url}/?status=any")
    await page.locator(f'tr[data-id="{carla["id"]}"] td.st').click()  # selects the row, as j/k do
    await page.keyboard.press("e")
    toast = page.locator("[data-toast]")
    await toast.get_by_role("button", name="Undo").wait_for()
    wait_until(lambda: api.get(f"/conversations/{carla['id']}").json()["status"] == "resolved", what="resolved")
    await toast.get_by_role("button", name="Undo").click()
    await page.wait_for_function("() => document.querySelector('[data-toast-text]').textContent.indexOf('Undone') === 0")
    wait_until(lambda: api.get(f"/conversations/{carla['id']}").json()["status"] == "pending", what="back to pending")

    # Every agent page fits 390 px and passes axe, the conversation too (its log wraps the list).
    await page.goto(f"{desk.url}/conversations/{carla['id']}")
    assert await page.locator("[role=log] > ol.timeline").count() == 1
    for path in (f"/conversations/{carla['id']}", *PAGES, *ADMIN_PAGES):
        await page.goto(desk.url + path)
        assert await page_width(page) <= 390, path
        problems += await axe_violations(page)
    assert (await page.request.get(f"{desk.url}/favicon.ico")).headers["content-type"].startswith("image/svg+xml")
    missing = await page.goto(f"{desk.url}/no/such/page")
    assert missing is not None and missing.status == 404 and "text/html" in missing.headers["content-type"]
    await page.context.close()

    spanish = await signed_in(browser, desk, locale="es-ES", width=390)
    # Spanish words are longer: the pages with the most of them on one line.
    for path in (
        "/",
        f"/conversations/{carla['id']}",
        "/tickets",
        "/dashboard",
        "/ui/kb",
        "/admin/agents",
        "/admin/canned",
        "/admin/audit",
    ):
        await spanish.goto(desk.url + path)
        assert await page_width(spanish) <= 390, f"{path} (es)"
    await spanish.goto(f"{desk.url}/")
    problems += await axe_violations(spanish)
    await spanish.set_viewport_size({"width": 1366, "height": 800})
    await spanish.goto(f"{desk.url}/")
    tops = await spanish.evaluate(
        "[...document.querySelectorAll('header.top nav > a, header.top nav > details > summary')].map(a => Math.round(a.getBoundingClientRect().top))"
    )
    assert len(set(tops)) == 1, f"the Spanish navigation wraps at 1366 px: {tops}"
    await shot(spanish, "desk-inbox-es-1366")
    await spanish.context.close()
    assert not problems, json.dumps(problems, indent=1)
