"""The customer portal in Chromium at 390 px and 1280 px, in English and Spanish: every
page fits without a horizontal scroll, works with the keyboard, and axe-core finds no
serious or critical violation. FRONTDESK_SCREENSHOTS=1 saves each page.

axe-core is read from tests/ui/node_modules (tests/fixtures/axe.py);
CSP blocks inline scripts on the portal, so its source is evaluated, not injected."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from inbox.config import PortalConfig
from inbox.pipeline.ingest import ChannelRef
from inbox.queries import portal as portal_queries
from inbox.runtime.provision import provision_request_types
from inbox.runtime.services import Services
from inbox.store.models import Conversation, Team
from routing.request_types import RequestTypeSpec
from tests.fixtures.axe import axe_source, axe_violations
from tests.fixtures.browser import browser  # noqa: F401
from tests.fixtures.databases import clone_sqlite
from tests.fixtures.inbox import add_channel, inbound, make_config
from tests.fixtures.served import served
from tests.fixtures.services import free_port
from tests.inbox.web.test_portal import ACCESS, LAPTOP

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "screenshots" if os.environ.get("FRONTDESK_SCREENSHOTS") else None


class Node:
    def __init__(self, services: Services, url: str, contact_id: int, conversation_id: int) -> None:
        self.services = services
        self.url = url
        self.contact_id = contact_id
        self.conversation_id = conversation_id


@pytest.fixture
async def node(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Node]:
    port = free_port()
    config = make_config(clone_sqlite(sqlite_template, tmp_path))
    config.server.public_url = f"http://127.0.0.1:{port}"
    config.portal = PortalConfig(email_channel="mail")
    config.request_types = [RequestTypeSpec.model_validate(ACCESS), RequestTypeSpec.model_validate(LAPTOP)]
    services = Services.build(config)
    mail: ChannelRef = await add_channel(services, "mail", "email")
    async with services.db.transaction() as session:
        session.add(Team(name="it"))
    await provision_request_types(services.db, config)
    [r] = await services.ingestor.ingest(mail, [inbound("<a1@x>", "ana@example.com", "My printer is on fire", subject="Printer")])
    contact = await services.db.query(lambda s: s.scalar(select(Conversation.contact_id).where(Conversation.id == r.conversation_id)))
    async with served(services, port):
        yield Node(services, config.server.public_url, int(contact), int(r.conversation_id or 0))
    await services.db.dispose()


async def check(page: Any, name: str, lang: str) -> None:
    """No horizontal scroll at this width; at 390 px no serious or critical axe violation."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{name} ({lang}) scrolls sideways at {viewport} px: {width}"
    if viewport == 390:
        bad = await axe_violations(page)
        assert not bad, f"{name} ({lang}, {viewport} px): {bad}"
    if SHOTS is not None:
        SHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"portal-{name}-{lang}-{viewport}.png"), full_page=True)


async def test_portal_pages_fit_a_phone_are_accessible_and_work_with_the_keyboard(browser: Any, node: Node) -> None:
    axe_source()  # installed, or the test stops here
    view = node.services.portal_url(node.contact_id)
    kinds = {k.spec.name: k.id for k in await node.services.db.query(portal_queries.request_types_in)}
    for width in (390, 1280):
        for lang in ("en", "es"):
            context = await browser.new_context(viewport={"width": width, "height": 900}, locale="es-ES" if lang == "es" else "en-US")
            page = await context.new_page()
            await page.goto(f"{node.url}/portal?lang={lang}")
            await check(page, "sign-in", lang)
            await page.goto(view)
            await page.goto(f"{node.url}/portal")
            assert await page.locator("h1").inner_text() == ("Sus solicitudes" if lang == "es" else "Your requests")
            await check(page, "requests", lang)
            await page.goto(f"{node.url}/portal/requests/{node.conversation_id}")
            await check(page, "request", lang)
            await page.goto(f"{node.url}/portal/new")
            await check(page, "new", lang)
            await page.goto(f"{node.url}/portal/new/{kinds['Access request']}")
            await check(page, "form", lang)
            if width == 390 and lang == "en":
                # By keyboard alone: the choice, the long text, submit; the new request opens.
                await page.locator("#subject").focus()
                await page.keyboard.press("Tab")
                await page.keyboard.press("ArrowDown")  # the first choice, "vpn"
                await page.locator("#f-why").focus()
                await page.keyboard.type("A new starter needs it")
                await page.locator("#f-why").press("Tab")
                await page.get_by_role("button", name="Send request").focus()
                await page.keyboard.press("Enter")
                await page.wait_for_url("**/portal/requests/*?created=1")
                assert "Thank you" in await page.get_by_role("status").inner_text()
                assert "vpn" in await page.locator("dl.answers").inner_text()
                await check(page, "created", lang)
            await context.close()
