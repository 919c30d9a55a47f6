"""The dashboard's reports and the contact page's erasure in a real browser: 1366 px and a
390 px phone, English and Spanish, axe-core clean, reachable by keyboard.

Set FRONTDESK_SCREENSHOTS=1 to save screenshots into screenshots/.
"""

from __future__ import annotations

import asyncio
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


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_dashboard_reports_fit_a_phone_pass_axe_in_both_languages_and_erase_asks_first(
    browser: Any, desk: Daemon, tmp_path: Path
) -> None:
    drop(
        tmp_path / "in", id="r-1", **{"from": "carla@example.com"}, name="Carla Ruiz", subject="Refund for order 5521", text="Charged twice"
    )
    drop(tmp_path / "in", id="r-2", **{"from": "bea@example.com"}, name="Bea", subject="Password reset", text="Locked out")
    token = desk.cli("tokens", "create", "--agent", "rosa@example.com").stdout.strip()
    api = httpx.Client(base_url=f"{desk.url}/api/v1", headers={"Authorization": f"Bearer {token}"})
    wait_until(lambda: len(api.get("/conversations").json()["items"]) == 2, what="two conversations")
    (await asyncio.to_thread(api.post, "/teams", json={"name": "Billing", "members": ["ana@example.com"]})).raise_for_status()
    items = (await asyncio.to_thread(api.get, "/conversations")).json()["items"]
    carla = next(c for c in items if c["contact"]["display_name"] == "Carla Ruiz")
    changed = await asyncio.to_thread(api.patch, f"/conversations/{carla['id']}", json={"team": "Billing", "assignee": "ana@example.com"})
    changed.raise_for_status()

    problems: list[str] = []
    dialogs: list[str] = []
    for locale, width in (("en-US", 1366), ("en-US", 390), ("es-ES", 1366), ("es-ES", 390)):
        page = await signed_in(browser, desk, locale=locale, width=width)
        await page.goto(f"{desk.url}/dashboard")
        assert await page.locator("table.report-table").count() == 2
        assert await page_width(page) <= width, (locale, width)
        problems += await axe_violations(page)
        await shot(page, f"dashboard-reports-{locale[:2]}-{width}")
        if locale == "en-US" and width == 390:
            # The preset links and the form by keyboard; the tables scroll in their box.
            await page.get_by_role("link", name="7 days").focus()
            await page.keyboard.press("Enter")
            await page.wait_for_url("**/dashboard?from=*")
            assert await page.locator("a[aria-current=true]").inner_text() == "7 days"
            region = page.get_by_role("region", name="By team")
            assert await region.evaluate("el => el.scrollWidth > el.clientWidth && el.tabIndex === 0")
            await page.locator("#r-from").focus()
            await page.keyboard.type("01012026")
            await page.keyboard.press("Enter")
            await page.wait_for_url("**from=2026-01-01*")
            assert "Billing" in await page.locator("table.report-table").first.inner_text()
        if locale == "en-US" and width == 1366:
            link = page.locator("table.report-table a", has_text="1").first
            href = await link.get_attribute("href")
            assert href is not None and href.startswith("/api/v1/reports/conversations.csv?")
            exported = await page.request.get(desk.url + href)
            assert exported.status == 200 and "Refund for order 5521" in await exported.text()
            # Erase on the contact page: a confirmation first (accepted by `signed_in`'s handler).
            await page.goto(f"{desk.url}/contacts/{carla['contact']['id']}")
            problems += await axe_violations(page)
            await shot(page, "contact-erase-en-1366")
            page.on("dialog", lambda d: dialogs.append(d.message))
            await page.get_by_role("button", name="Erase personal data").click()
            await page.wait_for_url("**flash=erased")
            assert dialogs and "cannot be undone" in dialogs[0]
            assert "Erased contact" in await page.locator("h1").inner_text()
        await page.context.close()
    assert problems == []
