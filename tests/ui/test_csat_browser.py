"""The satisfaction survey's surfaces in Chromium (SQLite only), at 390 px and 1366 px,
in English and Spanish: the agent's conversation page shows a survey still queued (it goes
out at a time, unless the conversation is reopened) and a rating with its comment; the
comment page a Telegram or Slack rating links to takes the comment. No horizontal scroll,
and no serious or critical axe-core violation at 390 px. Screenshots go to
screenshots/ with FRONTDESK_SCREENSHOTS=1 (else the test's tmp dir)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from inbox.actions import csat as csat_actions
from inbox.actions.conversations import ConversationChanges, update_conversation
from inbox.actions.runner import CLI
from inbox.pipeline.ingest import ChannelRef
from inbox.runtime.services import Services
from inbox.store.models import Channel, CsatSurvey
from tests.fixtures.axe import axe_source, axe_violations
from tests.fixtures.browser import browser  # noqa: F401
from tests.fixtures.databases import clone_sqlite
from tests.fixtures.inbox import add_agent, inbound, make_config
from tests.fixtures.served import served
from tests.fixtures.services import free_port
from tests.ui.test_ui_browser import SHOTS

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


class Node:
    def __init__(self, services: Services, url: str, queued: int, rated: int, comment_url: str) -> None:
        self.services, self.url, self.queued, self.rated, self.comment_url = services, url, queued, rated, comment_url


@pytest.fixture
async def node(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Node]:
    port = free_port()
    config = make_config(clone_sqlite(sqlite_template, tmp_path))
    config.server.public_url = f"http://127.0.0.1:{port}"
    services = Services.build(config)
    async with services.db.transaction() as session:
        row = Channel(name="chat", type="telegram", settings={"csat": True, "csat_delay": 600})
        session.add(row)
        await session.flush()
        ref = ChannelRef(row.id, "chat", "telegram")
    await add_agent(services, "rosa@example.com", role="admin", password=PASSWORD)
    ids = []
    for n, text in enumerate(("Where is my parcel?", "The invoice is wrong")):
        [r] = await services.ingestor.ingest(ref, [inbound(f"701:{n + 1}", "701", text, name="Ana Pérez")])
        assert r.conversation_id is not None
        ids.append(r.conversation_id)
        await update_conversation(services.ctx, CLI, r.conversation_id, ConversationChanges(status="resolved"))
    survey = await services.db.query(lambda s: s.scalars(select(CsatSurvey).where(CsatSurvey.conversation_id == ids[1])).one())
    await csat_actions.rate(services.ctx, survey.id, 4, via="telegram")  # a button press: the rating alone
    token, comment_url = services.csat_url(survey.id, survey.expires_at)
    async with served(services, port):
        yield Node(services, config.server.public_url, ids[0], ids[1], comment_url)
    await services.db.dispose()


async def check(page: Any, name: str, tmp_path: Path, width: int, lang: str) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= width, f"{name}: a horizontal scroll at {width} px"
    if width == 390:
        bad = await axe_violations(page)
        assert not bad, "\n".join(bad)
    where = SHOTS or tmp_path  # FRONTDESK_SCREENSHOTS=1: screenshots/, like the other browser tests
    await asyncio.to_thread(where.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(where / f"csat-{name}-{lang}-{width}.png"), full_page=True)


async def test_the_conversation_card_and_the_comment_page(browser: Any, node: Node, tmp_path: Path) -> None:  # noqa: F811
    axe_source()  # installed, or the test stops here
    words = {
        "en": ("Survey queued; it goes out", "4 of 5", "Add a comment", "Send comment", "Your comment has been added"),
        "es": ("Encuesta en espera; sale el", "4 de 5", "Añadir un comentario", "Enviar comentario", "Su comentario se ha añadido"),
    }

    async def signed_in(width: int, lang: str) -> Any:
        context = await browser.new_context(viewport={"width": width, "height": 900}, locale="es-ES" if lang == "es" else "en-US")
        page = await context.new_page()
        await page.goto(f"{node.url}/login")
        await page.locator("input[name=email]").fill("rosa@example.com")
        await page.locator("input[name=password]").fill(PASSWORD)
        await page.locator("form[action='/login'] button[type=submit]").click()
        await page.wait_for_url(f"{node.url}/")
        return context, page

    for width in (390, 1366):
        for lang in ("en", "es"):
            context, page = await signed_in(width, lang)
            queued, of_five, title, send, _ = words[lang]
            await page.goto(f"{node.url}/conversations/{node.queued}")
            card = page.locator("section[aria-labelledby=csat-h]")
            assert queued in await card.inner_text()
            await card.scroll_into_view_if_needed()
            await check(page, "queued", tmp_path, width, lang)
            await page.goto(f"{node.url}/conversations/{node.rated}")
            assert of_five in await page.locator("section[aria-labelledby=csat-h]").inner_text()
            await check(page, "rated", tmp_path, width, lang)
            # The comment page (what Telegram's prompt and Slack's answer link to).
            await page.goto(f"{node.comment_url}?lang={lang}")
            assert await page.locator("h1").inner_text() == title
            assert await page.get_by_role("button", name=send).is_visible()
            await check(page, "comment", tmp_path, width, lang)
            await context.close()
    # By keyboard alone at 390 px: the comment, Tab, Enter; then it is on the agent's card.
    context, page = await signed_in(390, "en")
    await page.goto(node.comment_url)
    await page.get_by_role("textbox", name="Your comment").focus()
    await page.keyboard.type("Kind and quick")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.get_by_text(words["en"][4]).wait_for()
    await check(page, "commented", tmp_path, 390, "en")
    await page.goto(f"{node.url}/conversations/{node.rated}")
    assert "Kind and quick" in await page.locator("section[aria-labelledby=csat-h]").inner_text()
    await check(page, "rated-comment", tmp_path, 390, "en")
    await context.close()
