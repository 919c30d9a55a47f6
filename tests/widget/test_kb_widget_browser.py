"""Help articles in the widget, in a real browser (Debian Chromium via Playwright): while
the visitor types, matching published articles appear before anything is sent; drafts
never do; Spanish visitors get Spanish articles, accents or not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.browser import StaticSite, browser, site
from tests.fixtures.daemon import Daemon
from tests.fixtures.databases import clone_sqlite

pytestmark = pytest.mark.browser

ARTICLES = {
    "reset-password.en.md": "---\ntitle: Reset your password\ncategory: Account\n---\nClick **Forgot password** on the sign-in page.\n",
    "reset-password.es.md": "---\ntitle: Restablecer la contraseña\ncategory: Cuenta\n---\nPulsa **¿Olvidaste tu contraseña?** al iniciar sesión.\n",
    "shipping.en.md": "---\ntitle: When will my parcel arrive?\ncategory: Orders\n---\nParcels arrive in two to three days.\n",
    "passwords-draft.en.md": "---\ntitle: Password rules coming soon\nstatus: draft\n---\nDraft about passwords.\n",
}


@pytest.fixture
def node(tmp_path: Path, sqlite_template: Path, site: StaticSite) -> Any:
    daemon = Daemon(workdir=tmp_path, db_url=clone_sqlite(sqlite_template, tmp_path))
    daemon.channels = [{"name": "website", "type": "widget", "allowed_origins": [site.origin], "title": "Help", "title_es": "Ayuda"}]
    daemon.token = daemon.admin_token()  # type: ignore[attr-defined]
    folder = tmp_path / "kb"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text)
    assert "4 created" in daemon.cli("kb", "import", str(folder)).stdout
    daemon.start()
    yield daemon
    daemon.stop()


def host_page(node: Daemon) -> str:
    return f'<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head><body><h1>Shop</h1><script src="{node.url}/widget/website.js" async></script></body></html>'


def conversation_count(node: Daemon) -> int:
    headers = {"Authorization": f"Bearer {node.token}"}  # type: ignore[attr-defined]
    return len(httpx.get(f"{node.url}/api/v1/conversations", headers=headers, timeout=30).json()["items"])


async def test_typing_suggests_published_articles_before_sending(browser: Any, node: Daemon, site: StaticSite, tmp_path: Path) -> None:
    page = await (await browser.new_context(locale="en-US")).new_page()
    await page.goto(site.page("kb.html", host_page(node)))
    await page.get_by_role("button", name="Chat").click()
    box = page.get_by_role("textbox", name="Message")
    await box.press_sequentially("I forgot my passw", delay=20)
    suggestions = page.get_by_role("region", name="These articles may help")
    link = suggestions.get_by_role("link", name="Reset your password")
    await link.wait_for()
    assert await link.get_attribute("href") == f"{node.url}/help/en/reset-your-password"
    assert await suggestions.get_by_role("link", name="Password rules coming soon").count() == 0  # a draft
    assert conversation_count(node) == 0  # nothing was sent while typing
    await page.screenshot(path=str(tmp_path / "widget-kb-en.png"))
    await box.fill("")
    await box.press_sequentially("where is my parcel", delay=20)
    await suggestions.get_by_role("link", name="When will my parcel arrive?").wait_for()
    await page.get_by_role("button", name="Send").click()
    await suggestions.wait_for(state="hidden")


async def test_spanish_visitor_gets_spanish_articles_without_accents(browser: Any, node: Daemon, site: StaticSite) -> None:
    page = await (await browser.new_context(locale="es-ES")).new_page()
    await page.goto(site.page("kb-es.html", host_page(node)))
    await page.get_by_role("button", name="Chat").click()
    await page.get_by_role("textbox", name="Mensaje").press_sequentially("olvide mi contrasena", delay=20)
    suggestions = page.get_by_role("region", name="Estos artículos pueden ayudarte")
    await suggestions.get_by_role("link", name="Restablecer la contraseña").wait_for()
    assert await suggestions.get_by_role("link", name="Reset your password").count() == 0
