"""The widget in a real browser (Debian Chromium via Playwright), embedded on a page of
another local origin: open, send, the agent's reply, reload, Spanish, identity, origins,
and a server restart with nothing lost or doubled."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.browser import StaticSite, browser, site
from tests.fixtures.daemon import Daemon, wait_until
from tests.fixtures.databases import clone_sqlite
from widget.tokens import identity_hmac

SECRET = "browser-identity-secret"


def host_page(node: Daemon, extra: str = "") -> str:
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<style>* {{ font-family: Comic Sans MS !important; color: red !important }} button {{ display: none !important }}</style>
</head><body><h1>Our shop</h1>
<script src="{node.url}/widget/website.js" async></script>{extra}</body></html>"""


@pytest.fixture
def node(tmp_path: Path, sqlite_template: Path, site: StaticSite) -> Any:
    daemon = Daemon(workdir=tmp_path, db_url=clone_sqlite(sqlite_template, tmp_path))
    daemon.channels = [
        {
            "name": "website",
            "type": "widget",
            "allowed_origins": [site.origin],
            "identity_secret": SECRET,
            "title": "Help",
            "title_es": "Ayuda",
        }
    ]
    daemon.token = daemon.admin_token()  # type: ignore[attr-defined]
    daemon.start()
    yield daemon
    daemon.stop()


def agent(node: Daemon) -> httpx.Client:
    return httpx.Client(base_url=node.url, headers={"Authorization": f"Bearer {node.token}"}, timeout=30)  # type: ignore[attr-defined]


def conversations(node: Daemon) -> list[dict[str, Any]]:
    with agent(node) as client:
        return client.get("/api/v1/conversations").json()["items"]


def texts(node: Daemon, conversation_id: int) -> list[str]:
    with agent(node) as client:
        return [m["text"] for m in client.get(f"/api/v1/conversations/{conversation_id}/messages").json()["items"]]


async def test_visitor_chats_with_an_agent_and_the_transcript_survives_a_reload(
    browser: Any, node: Daemon, site: StaticSite, tmp_path: Path
) -> None:
    page = await (await browser.new_context(locale="en-US")).new_page()
    await page.goto(site.page("index.html", host_page(node)))
    launcher = page.get_by_role("button", name="Chat")
    await launcher.click()
    await page.get_by_role("textbox", name="Message").fill("Where is my parcel?")
    await page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log")
    await log.get_by_text("Where is my parcel?").wait_for()
    [conversation] = await asyncio.to_thread(wait_until, lambda: conversations(node), 30, 0.1, "the conversation")
    with agent(node) as client:
        client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "It arrives tomorrow."})
    await log.get_by_text("It arrives tomorrow.").wait_for()
    await page.screenshot(path=str(tmp_path / "widget-open-en.png"))
    await page.reload()
    await page.get_by_role("button", name="Chat").click()
    await page.get_by_role("log").get_by_text("It arrives tomorrow.").wait_for()
    assert await page.get_by_role("log").get_by_text("Where is my parcel?").count() == 1
    assert texts(node, conversation["id"]) == ["Where is my parcel?", "It arrives tomorrow."]


async def test_spanish_visitor_sees_spanish_and_host_css_cannot_hide_the_widget(
    browser: Any, node: Daemon, site: StaticSite, tmp_path: Path
) -> None:
    page = await (await browser.new_context(locale="es-ES")).new_page()
    await page.goto(site.page("es.html", host_page(node)))
    await page.get_by_role("button", name="Chat").click()  # the host's `button {display:none}` does not reach it
    await page.get_by_role("dialog", name="Ayuda").wait_for()
    await page.get_by_role("textbox", name="Mensaje").fill("Hola")
    await page.get_by_role("button", name="Enviar").click()
    await page.get_by_role("log").get_by_text("Hola", exact=True).wait_for()
    await page.screenshot(path=str(tmp_path / "widget-open-es.png"))


async def test_unread_badge_and_page_api(browser: Any, node: Daemon, site: StaticSite) -> None:
    page = await (await browser.new_context(locale="en-US")).new_page()
    extra = "<script>window.addEventListener('frontdesk:ready', function () { window.got = []; Frontdesk.on('message', function (m) { window.got.push(m.text); }); });</script>"
    await page.goto(site.page("api.html", host_page(node, extra)))
    await page.wait_for_function("() => typeof window.Frontdesk === 'object' && Array.isArray(window.got)")
    await page.evaluate("Frontdesk.open()")
    await page.get_by_role("textbox", name="Message").fill("hi")
    await page.get_by_role("button", name="Send").click()
    [conversation] = await asyncio.to_thread(wait_until, lambda: conversations(node), 30, 0.1, "the conversation")
    await page.evaluate("Frontdesk.close()")
    with agent(node) as client:
        client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "ping from agent"})
    await page.get_by_role("button", name="Chat (1 new messages)").wait_for()
    assert await page.evaluate("window.got") == ["ping from agent"]


async def test_identify_needs_a_valid_hmac(browser: Any, node: Daemon, site: StaticSite) -> None:
    good = identity_hmac(SECRET, "u-7")
    for name, mac, expected_email in (("good.html", good, "ana@example.com"), ("bad.html", "f" * 64, None)):
        context = await browser.new_context(locale="en-US")
        page = await context.new_page()
        call = f"<script>window.addEventListener('frontdesk:ready', function () {{ Frontdesk.identify({{id: 'u-7', email: 'ana@example.com', name: 'Ana', hmac: '{mac}'}}); }});</script>"
        await page.goto(site.page(name, host_page(node, call)))
        await page.get_by_role("button", name="Chat").click()
        await page.get_by_role("textbox", name="Message").fill(f"hello from {name}")
        await page.get_by_role("button", name="Send").click()
        await page.get_by_role("log").get_by_text(f"hello from {name}").wait_for()

        def convo(name: str = name) -> dict[str, Any] | None:
            return next((c for c in conversations(node) if f"hello from {name}" in texts(node, c["id"])), None)

        found = await asyncio.to_thread(wait_until, convo, 30, 0.1, "the conversation")
        assert found["contact"]["email"] == expected_email
        await context.close()


async def test_a_page_on_a_disallowed_origin_gets_no_chat(browser: Any, node: Daemon, tmp_path: Path) -> None:
    other = StaticSite(tmp_path)  # a different port: a different origin, not allowed
    other.thread.start()
    try:
        page = await (await browser.new_context()).new_page()
        refused: list[str] = []
        page.on("websocket", lambda ws: ws.on("close", lambda _ws: refused.append(ws.url)))
        await page.goto(other.page("evil.html", host_page(node)))
        await page.get_by_role("button", name="Chat").click()
        await page.get_by_role("textbox", name="Message").fill("should not arrive")
        await page.get_by_role("button", name="Send").click()
        await asyncio.to_thread(wait_until, lambda: refused, 30, 0.1, "the refused websocket")
        assert conversations(node) == []
    finally:
        other.server.shutdown()


async def test_server_restart_nothing_lost_or_doubled(browser: Any, node: Daemon, site: StaticSite) -> None:
    page = await (await browser.new_context(locale="en-US")).new_page()
    await page.goto(site.page("restart.html", host_page(node)))
    await page.get_by_role("button", name="Chat").click()
    box, send = page.get_by_role("textbox", name="Message"), page.get_by_role("button", name="Send")
    await box.fill("before restart")
    await send.click()
    [conversation] = await asyncio.to_thread(wait_until, lambda: conversations(node), 30, 0.1, "the conversation")
    await asyncio.to_thread(node.stop)
    await box.fill("while the server is down")  # kept and resent with the same client id
    await send.click()
    await asyncio.to_thread(node.start)
    await asyncio.to_thread(wait_until, lambda: len(texts(node, conversation["id"])) == 2, 60, 0.2, "the resent message")
    with agent(node) as client:
        client.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "we are back"})
    await page.get_by_role("log").get_by_text("we are back").wait_for(timeout=60000)
    assert texts(node, conversation["id"]) == ["before restart", "while the server is down", "we are back"]
    assert await page.get_by_role("log").get_by_text("while the server is down").count() == 1


async def test_visitor_attaches_a_file_and_sees_the_agent_typing(browser: Any, node: Daemon, site: StaticSite, tmp_path: Path) -> None:
    page = await (await browser.new_context(locale="en-US")).new_page()
    await page.goto(site.page("files.html", host_page(node)))
    await page.get_by_role("button", name="Chat").click()
    await page.get_by_role("textbox", name="Message").fill("Hello")
    await page.get_by_role("button", name="Send").click()
    [conversation] = await asyncio.to_thread(wait_until, lambda: conversations(node), 30, 0.1, "the conversation")
    async with page.expect_file_chooser() as chooser:
        await page.get_by_role("button", name="Attach a file").click()
    report = tmp_path / "report.txt"
    report.write_text("line one\n")
    await (await chooser.value).set_files(str(report))
    log = page.get_by_role("log")
    await log.get_by_role("link", name="report.txt").wait_for()

    def stored() -> list[dict[str, Any]]:
        with agent(node) as client:
            items = client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()["items"]
        return [a for m in items for a in m["attachments"]]

    [attachment] = await asyncio.to_thread(wait_until, stored, 30, 0.1, "the attachment")
    assert attachment["filename"] == "report.txt"
    with agent(node) as client:
        client.post(f"/api/v1/conversations/{conversation['id']}/typing")
    await page.get_by_text("Root is typing…").wait_for()
    await page.screenshot(path=str(tmp_path / "widget-file-typing.png"))
