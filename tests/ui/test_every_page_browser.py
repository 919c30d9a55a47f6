"""Every agent page in real Chromium, in English and Spanish, at 1366 and 390 px: axe-core
finds no serious or critical violation and no page is wider than a 390 px phone. The list of
pages is checked against the UI's routers, so a new page cannot be left out. The header's
sections are all in view or one click away (the "More" menu, opened and closed from the
keyboard) at 1280, 1366 and 390 px.

One daemon and one browser for the module (SQLite: what runs in the page does not depend on
the database). FRONTDESK_SCREENSHOTS=1 saves every page at both widths in both languages.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from fastapi.routing import APIRoute

from tests.fixtures.axe import axe_source, axe_violations
from tests.fixtures.browser import ARGS, CHROMIUM
from tests.fixtures.daemon import Daemon, wait_until
from tests.fixtures.databases import clone_sqlite
from tests.fixtures.services import require_binary
from tests.ui.test_ui_browser import PASSWORD, drop, shot

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# GET routes of the UI routers that are not agent pages: sign-in, links for people without
# an account, fragments and JSON for the pages' own scripts, a redirect.
NOT_PAGES = {
    "/login",
    "/login/once/{token}",
    "/changes/decide/{token}",
    "/inbox/rows",
    "/inbox/tabs",
    "/ui/agents.json",
    "/conversations/{conversation_id}/timeline",
    "/admin",
}
LOGIN = {"en-US": ("Email", "Password", "Sign in"), "es-ES": ("Correo electrónico", "Contraseña", "Iniciar sesión")}


def ui_page_routes() -> set[str]:
    """The path of every GET route the agent UI's routers serve."""
    from inbox.web.ui.routes import page_routers

    return {
        route.path
        for router in page_routers()
        for route in router.routes
        if isinstance(route, APIRoute) and "GET" in route.methods and route.path not in NOT_PAGES
    }


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Daemon]:
    axe_source()  # installed, or the module stops here
    work = tmp_path_factory.mktemp("every-page")
    daemon = Daemon(workdir=work, db_url=clone_sqlite(sqlite_template, work))
    daemon.channels = [
        {"name": "chat", "type": "spool", "inbox_dir": str(work / "in"), "outbox_dir": str(work / "out"), "poll_interval": 0.1}
    ]
    daemon.prepare()
    daemon.cli("agents", "add", "rosa@example.com", "--name", "Rosa Admin", "--role", "admin", "--password-stdin", input=PASSWORD + "\n")
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def pages(node: Daemon) -> dict[str, str]:
    """Something on every page (a conversation of each kind, a ticket, an incident, a problem,
    an organization, a service, an item, a change, a macro, an article, a quarantined file),
    and the address of each page by its route."""
    inbox_dir = node.workdir / "in"
    drop(inbox_dir, id="p-1", **{"from": "v:20Z_0JfT9xkq"}, text="Hola, el pago de mi pedido 5521 se cobró dos veces. " * 4)
    drop(inbox_dir, id="p-2", **{"from": "carla@example.com"}, name="Carla Ruiz", subject="Refund for order 5521", text="Charged twice")
    drop(inbox_dir, id="p-3", **{"from": "dan@example.com"}, name="Dan Ortiz", subject="The site is down", text="Nothing loads")
    inbox_dir.joinpath("broken.json").write_text("{not json")
    token = node.cli("tokens", "create", "--agent", "rosa@example.com").stdout.strip()
    api = httpx.Client(base_url=f"{node.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    wait_until(lambda: len(api.get("/conversations").json()["items"]) == 3, what="three conversations")
    wait_until(lambda: bool(api.get("/quarantine").json()["items"]), what="the broken file quarantined")

    def made(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = api.post(path, json=body)
        assert answer.status_code in (200, 201), f"{path}: {answer.text}"
        result: dict[str, Any] = answer.json()
        return result

    by_subject = {c["subject"]: c for c in api.get("/conversations").json()["items"]}
    visitor = by_subject[None]
    request = made(f"/conversations/{by_subject['Refund for order 5521']['id']}/ticket", {"kind": "request", "notify": False})
    incident = made(
        f"/conversations/{by_subject['The site is down']['id']}/ticket", {"kind": "incident", "impact": "high", "urgency": "high"}
    )
    problem = made("/problems", {"title": "Card charged twice", "incidents": [incident["id"]]})
    organization = made("/organizations", {"name": "Example Corp", "domains": ["example.com"]})
    service = made("/services", {"name": "Billing", "criticality": "high"})
    item = made("/config-items", {"name": "billing-db", "kind": "database", "service": "Billing"})
    change = made("/changes", {"title": "Upgrade the billing database", "items": ["billing-db"], "backout_plan": "Restore the snapshot"})
    macro = made("/macros", {"name": "Thanks", "actions": [{"reply": "Thanks, {{contact.first_name}}!"}, {"status": "resolved"}]})
    article = made("/kb/articles", {"title": "Reset your password", "body": "Open **Account**.", "status": "published"})
    quarantined = api.get("/quarantine").json()["items"][0]
    ids = {
        "conversation_id": visitor["id"],
        "contact_id": visitor["contact"]["id"],
        "ticket_id": request["id"],
        "problem_id": problem["id"],
        "org_id": organization["id"],
        "service_id": service["id"],
        "item_id": item["id"],
        "change_id": change["id"],
        "macro_id": macro["id"],
        "article_id": article["id"],
    }
    addresses = {path: path.format(**ids) for path in ui_page_routes()}
    addresses["/admin/quarantine/{item_id}"] = f"/admin/quarantine/{quarantined['id']}"
    # Pages a route serves in more than one shape: an incident's ticket page, a change's
    # calendar month, the error page.
    addresses["incident"] = f"/tickets/{incident['id']}"
    addresses["conversation (ticket)"] = f"/conversations/{by_subject['Refund for order 5521']['id']}"
    addresses["not found"] = "/no/such/page"
    return addresses


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Any]:
    require_binary(CHROMIUM, "chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


async def signed_in(chromium: Any, node: Daemon, locale: str) -> Any:
    context = await chromium.new_context(locale=locale, timezone_id="America/Mexico_City", viewport={"width": 1366, "height": 860})
    page = await context.new_page()
    page.on("dialog", lambda d: d.dismiss())
    await page.goto(f"{node.url}/login")
    email, password, button = LOGIN[locale]
    await page.get_by_label(email).fill("rosa@example.com")
    await page.get_by_label(password).fill(PASSWORD)
    await page.get_by_role("button", name=button).click()
    await page.wait_for_url(f"{node.url}/")
    return page


async def test_the_sweep_names_every_agent_page_of_the_routers() -> None:
    routes = ui_page_routes()
    # What this file knows how to fill in; a new page needs its id above (or in NOT_PAGES).
    for path in routes:
        assert all(
            part
            in {
                "conversation_id",
                "contact_id",
                "ticket_id",
                "problem_id",
                "org_id",
                "service_id",
                "item_id",
                "change_id",
                "macro_id",
                "article_id",
            }
            for part in _parameters(path)
        ), path
    assert {"/", "/dashboard", "/admin/channels", "/admin/webhooks", "/admin/request_types", "/incidents/suggestions"} <= routes


def _parameters(path: str) -> list[str]:
    return [piece[1:-1] for piece in path.split("/") if piece.startswith("{")]


@pytest.mark.parametrize("locale", ["en-US", "es-ES"])
async def test_every_agent_page_passes_axe_and_fits_a_phone(chromium: Any, node: Daemon, pages: dict[str, str], locale: str) -> None:
    page = await signed_in(chromium, node, locale)
    problems: list[str] = []
    for width in (1366, 390):
        await page.set_viewport_size({"width": width, "height": 860})
        for name, path in sorted(pages.items()):
            answer = await page.goto(node.url + path)
            assert answer is not None and answer.status == (404 if name == "not found" else 200), f"{path}: {answer and answer.status}"
            wide = int(await page.evaluate("document.documentElement.scrollWidth"))
            if wide > width:
                problems.append(f"{path} ({locale}, {width} px) is {wide} px wide")
            problems += [f"{width} px: {v}" for v in await axe_violations(page)]
            await shot(page, f"every-{locale[:2]}-{width}-{_slug(name)}")
    await page.context.close()
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)


@pytest.mark.parametrize("locale", ["en-US", "es-ES"])
async def test_every_section_of_the_header_is_in_view_or_one_click_away(chromium: Any, node: Daemon, locale: str) -> None:
    page = await signed_in(chromium, node, locale)
    more = {"en-US": "More", "es-ES": "Más"}[locale]
    for width in (1280, 1366, 390):
        await page.set_viewport_size({"width": width, "height": 860})
        await page.goto(f"{node.url}/macros")
        assert int(await page.evaluate("document.documentElement.scrollWidth")) <= width, f"{width} px"
        # The daily sections are in view, inside the window, on no scrolled strip.
        shown = await page.evaluate(
            """() => [...document.querySelectorAll('header.top nav > a')].map(a => {
                 const r = a.getBoundingClientRect(); return [a.textContent.trim(), r.left >= 0 && r.right <= innerWidth && r.width > 0]; })"""
        )
        assert shown and all(ok for _, ok in shown), f"{width} px: {shown}"
        summary = page.locator("header.top details[data-navmore] > summary")
        assert (await summary.inner_text()).strip().startswith(more)
        # The menu names the current page (Macros lives in it).
        assert await page.locator("header.top details[data-navmore] a[aria-current=page]").count() == 1
        # Keyboard: focus the summary, Enter opens, the links are in the window; Escape closes.
        await summary.focus()
        await page.keyboard.press("Enter")
        links = page.locator("header.top details[data-navmore] ul a")
        await links.first.wait_for(state="visible")
        boxes = await links.evaluate_all("as => as.map(a => { const r = a.getBoundingClientRect(); return [r.left, r.right]; })")
        assert len(boxes) == 6 and all(left >= 0 and right <= width for left, right in boxes), f"{width} px: {boxes}"
        await shot(page, f"nav-{locale[:2]}-{width}-open")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Escape")
        assert not await links.first.is_visible()
        assert await page.evaluate("document.activeElement.tagName") == "SUMMARY"
        # A click opens it; a click elsewhere closes it; a link in it is one click away.
        await summary.click()
        await page.mouse.click(width - 10, 800)
        assert not await links.first.is_visible()
        await summary.click()
        await links.last.click()
        await page.wait_for_url(f"{node.url}/admin/channels")
    await page.context.close()


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name).strip("-") or "inbox"


async def test_a_row_is_resolved_from_its_own_button_by_keyboard_undone_and_snoozed_until_a_local_time(
    chromium: Any, node: Daemon, pages: dict[str, str]
) -> None:
    token = node.cli("tokens", "create", "--agent", "rosa@example.com").stdout.strip()
    api = httpx.Client(base_url=f"{node.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def shown(cid: int | None = None) -> Any:
        """The conversation (or the list) as the API shows it now."""
        return api.get("/conversations" + (f"/{cid}" if cid else "")).json()

    visitor = next(c for c in (await asyncio.to_thread(shown))["items"] if c["subject"] is None)
    page = await signed_in(chromium, node, "en-US")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{node.url}/?status=any")
    # Keyboard: Tab reaches the row's button (named after what the row is about), Enter resolves.
    button = page.get_by_role("button", name=f"Resolve {visitor['contact']['display_name']}")
    await button.focus()
    await page.keyboard.press("Enter")
    undo = page.locator("[data-toast]").get_by_role("button", name="Undo")
    await undo.wait_for()
    wait_until(lambda: shown(visitor["id"])["status"] == "resolved", what="resolved")
    assert await page.evaluate("document.activeElement.hasAttribute('data-undo')")  # focus goes to Undo
    await page.keyboard.press("Enter")
    await page.wait_for_function("() => document.querySelector('[data-toast-text]').textContent.indexOf('Undone') === 0")
    wait_until(lambda: shown(visitor["id"])["status"] == "open", what="back to open")
    assert int(await page.evaluate("document.documentElement.scrollWidth")) <= 390

    # Snooze until a time typed in the browser's zone (Mexico City); shown in it; a past time refused.
    await page.goto(f"{node.url}/conversations/{visitor['id']}")
    zone = ZoneInfo("America/Mexico_City")
    wanted = (dt.datetime.now(zone) + dt.timedelta(days=2)).replace(hour=9, minute=30, second=0, microsecond=0)
    await page.locator("#f-until").fill(wanted.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Save", exact=True).click()
    heading = page.get_by_role("heading", name="Snoozed until")
    await heading.wait_for()
    await heading.locator("time[title]").wait_for()  # desk.js has put it in local time (the server writes UTC)
    now = await asyncio.to_thread(shown, visitor["id"])
    assert now["status"] == "snoozed" and dt.datetime.fromisoformat(now["snoozed_until"]) == wanted
    assert "9:30" in await heading.inner_text()  # Mexico City's time, not UTC's 15:30
    await shot(page, "snooze-until-390")
    past = (dt.datetime.now(zone) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    await page.locator("#s-until").fill(past)
    await page.get_by_role("button", name="Change").click()
    await page.get_by_text("Choose a time in the future.").wait_for()
    assert await page.locator("#s-until").input_value() == past
    assert await page.locator("#s-until").get_attribute("aria-invalid") == "true"
    assert dt.datetime.fromisoformat((await asyncio.to_thread(shown, visitor["id"]))["snoozed_until"]) == wanted
    problems = await axe_violations(page)
    await shot(page, "snooze-until-refused-390")
    await page.get_by_role("button", name="Cancel snooze").click()
    await page.get_by_role("heading", name="Snoozed until").wait_for(state="detached")
    assert (await asyncio.to_thread(shown, visitor["id"]))["status"] == "open"
    await page.context.close()
    assert not problems, problems
