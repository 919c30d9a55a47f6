"""The admin webhooks page in a real browser against the real daemon: add one by its form,
send a test, read the log. FRONTDESK_SCREENSHOTS=1 saves it at 1366 and 390 px."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.browser import browser  # noqa: F401
from tests.fixtures.daemon import Daemon, daemon  # noqa: F401
from tests.fixtures.webhook_receiver import Receiver, receiver  # noqa: F401
from tests.ui.test_ui_browser import PASSWORD, SHOTS, signed_in

pytestmark = pytest.mark.browser


@pytest.fixture
def hook_node(daemon: Daemon) -> Daemon:
    daemon.extra = "[webhooks]\nallow_private = true\ntimeout_seconds = 2\nbase_delay = 30\nlease_seconds = 5\n"
    daemon.prepare()
    daemon.cli("agents", "add", "root@example.com", "--name", "Rosa Admin", "--role", "admin", "--password-stdin", input=PASSWORD + "\n")
    daemon.start()
    return daemon


async def add_webhook(page: Any, url: str, events: list[str]) -> None:
    form = page.locator("form[action='/admin/webhooks']")
    await form.get_by_label("URL").fill(url)
    for event in events:
        await form.locator(f"input[value='{event}']").check()
    await form.get_by_label("Signing secret").fill("a-shared-secret-for-receivers")
    await form.get_by_role("button", name="Add webhook").click()
    await page.wait_for_url("**/admin/webhooks?flash=saved")


async def test_admin_adds_a_webhook_sends_a_test_and_reads_the_log(browser: Any, hook_node: Daemon, receiver: Receiver) -> None:
    page = await signed_in(browser, hook_node, "root@example.com")
    await page.goto(f"{hook_node.url}/admin/webhooks")
    await add_webhook(page, receiver.url, ["ticket.created", "message.created"])
    await add_webhook(page, "http://127.0.0.1:9/closed", ["sla.breached"])
    row = page.locator("tr", has_text=receiver.url)
    await row.get_by_role("button", name="Send test").click()
    await page.get_by_role("status").filter(has_text="Test delivered").wait_for()
    assert receiver.received and receiver.received[0].verifies_with("a-shared-secret-for-receivers")
    assert await page.locator("td.ok", has_text="Delivered").count() == 1
    failing = page.locator("tr", has_text="127.0.0.1:9/closed")
    await failing.get_by_role("button", name="Send test").click()
    await page.get_by_role("status").filter(has_text="Test failed").wait_for()
    await page.locator("tr", has_text="127.0.0.1:9/closed").get_by_role("button", name="Disable").click()
    await page.wait_for_url("**/admin/webhooks?flash=saved")
    assert await page.locator("tr", has_text="127.0.0.1:9/closed").locator(".badge", has_text="Disabled").count() == 1
    if SHOTS is not None:
        SHOTS.mkdir(exist_ok=True)
        await page.goto(f"{hook_node.url}/admin/webhooks?log=1")
        for width in (1366, 390):
            await page.set_viewport_size({"width": width, "height": 900})
            await page.screenshot(path=str(SHOTS / f"admin-webhooks-{width}.png"), full_page=True)
