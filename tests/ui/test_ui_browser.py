"""The agent UI in a real browser (Debian Chromium via Playwright) against the real daemon.

Set FRONTDESK_SCREENSHOTS=1 to also save screenshots of the main pages into screenshots/.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import browser
from tests.fixtures.daemon import ROOT, Daemon, daemon, wait_until

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
SHOTS = ROOT / "screenshots" if os.environ.get("FRONTDESK_SCREENSHOTS") else None


def drop(inbox_dir: Path, **message: str) -> None:
    """A message arrives on the spool channel (written then renamed, as a script would)."""
    inbox_dir.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    (inbox_dir / f".{name}.tmp").write_text(json.dumps(message))
    (inbox_dir / f".{name}.tmp").rename(inbox_dir / f"{name}.json")


@pytest.fixture
def node(daemon: Daemon, tmp_path: Path) -> Daemon:
    daemon.channels = [
        {"name": "drop", "type": "spool", "inbox_dir": str(tmp_path / "in"), "outbox_dir": str(tmp_path / "out"), "poll_interval": 0.1}
    ]
    daemon.prepare()
    daemon.cli("agents", "add", "root@example.com", "--name", "Rosa Admin", "--role", "admin", "--password-stdin", input=PASSWORD + "\n")
    daemon.cli("agents", "add", "ana@example.com", "--name", "Ana Agent", "--role", "agent", "--password-stdin", input=PASSWORD + "\n")
    daemon.start()
    return daemon


async def signed_in(browser: Any, node: Daemon, email: str, locale: str = "en-US") -> Any:
    context = await browser.new_context(locale=locale, viewport={"width": 1360, "height": 860})
    page = await context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    await page.goto(f"{node.url}/login")
    label = {"en-US": ("Email", "Password", "Sign in"), "es-ES": ("Correo electrónico", "Contraseña", "Iniciar sesión")}[locale]
    await page.get_by_label(label[0]).fill(email)
    await page.get_by_label(label[1]).fill(PASSWORD)
    await page.get_by_role("button", name=label[2]).click()
    await page.wait_for_url(f"{node.url}/")
    return page


async def shot(page: Any, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def test_agent_sees_a_message_arrive_live_replies_assigns_converts_and_resolves(browser: Any, node: Daemon, tmp_path: Path) -> None:
    page = await signed_in(browser, node, "root@example.com")
    rows = page.locator("tbody[data-rows-body] tr[data-id]")
    assert await rows.count() == 0
    hostile = '<script>alert("xss")</script><img src=x onerror="alert(1)"> Our site is down!'
    drop(tmp_path / "in", id="m-1", **{"from": "carla@example.com"}, name="Carla", subject="Outage <b>now</b>", text=hostile, html=hostile)
    # No reload: the row arrives over /api/v1/stream.
    await rows.first.wait_for()
    assert "Outage <b>now</b>" in await rows.first.inner_text()
    assert await page.locator("tr.unread").count() == 1
    await shot(page, "inbox")

    await page.keyboard.press("?")
    assert await page.locator("dialog#help").is_visible()
    await shot(page, "help")
    await page.keyboard.press("Escape")
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{node.url}/conversations/*")
    timeline = page.get_by_role("log")
    assert "<script>" in await timeline.inner_text()  # shown as text, never run
    assert await page.locator("img[src=x]").count() == 0

    await page.keyboard.press("r")
    await page.get_by_label("Message", exact=True).fill("We are **on it**, Carla.")
    await page.get_by_label("Attach files").set_input_files([{"name": "steps.txt", "mimeType": "text/plain", "buffer": b"1. restart"}])
    await page.get_by_role("button", name="Send", exact=True).click()
    await page.locator(".msg.out strong", has_text="on it").wait_for()
    await page.locator(".msg.out .attachments", has_text="steps.txt").wait_for()
    # The spool channel writes the reply, the file with it.
    await asyncio.to_thread(wait_until, lambda: list((tmp_path / "out").glob("*.json")), 60, 0.1, "the reply was written")
    [reply_file] = (tmp_path / "out").glob("*.json")
    assert [(a["filename"], a["data_base64"]) for a in json.loads(reply_file.read_text())["attachments"]] == [
        ("steps.txt", "MS4gcmVzdGFydA==")
    ]
    await page.get_by_role("button", name="Assign to me").click()
    await page.locator("li.change", has_text="root@example.com").wait_for()

    await page.get_by_label("Kind").select_option("incident")
    await page.get_by_label("Impact").select_option("high")
    await page.get_by_label("Urgency").select_option("high")
    await shot(page, "conversation")
    await page.get_by_role("button", name="Convert to incident").click()
    await page.locator("li.change", has_text="Incident opened").wait_for()  # still on the conversation
    await page.locator(".meta a[href^='/tickets/']").click()
    await page.wait_for_url(f"{node.url}/tickets/*")
    assert "P1" in await page.locator("main").inner_text()
    await page.get_by_role("link", name="Open the conversation").click()
    await page.wait_for_url(f"{node.url}/conversations/*")
    await page.wait_for_load_state("load")  # the shortcut script is loaded
    await page.keyboard.press("e")
    await page.locator("li.change", has_text="Resolved").wait_for()
    assert await page.locator(".meta .status").inner_text() == "Resolved"

    await page.get_by_role("link", name="Carla").first.click()
    await page.get_by_role("heading", name="Identities").wait_for()
    await shot(page, "contact")
    # j inside a conversation moves along the inbox's order; past the end, back to the inbox.
    drop(tmp_path / "in", id="m-2", **{"from": "dan@example.com"}, subject="Second question", text="Hello again")
    await asyncio.to_thread(wait_until, lambda: not list((tmp_path / "in").glob("*.json")), 60, 0.1, "the spool read the file")
    await page.goto(f"{node.url}/?status=any")
    await page.get_by_role("link", name="Second question").wait_for()
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{node.url}/conversations/*")
    await page.wait_for_load_state("load")
    first_url = page.url
    await page.keyboard.press("j")
    await page.wait_for_url(lambda url: url != first_url)
    assert "Outage" in await page.locator("h1").inner_text()
    await page.goto(f"{node.url}/incidents")
    await shot(page, "incidents")
    await page.goto(f"{node.url}/dashboard")
    await page.locator("svg.chart").wait_for()
    await shot(page, "dashboard")
    assert page.dialogs == []  # type: ignore[attr-defined]
    await page.context.close()  # closes the live websocket before the daemon stops


async def test_admin_adds_a_channel_and_a_rule_and_an_agent_is_kept_out(browser: Any, node: Daemon, tmp_path: Path) -> None:
    admin = await signed_in(browser, node, "root@example.com")
    await admin.locator("header.top details[data-navmore] > summary").click()  # Admin is under "More"
    await admin.get_by_role("link", name="Admin", exact=True).click()
    await admin.get_by_label("Name").fill("chat")
    await admin.get_by_label("Type", exact=True).select_option("widget")
    await admin.get_by_role("button", name="Add channel").click()
    await admin.get_by_role("cell", name="chat", exact=True).wait_for()
    await admin.get_by_role("button", name="Test drop").click()
    await admin.get_by_text("Test results: drop").wait_for()
    await shot(admin, "admin-channels")

    await admin.get_by_role("link", name="Rules").click()
    # The builder: choosing a field sets its operator; "Add action" adds a row (rules.js). The script
    # shows its "Add" buttons once it has armed the rows: a choice made before then is not seen by it.
    await admin.get_by_role("button", name="Add condition").wait_for()
    await admin.locator("#r-name").fill("outages")
    await admin.locator("#if-0-key").select_option("text_matches")
    assert await admin.locator("#if-0-op").input_value() == "matches"
    await admin.locator("#if-0-value").fill("(?i)down")
    await admin.locator("#then-0-key").select_option("tag")
    await admin.locator("#then-0-value").fill("outage")
    await admin.get_by_role("button", name="Add action").click()
    await admin.locator("#then-3-key").select_option("priority")
    await admin.locator("#then-3-value").fill("P1")
    await admin.get_by_role("button", name="Add rule").click()
    await admin.get_by_role("cell", name="outages Conversations", exact=True).wait_for()  # its name and kind
    await admin.get_by_label("Message text").fill("the site is down")
    await admin.get_by_role("button", name="Test", exact=True).click()
    assert "outages" in await admin.locator("[data-rule-outcome]").inner_text()
    await shot(admin, "admin-rules")

    drop(
        tmp_path / "in",
        id="o-1",
        **{"from": "eva@example.com"},
        name="Eva",
        subject="Outage in Madrid",
        text="Nada funciona desde las 9:00",
    )
    # A private team's conversation.
    await admin.get_by_role("link", name="Teams").click()
    await admin.get_by_label("Name").fill("vip")
    await admin.get_by_label("Members (emails)").fill("root@example.com")
    await admin.get_by_role("button", name="Save").click()
    await admin.get_by_role("cell", name="vip", exact=True).wait_for()
    drop(tmp_path / "in", id="v-1", **{"from": "ceo@example.com"}, subject="Secret plans", text="Only for the VIP team")
    await admin.goto(f"{node.url}/")
    await admin.get_by_role("link", name="Secret plans").click()
    secret_url = admin.url
    await admin.get_by_label("Team").select_option("vip")
    await admin.get_by_role("button", name="Save").click()
    await admin.locator("li.change", has_text="vip").wait_for()

    if SHOTS is not None:
        for section in ("agents", "teams", "tokens", "canned", "quarantine", "audit"):
            await admin.goto(f"{node.url}/admin/{section}")
            await shot(admin, f"admin-{section}")
        await admin.goto(secret_url)
        await shot(admin, "conversation-team")

    agent = await signed_in(browser, node, "ana@example.com", locale="es-ES")
    assert await agent.get_by_role("link", name="Secret plans").count() == 0
    assert (await agent.goto(secret_url)).status == 404
    assert await agent.get_by_role("link", name="Administración").count() == 0
    await agent.goto(f"{node.url}/")
    await shot(agent, "inbox-es")
    if SHOTS is not None:
        await agent.get_by_role("link", name="Outage").first.click()
        await shot(agent, "conversation-es")
        await agent.goto(f"{node.url}/dashboard")
        await shot(agent, "dashboard-es")
    response = await agent.goto(f"{node.url}/admin/channels")
    assert response.status == 403
    # A form post without the session's CSRF token is refused.
    forged = await agent.request.post(f"{node.url}/problems", form={"title": "forged"})
    assert forged.status == 403
    await agent.context.close()
    await admin.context.close()
