"""The widget's survey stars and its request-type picker in Chromium (SQLite only), at
390 px and 1280 px: after the agent resolves, the stars appear with accessible names, a
keyboard press records the rating, and the comment offered after it; a visitor picks a request type, fills
its choice, date and text fields and sends it, and the agent has a request ticket with
the structured fields. axe-core finds no serious or critical violation inside the page at
390 px. Screenshots go to screenshots/ with FRONTDESK_SCREENSHOTS=1 (else the test's tmp dir)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.axe import axe_source, axe_violations
from tests.fixtures.browser import StaticSite, browser, site  # noqa: F401
from tests.fixtures.daemon import Daemon, wait_until
from tests.fixtures.databases import clone_sqlite
from tests.ui.test_ui_browser import SHOTS

CATALOGUE = """
[[teams]]
name = "it"

[[request_types]]
name = "Access request"
description = "Ask for access to a system."
team = "it"
priority = "P2"
fields = [
  { name = "system", label = "System", kind = "choice", choices = ["VPN", "CRM"], required = true },
  { name = "needed_by", label = "Needed by", kind = "date" },
  { name = "why", label = "Why", kind = "long_text", required = true },
]
"""


def host_page(node: Daemon, channel: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title></head>
<body><main><h1>Our shop</h1><p>Prices, parcels and returns.</p></main>
<script src="{node.url}/widget/{channel}.js" async></script></body></html>"""


@pytest.fixture
def node(tmp_path: Path, sqlite_template: Path, site: StaticSite) -> Any:  # noqa: F811
    daemon = Daemon(workdir=tmp_path, db_url=clone_sqlite(sqlite_template, tmp_path))
    daemon.channels = [
        # The survey goes out at once here (csat_delay = 0): the test does not wait the two minutes.
        {"name": "website", "type": "widget", "allowed_origins": [site.origin], "title": "Help", "csat": True, "csat_delay": 0},
        {"name": "desk", "type": "widget", "allowed_origins": [site.origin], "title": "IT desk", "request_types": ["Access request"]},
    ]
    daemon.extra = CATALOGUE
    daemon.token = daemon.admin_token()  # type: ignore[attr-defined]
    daemon.start()
    yield daemon
    daemon.stop()


def agent(node: Daemon) -> httpx.Client:
    return httpx.Client(base_url=node.url, headers={"Authorization": f"Bearer {node.token}"}, timeout=30)  # type: ignore[attr-defined]


def shots(tmp_path: Path) -> Path:
    where = SHOTS or tmp_path  # FRONTDESK_SCREENSHOTS=1: screenshots/, like the other browser tests
    where.mkdir(parents=True, exist_ok=True)
    return where


async def no_serious_violations(page: Any) -> None:
    bad = await axe_violations(page)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("width", [390, 1280])
async def test_the_survey_stars_after_resolve_rate_by_keyboard_with_a_comment(
    browser: Any,  # noqa: F811
    node: Daemon,
    site: StaticSite,  # noqa: F811
    tmp_path: Path,
    width: int,
) -> None:
    axe_source()  # installed, or the test stops here
    context = await browser.new_context(locale="en-US", viewport={"width": width, "height": 760 if width == 390 else 800})
    page = await context.new_page()
    await page.goto(site.page(f"survey-{width}.html", host_page(node, "website")))
    await page.get_by_role("button", name="Chat").click()
    await page.get_by_role("textbox", name="Message").fill("My parcel is late")
    await page.get_by_role("button", name="Send").click()
    await page.get_by_role("log").get_by_text("My parcel is late").wait_for()

    def the_conversation() -> list[dict[str, Any]]:
        with agent(node) as client:
            return client.get("/api/v1/conversations").json()["items"]

    [conversation] = await asyncio.to_thread(wait_until, the_conversation, 60, 0.1, "the conversation")
    with agent(node) as client:
        assert client.patch(f"/api/v1/conversations/{conversation['id']}", json={"status": "resolved"}).status_code == 200
    survey = page.get_by_role("group", name="How did we do? Rate our help from 1 (bad) to 5 (excellent).")
    await survey.wait_for(timeout=60_000)
    names = ["1 Bad", "2 Poor", "3 OK", "4 Good", "5 Excellent"]
    for name in names:
        assert await survey.get_by_role("button", name=name, exact=True).is_visible()
    await no_serious_violations(page)
    await page.screenshot(path=str(shots(tmp_path) / f"widget-survey-{width}.png"))
    # The keyboard: Tab to the fourth star, Enter rates; then the comment, offered after the rating.
    await survey.get_by_role("button", name="1 Bad").focus()
    for _ in range(3):
        await page.keyboard.press("Tab")
    focused = "() => document.querySelector('[data-frontdesk=website]').shadowRoot.activeElement.getAttribute('aria-label')"
    assert await page.evaluate(focused) == "4 Good"
    await page.keyboard.press("Enter")
    offer = page.get_by_role("group", name="Thank you for your rating!")
    await offer.wait_for(timeout=60_000)
    assert await page.evaluate(focused) == "Add a comment (optional)"  # the focus moved to the comment box
    await no_serious_violations(page)
    await page.screenshot(path=str(shots(tmp_path) / f"widget-survey-comment-{width}.png"))
    await page.keyboard.type("Quick and friendly")
    await page.keyboard.press("Tab")
    assert await page.evaluate(focused.replace(".getAttribute('aria-label')", ".textContent")) == "Send comment"
    await page.keyboard.press("Enter")
    await page.get_by_role("log").get_by_text("Thank you, your comment is added.").wait_for(timeout=60_000)
    assert await survey.count() == 0 and await offer.count() == 0
    await page.screenshot(path=str(shots(tmp_path) / f"widget-survey-rated-{width}.png"))

    def rated() -> dict[str, Any] | None:
        with agent(node) as client:
            found = client.get(f"/api/v1/conversations/{conversation['id']}").json()["csat"]
        return found if found and found["state"] == "rated" else None

    found = await asyncio.to_thread(wait_until, rated, 60, 0.1, "the rating")
    assert (found["rating"], found["comment"], found["via"], found["channel"]) == (4, "Quick and friendly", "widget", "website")
    await context.close()


@pytest.mark.parametrize("width", [390, 1280])
async def test_a_request_type_picked_and_filled_in_the_widget_is_a_ticket_with_its_fields(
    browser: Any,  # noqa: F811
    node: Daemon,
    site: StaticSite,  # noqa: F811
    tmp_path: Path,
    width: int,
) -> None:
    axe_source()
    context = await browser.new_context(locale="en-US", viewport={"width": width, "height": 760 if width == 390 else 800})
    page = await context.new_page()
    await page.goto(site.page(f"desk-{width}.html", host_page(node, "desk")))
    await page.get_by_role("button", name="Chat").click()
    picker = page.get_by_role("group", name="What can we help with?")
    await picker.wait_for(timeout=60_000)
    await no_serious_violations(page)
    await page.screenshot(path=str(shots(tmp_path) / f"widget-picker-{width}.png"))
    await picker.get_by_role("button", name="Access request").click()
    form = page.get_by_role("form", name="Access request")
    await form.wait_for()
    # Sent empty: the required fields come back named at the field.
    await form.get_by_role("button", name="Send request").click()
    await form.get_by_role("combobox", name="System (required)").and_(page.locator("[aria-invalid=true]")).wait_for(timeout=60_000)
    await no_serious_violations(page)
    await page.screenshot(path=str(shots(tmp_path) / f"widget-request-errors-{width}.png"))
    await form.get_by_role("combobox", name="System (required)").select_option("CRM")
    assert await form.locator("[aria-invalid=true]").count() == 0  # the message about the old answer went with it
    await form.get_by_label("Needed by").fill("2027-01-15")
    await form.get_by_role("textbox", name="Why (required)").fill("I joined the sales team.")
    await no_serious_violations(page)
    await page.screenshot(path=str(shots(tmp_path) / f"widget-request-filled-{width}.png"))
    await form.get_by_role("button", name="Send request").click()
    await page.get_by_role("log").get_by_text("Thank you. Your request was received.").wait_for(timeout=60_000)
    await page.screenshot(path=str(shots(tmp_path) / f"widget-request-sent-{width}.png"))

    def the_ticket() -> dict[str, Any] | None:
        with agent(node) as client:
            items = client.get("/api/v1/tickets").json()["items"]
        return items[0] if items else None

    ticket = await asyncio.to_thread(wait_until, the_ticket, 60, 0.1, "the request ticket")
    assert ticket["request_type"] == "Access request"
    assert ticket["fields"] == {"system": "CRM", "needed_by": "2027-01-15", "why": "I joined the sales team."}
    assert ticket["priority"] == "P2"
    await context.close()
