""" "Send again" in Chromium (SQLite only), at 390 px and 1366 px: a failed reply and one whose
delivery is unknown each show their state and a "Send again" button; the unknown one asks
first (the customer may already have it), and a dismissed question sends nothing. No
horizontal scroll, and no serious or critical axe-core violation at 390 px. Screenshots go
to screenshots/ with FRONTDESK_SCREENSHOTS=1 (else the test's tmp dir)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from inbox.actions.replies import send_reply
from inbox.actions.runner import CLI
from inbox.runtime.services import Services
from inbox.store.models import Message, OutboxItem
from tests.fixtures.axe import axe_source, axe_violations
from tests.fixtures.browser import browser  # noqa: F401
from tests.fixtures.databases import clone_sqlite
from tests.fixtures.inbox import add_agent, add_channel, inbound, make_config
from tests.fixtures.served import served
from tests.fixtures.services import free_port
from tests.ui.test_ui_browser import SHOTS

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


class Node:
    def __init__(self, services: Services, url: str, conversation_id: int, failed: int, unknown: int) -> None:
        self.services, self.url, self.conversation_id, self.failed, self.unknown = services, url, conversation_id, failed, unknown


@pytest.fixture
async def node(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Node]:
    port = free_port()
    config = make_config(clone_sqlite(sqlite_template, tmp_path))
    config.server.public_url = f"http://127.0.0.1:{port}"
    services = Services.build(config)
    channel = await add_channel(services, "chat", "telegram")
    await add_agent(services, "rosa@example.com", role="admin", password=PASSWORD)
    [r] = await services.ingestor.ingest(channel, [inbound("701:1", "701", "Where is my parcel?", name="Ana Pérez")])
    assert r.conversation_id is not None
    ids = {}
    for state, text in (("failed", "It left the warehouse on Monday."), ("unknown", "The tracking number is 4711.")):
        ids[state] = await send_reply(services.ctx, CLI, r.conversation_id, text)
        async with services.db.transaction() as session:
            error = "PermanentSendError: chat not found" if state == "failed" else "in flight when the daemon stopped"
            await session.execute(update(Message).where(Message.id == ids[state]).values(delivery=state, delivery_error=error))
            await session.execute(update(OutboxItem).where(OutboxItem.message_id == ids[state]).values(status=state))
    async with served(services, port):
        yield Node(services, config.server.public_url, r.conversation_id, ids["failed"], ids["unknown"])
    await services.db.dispose()


async def check(page: Any, name: str, tmp_path: Path, width: int) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= width, f"{name}: a horizontal scroll at {width} px"
    if width == 390:
        bad = await axe_violations(page)
        assert not bad, "\n".join(bad)
    where = SHOTS or tmp_path
    await asyncio.to_thread(where.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(where / f"resend-{name}-{width}.png"), full_page=True)


async def delivery(node: Node, message_id: int) -> str:
    async with node.services.db.read() as session:
        message = await session.get(Message, message_id)
        assert message is not None
        return message.delivery


async def test_send_again_with_a_question_for_an_unknown_delivery(browser: Any, node: Node, tmp_path: Path) -> None:  # noqa: F811
    axe_source()
    asked: list[str] = []  # the questions the browser was asked
    for width in (1366, 390):
        context = await browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
        page = await context.new_page()
        await page.goto(f"{node.url}/login")
        await page.locator("input[name=email]").fill("rosa@example.com")
        await page.locator("input[name=password]").fill(PASSWORD)
        await page.locator("form[action='/login'] button[type=submit]").click()
        await page.wait_for_url(f"{node.url}/")
        await page.goto(f"{node.url}/conversations/{node.conversation_id}")
        failed, unknown = page.locator(f"#m{node.failed}"), page.locator(f"#m{node.unknown}")
        assert "failed" in await failed.inner_text() and "delivery unknown" in await unknown.inner_text()
        assert await failed.get_by_role("button", name="Send again").is_visible()
        await check(page, "conversation", tmp_path, width)
        if width == 1366:
            # Dismissed: nothing is sent.
            async def dismiss(dialog: Any) -> None:
                asked.append(dialog.message)
                await dialog.dismiss()

            page.once("dialog", dismiss)
            await unknown.get_by_role("button", name="Send again").click()
            assert asked and "may already have it" in asked[0] and page.url.endswith(f"/conversations/{node.conversation_id}")
            assert await delivery(node, node.unknown) == "unknown"
        else:
            page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
            await unknown.get_by_role("button", name="Send again").click()
            await page.wait_for_url(f"{node.url}/conversations/{node.conversation_id}#m{node.unknown}")
            assert await delivery(node, node.unknown) == "queued"
            assert "queued" in await page.locator(f"#m{node.unknown}").inner_text()
            assert await page.locator(f"#m{node.unknown}").get_by_role("button", name="Send again").count() == 0
            await check(page, "after", tmp_path, width)
        await context.close()
