"""HTTP routes of the widget: the embed script, a demo page and the visitor websocket."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response

from widget.gateway import Gateway, GatewayChannel

STATIC = Path(__file__).resolve().parent / "static"


@lru_cache(maxsize=1)
def widget_source() -> str:
    return (STATIC / "widget.js").read_text(encoding="utf-8")


def script_for(info: GatewayChannel) -> str:
    c = info.config
    config = {
        "channel": c.name,
        "endpoint": info.public_url,
        "title": c.title,
        "title_es": c.title_es,
        "color": c.color,
        "greeting": c.greeting,
        "greeting_es": c.greeting_es,
    }
    # JSON is valid JavaScript; "</" is escaped so the config can never end a <script>.
    literal = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    return f"var FRONTDESK_CONFIG = {literal};\n{widget_source()}"


def build_router(gateway: Gateway, channel: Callable[[str], GatewayChannel | None]) -> APIRouter:
    router = APIRouter(tags=["widget"])

    def missing(name: str) -> JSONResponse:
        return JSONResponse({"error": {"code": "not_found", "message": f"no widget channel named {name!r}"}}, status_code=404)

    @router.get("/widget/{name}.js", include_in_schema=False)
    async def embed_script(name: str) -> Response:
        info = channel(name)
        if info is None:
            return missing(name)
        return Response(
            script_for(info),
            media_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    @router.get("/widget/{name}/demo", include_in_schema=False)
    async def demo(name: str) -> Response:
        info = channel(name)
        if info is None:
            return missing(name)
        src = html.escape(f"{info.public_url}/widget/{name}.js")
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Frontdesk widget demo</title>
<style>body{{font:16px/1.6 system-ui,sans-serif;max-width:720px;margin:3rem auto;padding:0 1.25rem;color:#1d2330}}code{{background:#f1f3f6;padding:.1rem .3rem;border-radius:4px}}</style>
</head><body>
<h1>Frontdesk chat widget</h1>
<p>This page embeds the <strong>{html.escape(name)}</strong> channel's widget with one tag:</p>
<p><code>&lt;script src="{src}" async&gt;&lt;/script&gt;</code></p>
<p>Open the chat with the button at the bottom right, write, and answer from the agent inbox.</p>
<script src="{src}" async></script>
</body></html>"""
        return HTMLResponse(page)

    @router.websocket("/widget/{name}/ws")
    async def visitor_socket(websocket: WebSocket, name: str) -> None:
        await gateway.serve(websocket, name)

    return router
