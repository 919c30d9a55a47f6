"""Channel webhooks: `POST /hooks/{type}/{channel}` handed to the channel's adapter."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from channels.base import WebhookRequest
from inbox.api.deps import Svc
from inbox.api.errors import ApiError

router = APIRouter(tags=["hooks"])


@router.post("/hooks/{channel_type}/{channel}", include_in_schema=False)
async def hook(svc: Svc, request: Request, channel_type: str, channel: str) -> Response:
    running = svc.channels.by_name(channel)
    if running is None or running.ref.type != channel_type:
        raise ApiError(404, f"no {channel_type} channel named {channel!r}")
    handler = getattr(running.adapter, "handle_webhook", None)
    if handler is None:
        raise ApiError(404, f"channel {channel!r} takes no webhooks")
    body = await request.body()
    if len(body) > svc.config.server.max_request_bytes:
        raise ApiError(413, "request body too large")
    reply = await handler(
        WebhookRequest(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            query=dict(request.query_params),
        )
    )
    return Response(content=reply.body, status_code=reply.status, media_type=reply.content_type, headers=reply.headers)
