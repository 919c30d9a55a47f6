"""The service desk's pages in real Chromium (issue 21): services and configuration items
(create, a dependency, a cycle refused with a clear message, the impact view), changes
(create, approve, the calendar with a conflict) and the public status page in English and
Spanish; axe-core with no serious or critical violation on each, at 1366 and 390 px, and no
page wider than a 390 px phone.

SQLite only: what runs in the page does not depend on the database (the action tests cover both).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.axe import axe_violations
from tests.fixtures.browser import browser  # noqa: F401
from tests.fixtures.daemon import Daemon, daemon, wait_until  # noqa: F401
from tests.ui.test_desk_browser import desk, page_width, signed_in  # noqa: F401
from tests.ui.test_ui_browser import drop, shot

pytestmark = pytest.mark.browser


def local(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")


async def check(page: Any, width: int, name: str, problems: list[str]) -> None:
    """axe-core, the page's width, and a screenshot."""
    problems += await axe_violations(page)
    assert await page_width(page) <= width, f"{page.url} is wider than {width} px"
    await shot(page, f"{name}-{width}")


async def create_nodes(page: Any, url: str) -> None:
    """pg-main (a database), Checkout (high) depending on it, through the services page's forms."""
    await page.goto(f"{url}/services")
    item = page.locator("form[action='/config-items']")
    await item.locator("#c-name").fill("pg-main")
    await item.locator("#c-kind").select_option("database")
    await item.locator("button[type=submit]").click()
    await page.wait_for_url(f"{url}/config-items/*")  # the new item's page
    await page.goto(f"{url}/services")
    service = page.locator("form[action='/services']")
    await service.locator("#s-name").fill("Checkout")
    await service.locator("#s-crit").select_option("high")
    await service.locator("#s-deps").fill("pg-main")
    await service.locator("button[type=submit]").click()
    await page.wait_for_url(f"{url}/services/*")
    assert "pg-main" in await page.locator("section[aria-labelledby='impact-h']").inner_text()
    await page.goto(f"{url}/services")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_services_changes_and_the_status_page_in_a_browser(browser: Any, desk: Daemon, tmp_path: Path) -> None:  # noqa: F811
    problems: list[str] = []
    token = desk.cli("tokens", "create", "--agent", "rosa@example.com").stdout.strip()
    api = httpx.Client(base_url=f"{desk.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)

    page = await signed_in(browser, desk, locale="en-US", width=1366)
    await create_nodes(page, desk.url)
    await check(page, 1366, "services", problems)
    assert "pg-main" in await page.locator("table.svc").first.inner_text()

    # A dependency back from pg-main to Checkout would close a cycle: refused, and said so.
    await page.get_by_role("link", name="pg-main").click()
    await page.locator("#e-deps").fill("Checkout")
    await page.locator("form[action^='/config-items/'] button[type=submit]").last.click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    said = await alert.inner_text()
    assert "cycle" in said and "Checkout" in said and "pg-main" in said, said
    assert await page.locator("#e-deps").input_value() == "Checkout"  # the form as typed
    await check(page, 1366, "service-cycle", problems)
    # The impact view: what depends on pg-main (Checkout, at distance 1).
    impact = await page.locator("section[aria-labelledby='impact-h']").inner_text()
    assert "Checkout" in impact and "hops 1" in impact, impact
    await check(page, 1366, "config-item", problems)

    # A change on pg-main, sent for approval and approved by its approver.
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    await page.goto(f"{desk.url}/changes/new")
    await check(page, 1366, "change-form", problems)
    await page.locator("#f-title").fill("Upgrade pg-main to 17")
    await page.locator("#f-type").select_option("normal")
    await page.locator("#f-items").fill("pg-main")
    await page.locator("#f-start").fill(local(start))
    await page.locator("#f-end").fill(local(start + dt.timedelta(hours=2)))
    await page.locator("#f-approvers").fill("rosa@example.com")
    await page.locator("#f-backout").fill("restore the snapshot")
    await page.get_by_role("button", name="Save").click()
    await page.get_by_role("heading", name="Upgrade pg-main to 17").first.wait_for()
    change_url = page.url
    for step in ("Send to assessment", "Request approval"):
        await page.get_by_role("button", name=step).click()
        await page.wait_for_load_state()
    await page.get_by_role("button", name="Approve").click()
    await page.get_by_text("Your decision was recorded.").wait_for()
    body = await page.locator("main").inner_text()
    assert "Scheduled" in body and "touches Checkout (high criticality): +3" in body
    await check(page, 1366, "change", problems)

    # A second change on Checkout in the same window: the calendar shows the conflict.
    other = await asyncio.to_thread(
        api.post,
        "/changes",
        json={
            "title": "Checkout deploy",
            "type": "standard",
            "items": ["Checkout"],
            "planned_start": (start + dt.timedelta(hours=1)).isoformat(),
            "planned_end": (start + dt.timedelta(hours=3)).isoformat(),
        },
    )
    assert other.status_code == 201, other.text
    await page.goto(f"{desk.url}/changes/calendar?month={start.strftime('%Y-%m')}")
    calendar = await page.locator("main").inner_text()
    assert "Conflicts with" in calendar and "Checkout deploy" in calendar and "Upgrade pg-main to 17" in calendar
    await check(page, 1366, "change-calendar", problems)

    # The public status page, in English and Spanish: it lists the services customers subscribe to.
    drop(tmp_path / "in", id="s-1", **{"from": "carla@example.com"}, name="Carla Ruiz", subject="Checkout?", text="Is it down?")
    conversations = await asyncio.to_thread(wait_until, lambda: api.get("/conversations").json()["items"], what="Carla's conversation")
    services = (await asyncio.to_thread(api.get, "/services")).json()["items"]
    checkout = next(s for s in services if s["name"] == "Checkout")
    subscriber = {"contact_id": conversations[0]["contact"]["id"]}
    subscribed = await asyncio.to_thread(api.post, f"/services/{checkout['id']}/subscribers", json=subscriber)
    assert subscribed.status_code in (200, 201), subscribed.text
    status = await page.context.browser.new_context(viewport={"width": 1366, "height": 900})
    public = await status.new_page()
    for lang, words in (("en", "Checkout"), ("es", "Checkout")):
        await public.goto(f"{desk.url}/status?lang={lang}")
        assert await public.locator("html").get_attribute("lang") == lang
        assert words in await public.locator("main").inner_text()
        await check(public, 1366, f"status-{lang}", problems)

    # The same pages on a 390 px phone, in Spanish too.
    for locale in ("en-US", "es-ES"):
        phone = await signed_in(browser, desk, locale=locale, width=390)
        suffix = locale[:2]
        for path, name in (
            ("/services", "services"),
            ("/changes", "changes"),
            (change_url.removeprefix(desk.url), "change"),
            ("/changes/new", "change-form"),
            (f"/changes/calendar?month={start.strftime('%Y-%m')}", "change-calendar"),
        ):
            await phone.goto(f"{desk.url}{path}")
            await check(phone, 390, f"{name}-{suffix}", problems)
        await phone.goto(f"{desk.url}/services")
        await phone.get_by_role("link", name="pg-main").click()
        await check(phone, 390, f"config-item-{suffix}", problems)
        if suffix == "es":
            await phone.goto(f"{desk.url}{change_url.removeprefix(desk.url)}")
            assert "afecta a Checkout (criticidad alta): +3" in await phone.locator("main").inner_text()
        await phone.context.close()
    small = await page.context.browser.new_context(viewport={"width": 390, "height": 844})
    public = await small.new_page()
    for lang in ("en", "es"):
        await public.goto(f"{desk.url}/status?lang={lang}")
        await check(public, 390, f"status-{lang}", problems)
    # The rules page: a rule on changes from the builder, and the tester's form on a sample.
    for width in (1366, 390):
        admin = await signed_in(browser, desk, locale="en-US", width=width)
        await admin.goto(f"{desk.url}/admin/rules")
        if width == 1366:
            await admin.locator("#r-name").fill("risky changes")
            await admin.locator("#r-on").select_option("change")
            assert await admin.locator("#if-0-key optgroup[data-rule-kind='message']").get_attribute("hidden") is not None
            await admin.locator("#if-0-key").select_option("risk")
            await admin.locator("#if-0-value").fill("high")
            await admin.locator("#then-0-key").select_option("notify_email")
            await admin.locator("#then-0-value").fill("ops@example.com")
            await admin.get_by_role("button", name="Add rule").click()
            await admin.get_by_role("cell", name="risky changes Changes").wait_for()
        await admin.get_by_label("Message text").fill("the checkout is down")
        await admin.get_by_role("button", name="Test", exact=True).click()
        outcome = await admin.locator("[data-rule-outcome]").inner_text()
        assert "No rule fires." in outcome and await admin.get_by_label("Message text").input_value() == "the checkout is down"
        await check(admin, width, "admin-rules-tester", problems)
        await admin.context.close()
    assert problems == [], "\n".join(problems)
