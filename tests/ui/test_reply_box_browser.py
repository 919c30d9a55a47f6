"""The conversation page's reply box in real Chromium against the real daemon (one daemon
and one browser for the module): Ctrl+Enter sends, the private-note mode, canned
responses searched with "/" and their variables filled, a draft kept across a reload,
the collision guard's "Send anyway?", conversion (kind named, notice chosen, staying on
the conversation), the snooze time, and axe-core on the conversation and ticket pages.
FRONTDESK_SCREENSHOTS=1 saves the pages at 1280 and 390 px, in English and Spanish."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.fixtures.axe import axe_violations
from tests.fixtures.browser import ARGS, CHROMIUM
from tests.fixtures.daemon import Daemon, wait_until
from tests.fixtures.databases import clone_sqlite
from tests.fixtures.services import require, require_binary
from tests.ui.test_ui_browser import PASSWORD, SHOTS, drop

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

LONG = "The printer on floor 3 prints blank pages. " * 60


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Daemon]:
    work = tmp_path_factory.mktemp("reply-desk")
    node = Daemon(workdir=work, db_url=clone_sqlite(sqlite_template, work))
    node.channels = [
        {"name": "drop", "type": "spool", "inbox_dir": str(work / "in"), "outbox_dir": str(work / "out"), "poll_interval": 0.1}
    ]
    node.prepare()
    node.cli("agents", "add", "root@example.com", "--name", "Rosa Admin", "--role", "admin", "--password-stdin", input=PASSWORD + "\n")
    node.start()
    drop(work / "in", id="c-1", **{"from": "carla@example.com"}, name="Carla Gómez", subject="Printer", thread="carla-printer", text=LONG)
    wait_until(lambda: not list((work / "in").glob("*.json")), 60, 0.1, "the spool read the message")
    yield node
    node.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Any]:
    require_binary(CHROMIUM, "chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def page(chromium: Any, desk: Daemon) -> AsyncIterator[Any]:
    """Rosa, signed in, with a canned response using every variable; on Carla's conversation."""
    context = await chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 800}, timezone_id="America/Mexico_City")
    tab = await context.new_page()
    await tab.goto(f"{desk.url}/login")
    await tab.get_by_label("Email").fill("root@example.com")
    await tab.get_by_label("Password").fill(PASSWORD)
    await tab.get_by_role("button", name="Sign in").click()
    await tab.wait_for_url(f"{desk.url}/")
    await tab.goto(f"{desk.url}/admin/canned")
    await tab.locator("#cn-name").fill("Greeting")
    await tab.locator("#cn-text").fill("Hi {{contact.first_name}}, {{agent.name}} here ({{contact.name}}, ticket {{ticket.number}}).")
    await tab.get_by_role("button", name="Save").click()
    await tab.goto(f"{desk.url}/?status=any")
    await tab.locator("tbody[data-rows-body] tr[data-id]").first.click()
    await tab.keyboard.press("Enter")
    await tab.wait_for_url(f"{desk.url}/conversations/*")
    tab.conversation_url = tab.url  # type: ignore[attr-defined]
    yield tab
    await context.close()


WIDEST = """Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(-4).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


async def shots(tab: Any, name: str) -> None:
    """No horizontal scroll at 390 px, always; screenshots at 1280 and 390 px when asked."""
    for width in (1280, 390):
        await tab.set_viewport_size({"width": width, "height": 800})
        wide = await tab.evaluate(WIDEST)
        assert await tab.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {width} px: {wide}"
        if SHOTS is not None:
            SHOTS.mkdir(exist_ok=True)
            await tab.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    await tab.set_viewport_size({"width": 1280, "height": 800})


async def test_reply_box_note_mode_canned_search_draft_and_ctrl_enter(page: Any, desk: Daemon) -> None:
    box = page.get_by_label("Message", exact=True)
    form = page.locator("form[data-reply]")
    # The long message is collapsed; the box is in view without scrolling.
    await page.get_by_role("button", name="Show more").wait_for()
    top = await page.evaluate("document.getElementById('text').getBoundingClientRect().bottom")
    assert 0 < top <= 800
    await page.get_by_role("button", name="Show more").click()
    assert await page.get_by_role("button", name="Show less").get_attribute("aria-expanded") == "true"

    # Note mode looks different and says so; its button reads "Add note".
    reply_bg = await form.evaluate("f => getComputedStyle(f).backgroundColor")
    await page.get_by_role("radio", name="Private note").check()
    assert await page.get_by_text("Only agents see this").is_visible()
    assert await page.get_by_role("button", name="Add note", exact=True).is_visible()
    assert await form.evaluate("f => getComputedStyle(f).backgroundColor") != reply_bg
    assert not await page.get_by_role("button", name="Send and resolve").is_visible()
    await shots(page, "conversation-note")
    await page.get_by_role("radio", name="Reply").check()
    assert await page.get_by_role("button", name="Send", exact=True).is_visible()
    assert await page.get_by_role("button", name="Send and set pending").is_visible()

    # "/" at the start of the box searches canned responses; the variables come filled.
    await box.click()
    await page.keyboard.type("/gree")
    listbox = page.get_by_role("listbox", name="Canned responses")
    await listbox.wait_for()
    assert await page.get_by_role("combobox", name="Search canned responses").input_value() == "gree"
    assert await page.get_by_role("option", name="Greeting").get_attribute("aria-selected") == "true"
    await page.keyboard.press("Enter")
    assert not await listbox.is_visible()
    assert await box.input_value() == "Hi Carla, Rosa Admin here (Carla Gómez, ticket )."
    # The button opens it too; Escape closes it and gives the box back.
    await page.get_by_role("button", name="Canned responses").click()
    await listbox.wait_for()
    await page.keyboard.press("Escape")
    assert not await listbox.is_visible() and await box.evaluate("t => t === document.activeElement")

    # The draft survives a reload, in its mode.
    await box.fill("Draft for **Carla**")
    await page.reload()
    assert await box.input_value() == "Draft for **Carla**"
    # Ctrl+Enter sends; the draft is gone after sending.
    await box.focus()
    await page.keyboard.press("Control+Enter")
    await page.locator(".msg.out strong", has_text="Carla").wait_for()
    await page.reload()
    assert await box.input_value() == ""
    await shots(page, "conversation-reply")
    assert await axe_violations(page) == []


async def test_send_anyway_after_the_customer_wrote_meanwhile(page: Any, desk: Daemon) -> None:
    await page.goto(page.conversation_url)
    box = page.get_by_label("Message", exact=True)
    await box.fill("Please restart it.")
    before = await page.locator(".msg.in").count()
    drop(
        desk.workdir / "in",
        id="c-2",
        **{"from": "carla@example.com"},
        name="Carla Gómez",
        subject="Re: Printer",
        thread="carla-printer",
        text="It works now!",
    )
    await asyncio.to_thread(wait_until, lambda: not list((desk.workdir / "in").glob("*.json")), 60, 0.1, "the spool read it")
    await page.locator(".msg.in").nth(before).wait_for()  # shown live; the form still carries what was newest at load
    await page.get_by_role("button", name="Send", exact=True).click()
    await page.get_by_role("alert").filter(has_text="New messages arrived").wait_for()
    assert await page.locator(".msg.new", has_text="It works now!").count() == 1
    assert await box.input_value() == "Please restart it."
    assert await page.locator(".msg.out", has_text="Please restart it.").count() == 0
    await shots(page, "conversation-moved")
    await page.get_by_role("button", name="Send anyway?").click()
    await page.locator(".msg.out", has_text="Please restart it.").wait_for()
    assert await page.get_by_role("alert").filter(has_text="New messages arrived").count() == 0


async def test_snooze_and_conversion_to_an_incident_stay_on_the_conversation(page: Any, desk: Daemon) -> None:
    await page.goto(page.conversation_url)
    await page.locator("#f-status").select_option("snoozed")
    await page.locator("#f-snooze").select_option("1d")
    await page.locator("form.props").get_by_role("button", name="Save").click()
    snoozed = page.get_by_role("heading", name="Snoozed until")
    await snoozed.wait_for()
    await snoozed.locator("time[title]").wait_for()  # desk.js has put it in local time (the server writes UTC)
    assert await page.get_by_label("Wake up in").input_value() == "1d"  # the chosen duration stays chosen
    await shots(page, "conversation-snoozed")
    shown = await snoozed.locator("time").inner_text()
    assert "UTC" not in shown  # in the browser's time zone
    await page.get_by_role("button", name="Cancel snooze").click()
    await page.locator(".meta .status", has_text="Open").wait_for()

    convert = page.locator("form.convert")
    assert await convert.get_by_role("button").inner_text() == "Convert to ticket"
    await page.get_by_label("Kind").select_option("incident")
    notify = page.get_by_role("checkbox", name="Notify the customer")
    assert await notify.is_checked()
    assert "saying the ticket was opened" in await page.locator("#notify-what").inner_text()
    await notify.uncheck()
    notices_before = await page.locator(".msg.out").count()
    await page.get_by_role("button", name="Convert to incident").click()
    await page.wait_for_url(page.conversation_url)
    await page.locator("li.change", has_text="Incident opened").wait_for()
    assert await page.locator("li.change", has_text="Ticket opened").count() == 0
    assert await page.locator(".msg.out").count() == notices_before  # no notice went out
    await shots(page, "conversation-converted")
    assert await axe_violations(page) == []

    await page.locator(".meta a[href^='/tickets/']").click()
    await page.wait_for_url(f"{desk.url}/tickets/*")
    thread = page.get_by_role("list", name="Conversation")
    assert "It works now!" in await thread.inner_text() and "Please restart it." in await thread.inner_text()
    await shots(page, "ticket-thread")
    assert await axe_violations(page) == []

    # In Spanish (the browser's language), with the same session.
    spanish = await page.context.browser.new_context(locale="es-ES", viewport={"width": 1280, "height": 800})
    await spanish.add_cookies(await page.context.cookies())
    tab = await spanish.new_page()
    await tab.goto(page.conversation_url)
    assert await tab.get_by_role("radio", name="Nota privada").count() == 1
    await shots(tab, "conversation-es")
    await tab.goto(page.url)
    await shots(tab, "ticket-es")
    await spanish.close()
