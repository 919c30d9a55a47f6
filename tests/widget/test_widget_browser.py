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
        },
        {"name": "shop", "type": "widget", "allowed_origins": [site.origin], "prechat": ["name", "email"]},
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


COUNT_SOCKETS = "window.__sockets = 0; (function (Real) { window.WebSocket = function (url, p) { window.__sockets += 1; return new Real(url, p); }; window.WebSocket.prototype = Real.prototype; })(window.WebSocket);"


async def test_a_visitor_page_view_costs_no_socket_and_a_quick_visitor_loses_nothing(
    browser: Any, node: Daemon, site: StaticSite, tmp_path: Path
) -> None:
    """No socket before the panel opens; the pre-chat form; 15 quick messages in order with
    no "retrying" note; times on messages; after a reload the badge counts only what is
    unread and the panel opens at the newest message; the agent sees who and where."""
    context = await browser.new_context(locale="en-US", timezone_id="America/Mexico_City")
    await context.add_init_script(COUNT_SOCKETS)
    page = await context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    shop = f'''<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Pricing · Shop</title></head>
<body><h1>Pricing</h1><script src="{node.url}/widget/shop.js" async></script></body></html>'''
    url = site.page("pricing.html", shop)
    await page.goto(url)
    await page.wait_for_function("() => typeof window.Frontdesk === 'object'")
    await page.get_by_role("button", name="Chat").wait_for()
    assert await page.evaluate("window.__sockets") == 0 and sockets == []  # a page view costs no socket

    await page.get_by_role("button", name="Chat").click()
    name_box = page.get_by_role("textbox", name="Your name")
    await name_box.wait_for()
    assert await page.get_by_role("textbox", name="Message").is_hidden()  # asked first
    await page.screenshot(path=str(tmp_path / "widget-prechat-1280.png"))
    await page.set_viewport_size({"width": 390, "height": 760})
    await page.screenshot(path=str(tmp_path / "widget-prechat-390.png"))
    await page.set_viewport_size({"width": 1280, "height": 800})
    assert await page.evaluate("window.__sockets") == 1
    await name_box.fill("Lucía Pérez")
    await page.get_by_role("textbox", name="Your email").fill("lucia@example.com")
    await page.get_by_role("button", name="Start the chat").click()

    box = page.get_by_role("textbox", name="Message")
    for n in range(15):  # as fast as the page takes them
        await box.fill(f"quick {n}")
        await box.press("Enter")
    log = page.get_by_role("log")
    await log.get_by_text("quick 14", exact=True).wait_for()

    def shop_conversation() -> dict[str, Any] | None:
        return next((c for c in conversations(node) if c["channel"] == "shop"), None)

    found = await asyncio.to_thread(wait_until, shop_conversation, 30, 0.1, "the conversation")
    await asyncio.to_thread(wait_until, lambda: len(texts(node, found["id"])) == 15, 60, 0.1, "all 15 messages")
    assert texts(node, found["id"]) == [f"quick {n}" for n in range(15)]
    await page.wait_for_function("() => !document.querySelector('[data-frontdesk=shop]').shadowRoot.querySelector('.msg.pending')")
    assert await log.get_by_text("retrying").count() == 0 and await log.locator(".note").count() == 0
    times = log.locator(".msg time")
    assert await times.count() >= 15
    assert (await times.last.get_attribute("datetime") or "").endswith("Z")
    with agent(node) as client:
        contact = client.get(f"/api/v1/conversations/{found['id']}").json()["contact"]
    assert contact["name"] == "Lucía Pérez" and contact.get("email") is None  # the claimed email is not a verified one

    await page.get_by_role("button", name="Close").click()
    with agent(node) as client:
        for text in ("First answer", "Second answer"):
            client.post(f"/api/v1/conversations/{found['id']}/messages", json={"text": text})
    await page.get_by_role("button", name="Chat (2 new messages)").wait_for()
    await page.reload()
    await page.get_by_role("button", name="Chat (2 new messages)").wait_for()  # still unread, not the whole transcript
    await page.get_by_role("button", name="Chat (2 new messages)").click()
    await log.get_by_text("Second answer").wait_for()
    at_bottom = "() => { const l = document.querySelector('[data-frontdesk=shop]').shadowRoot.querySelector('.log'); return l.scrollHeight > l.clientHeight && l.scrollTop + l.clientHeight >= l.scrollHeight - 2; }"
    await page.wait_for_function(at_bottom)
    assert (
        await page.get_by_role("textbox", name="Your name").count() == 0 or await page.get_by_role("textbox", name="Your name").is_hidden()
    )
    await page.screenshot(path=str(tmp_path / "widget-open-1280.png"))
    await page.set_viewport_size({"width": 390, "height": 760})
    await page.screenshot(path=str(tmp_path / "widget-open-390.png"))
    await page.reload()
    await page.get_by_role("button", name="Chat", exact=True).wait_for()  # everything was read

    desk = await (await browser.new_context(locale="en-US")).new_page()
    await desk.goto(f"{node.url}/login")
    await desk.get_by_label("Email").fill("root@example.com")
    await desk.get_by_label("Password").fill("correct horse battery")
    await desk.get_by_role("button", name="Sign in").click()
    await desk.wait_for_url(f"{node.url}/")  # signed in: going on sooner would cancel the form's POST
    await desk.goto(f"{node.url}/conversations/{found['id']}")
    visitor = desk.get_by_role("region", name="Visitor")
    await visitor.get_by_role("link", name="Pricing · Shop").wait_for()
    assert await visitor.get_by_role("link", name="Pricing · Shop").get_attribute("href") == url
    assert "America/Mexico_City" in await visitor.inner_text()
    assert "lucia@example.com" in await visitor.inner_text() and "not verified" in await visitor.inner_text()
    await visitor.screenshot(path=str(tmp_path / "visitor-block-1280.png"))
    await desk.set_viewport_size({"width": 390, "height": 800})
    await visitor.scroll_into_view_if_needed()
    await desk.screenshot(path=str(tmp_path / "visitor-block-390.png"), full_page=True)
    assert await visitor.evaluate("el => el.scrollWidth <= el.clientWidth")  # long URLs wrap inside the block
