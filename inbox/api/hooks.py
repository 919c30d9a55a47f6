"""Channel webhooks: `POST /hooks/{type}/{channel}` handed to the channel's adapter.

Served by a small ASGI middleware in front of FastAPI's router: a burst of a thousand
signed Slack events (or Telegram updates) at once is answered only after each is
committed, and matching every request against all of the app's routes, with FastAPI's
dependency and exception layers around it, cost more than the rest of the request.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from channels.base import WebhookRequest
from inbox.api.errors import error_body
from inbox.services import Services

HOOK_PATH = re.compile(r"/hooks/(?P<type>[^/]+)/(?P<channel>[^/]+)")


class ChannelHooks:
    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = HOOK_PATH.fullmatch(scope["path"]) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        response = await self._handle(scope, receive, match["type"], match["channel"])
        await response(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, channel_type: str, channel: str) -> Response:
        if scope["method"] != "POST":
            return _error(405, "webhooks take POST", headers={"Allow": "POST"})
        running = self.services.channels.by_name(channel)
        if running is None or running.ref.type != channel_type:
            return _error(404, f"no {channel_type} channel named {channel!r}")
        handler = getattr(running.adapter, "handle_webhook", None)
        if handler is None:
            return _error(404, f"channel {channel!r} takes no webhooks")
        body = await _read_body(receive, self.services.config.server.max_request_bytes)
        if body is None:
            return _error(413, "request body too large")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        reply = await handler(WebhookRequest(method="POST", path=scope["path"], headers=headers, body=body, query=query))
        return Response(content=reply.body, status_code=reply.status, media_type=reply.content_type, headers=reply.headers)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)
