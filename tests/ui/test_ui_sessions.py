"""Sessions in a real browser: "Sign out everywhere" ends the other browser's session too,
and its open inbox page, told so by its live socket (4401), goes back to sign-in."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.browser import browser
from tests.fixtures.daemon import Daemon, daemon
from tests.ui.test_ui_browser import node, signed_in

pytestmark = pytest.mark.browser


async def test_sign_out_everywhere_sends_every_open_page_back_to_sign_in(browser: Any, node: Daemon) -> None:
    laptop = await signed_in(browser, node, "ana@example.com")
    phone = await signed_in(browser, node, "ana@example.com", locale="es-ES")
    await phone.locator("body[data-live='on']").wait_for()  # the inbox's live socket is open
    await laptop.goto(f"{node.url}/account/password")
    await laptop.get_by_role("button", name="Sign out everywhere").click()
    await laptop.wait_for_url(f"{node.url}/login")
    # No reload on the phone: its socket is closed with 4401 and the page signs in again.
    await phone.wait_for_url(f"{node.url}/login", timeout=30_000)
    await phone.goto(f"{node.url}/account/password")
    assert phone.url == f"{node.url}/login"
    for page in (laptop, phone):
        await page.context.close()
