"""HTTP routes of the widget (the embed script, a demo page, uploads and files) and the
middleware that serves the visitor websocket."""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from channels.base import InboundAttachment
from channels.files import INLINE_IMAGE_TYPES, download_headers
from widget.gateway import Gateway, GatewayChannel, UploadError, upload

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
        "prechat": list(c.prechat),
    }
    # JSON is valid JavaScript; "</" is escaped so the config can never end a <script>.
    literal = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    return f"var FRONTDESK_CONFIG = {literal};\n{widget_source()}"


LONG_CACHE = "public, max-age=31536000, immutable"  # a versioned URL never changes
SHORT_CACHE = "public, max-age=300"  # the unversioned URL follows changes within minutes


@dataclass(frozen=True, slots=True)
class EmbedScript:
    """One channel's script as served: its bytes, gzipped bytes and content hash."""

    body: bytes
    gzipped: bytes
    version: str  # the first 16 hex digits of its SHA-256: the `?v=` of its URL

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


@lru_cache(maxsize=64)
def _embed(source: str) -> EmbedScript:
    body = source.encode("utf-8")
    return EmbedScript(body, gzip.compress(body, 9, mtime=0), hashlib.sha256(body).hexdigest()[:16])


def embed_script(info: GatewayChannel) -> EmbedScript:
    return _embed(script_for(info))


def script_url(info: GatewayChannel) -> str:
    """The versioned embed URL (cached for a year; a new version is a new URL)."""
    return f"{info.public_url}/widget/{info.config.name}.js?v={embed_script(info).version}"


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _etag_matches(header: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def build_router(gateway: Gateway, channel: Callable[[str], GatewayChannel | None]) -> APIRouter:
    router = APIRouter(tags=["widget"])

    def missing(name: str) -> JSONResponse:
        return JSONResponse({"error": {"code": "not_found", "message": f"no widget channel named {name!r}"}}, status_code=404)

    @router.get("/widget/{name}.js", include_in_schema=False)
    async def serve_script(name: str, request: Request, v: str = "") -> Response:
        """The embed script: with `?v=` of its current version cached for a year, else for
        minutes; an ETag (304 on If-None-Match) and gzip when the browser takes it."""
        info = channel(name)
        if info is None:
            return missing(name)
        script = embed_script(info)
        headers = {
            "Cache-Control": LONG_CACHE if v == script.version else SHORT_CACHE,
            "ETag": script.etag,
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if _etag_matches(request.headers.get("if-none-match", ""), script.etag):
            return Response(status_code=304, headers=headers)
        body = script.body
        if _accepts_gzip(request.headers.get("accept-encoding", "")):
            body = script.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type="application/javascript; charset=utf-8", headers=headers)

    @router.get("/widget/{name}/demo", include_in_schema=False)
    async def demo(name: str) -> Response:
        info = channel(name)
        if info is None:
            return missing(name)
        src = html.escape(script_url(info))
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

    def cors(info: GatewayChannel, request: Request) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin and gateway.origin_allowed(info, origin):
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {}

    def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)

    @router.post("/widget/{name}/upload", include_in_schema=False)
    async def visitor_upload(name: str, request: Request) -> Response:
        """A visitor's file: multipart `ticket`, `client_id`, `file` and an optional `text`."""
        info = channel(name)
        if info is None:
            return missing(name)
        headers = cors(info, request)
        origin = request.headers.get("origin")
        if origin is not None and not headers:
            return error(403, "origin_not_allowed", "this page may not use the widget", headers)
        limit = info.config.max_upload_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + 64 * 1024:
            return error(413, "too_large", f"a file has at most {limit} bytes", headers)
        try:
            form = await request.form(max_files=1, max_fields=8)
        except Exception:
            return error(400, "bad_form", "expected multipart/form-data with ticket, client_id and file", headers)
        file = form.get("file")
        ticket, client_id, text = (form.get(k) for k in ("ticket", "client_id", "text"))
        if not isinstance(file, UploadFile) or not isinstance(client_id, str) or not isinstance(ticket, str):
            return error(422, "bad_form", "ticket, client_id and file are required", headers)
        data = await file.read(limit + 1)
        if len(data) > limit:
            return error(413, "too_large", f"a file has at most {limit} bytes", headers)
        if not data:
            return error(422, "empty", "the file is empty", headers)
        attachment = InboundAttachment(
            filename=(file.filename or "file")[-255:],
            content_type=(file.content_type or "application/octet-stream")[:255],
            data=data,
        )
        try:
            result = await upload(gateway, info, ticket, client_id, text if isinstance(text, str) else "", attachment)
        except UploadError as exc:
            return error(exc.status, exc.code, str(exc), headers)
        return JSONResponse(
            {"id": result.message_id, "duplicate": result.duplicate, "client_id": client_id}, status_code=201, headers=headers
        )

    @router.get("/widget/{name}/files/{attachment_id}", include_in_schema=False)
    async def visitor_file(name: str, attachment_id: int, sig: str = "") -> Response:
        """A file of the visitor's conversation, by the signed link the gateway gave them."""
        info = channel(name)
        if info is None:
            return missing(name)
        signer = gateway.signer(name)
        found = await gateway.store.file(attachment_id) if signer.file_ok(attachment_id, sig) else None
        if found is None or found.channel != name:
            return error(404, "not_found", "no such file")
        content_type = found.content_type.split(";")[0].strip().lower()
        inline = content_type in INLINE_IMAGE_TYPES
        return Response(
            found.data, media_type=content_type if inline else "application/octet-stream", headers=download_headers(found.name, inline)
        )

    return router


SOCKET_PATH = re.compile(r"/widget/(?P<name>[^/]+)/ws")


def _socket_channel(scope: Scope) -> str | None:
    match = SOCKET_PATH.fullmatch(scope["path"])
    return match["name"] if match else None


class VisitorSockets:
    """ASGI middleware: hands `/widget/{name}/ws` websockets straight to the gateway.

    Outside FastAPI's routing, dependency and error layers, each waiting one coroutine
    deep, an idle visitor's socket holds a handful of objects instead of hundreds: less
    memory per visitor, and less for the cycle collector to walk with thousands open.
    """

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = _socket_channel(scope) if scope["type"] == "websocket" else None
        if name is not None:
            await self.gateway.serve(WebSocket(scope, receive, send), name)
            return
        await self.app(scope, receive, send)
