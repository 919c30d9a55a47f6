"""Channel webhooks: `POST /hooks/{type}/{channel}` handed to the channel's adapter.

Served by a small ASGI middleware in front of FastAPI (`inbox.web.app.FrontdeskApp`): a
burst of a thousand signed Slack events (or Telegram updates) at once is answered only
after each is committed, and FastAPI's middleware, routing and dependency layers around
each request cost more than the rest of it. Being outside FastAPI's error middleware,
it answers a failing adapter with a JSON 500 itself (Slack and Telegram then retry).
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from channels.base import SupportsWebhook, WebhookRequest, WebhookResponse
from inbox.runtime.services import Services
from inbox.web.errors import error_body

log = logging.getLogger(__name__)

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
        reply = await self._handle(scope, receive, match["type"], match["channel"])
        # Sent as two plain ASGI messages: a Response object per request showed up in a burst.
        headers = [(b"content-type", reply.content_type.encode("latin-1")), (b"content-length", b"%d" % len(reply.body))]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    async def _handle(self, scope: Scope, receive: Receive, channel_type: str, channel: str) -> WebhookResponse:
        if scope["method"] != "POST":
            return _error(405, "webhooks take POST", headers={"Allow": "POST"})
        running = self.services.channels.by_name(channel)
        if running is None or running.ref.type != channel_type:
            return _error(404, f"no {channel_type} channel named {channel!r}")
        adapter = running.adapter
        if not isinstance(adapter, SupportsWebhook):
            return _error(404, f"channel {channel!r} takes no webhooks")
        handler = adapter.handle_webhook
        body = await _read_body(receive, self.services.config.server.max_request_bytes)
        if body is None:
            return _error(413, "request body too large")
        # ASGI servers give header names in lower case.
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query_string = scope.get("query_string", b"")
        query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)) if query_string else {}
        try:
            return await handler(WebhookRequest(method="POST", path=scope["path"], headers=headers, body=body, query=query))
        except Exception:
            log.exception("%s channel %s: webhook request failed", channel_type, channel)
            return _error(500, "the channel could not take this request; send it again")


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


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> WebhookResponse:
    return WebhookResponse(status=status, body=json.dumps(error_body(status, message)).encode(), headers=headers or {})
