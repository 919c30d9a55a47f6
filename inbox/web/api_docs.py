"""`/api/docs`: Swagger UI from the files an installed package ships (fastapi-offline), so
the API's page works on a network with no way out; its one inline start-up script is
allowed by hash in the page's Content-Security-Policy, nothing else inline is."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/api/docs/assets"


def _page(openapi_url: str, title: str) -> tuple[str, dict[str, str]]:
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} · API",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )
    html = bytes(page.body).decode()
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    )
    policy = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
    )
    return html, {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff"}


def install(app: FastAPI, *, path: str = "/api/docs") -> None:
    """Serve Swagger UI at `path` (create the app with `docs_url=None`)."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(ASSETS)), name="api-docs-assets")
    html, headers = _page(app.openapi_url or "/openapi.json", app.title)

    @app.get(path, include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)
