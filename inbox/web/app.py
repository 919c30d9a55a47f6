"""The HTTP application: health, metrics, the REST API, channel hooks and the agent UI."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channels.widget import WidgetChannel
from inbox.errors import DomainError
from inbox.pipeline.widget_store import WidgetTranscripts
from inbox.runtime.services import Services
from inbox.store import migrate
from inbox.web import api_docs, csat_pages, help_center, portal, status_page
from inbox.web.api import (
    admin,
    attachments,
    changes,
    contacts,
    conversations,
    csat,
    errors,
    events,
    incident_suggestions,
    kb,
    macros,
    merges,
    reports,
    request_types,
    routing_admin,
    tickets,
    views,
    webhooks,
)
from inbox.web.api import services as services_api
from inbox.web.api.hooks import ChannelHooks
from inbox.web.errors import ApiError
from inbox.web.ratelimit import RateLimiter
from inbox.web.ui import errors as ui_errors
from inbox.web.ui import routes as ui
from widget.gateway import Gateway, GatewayChannel
from widget.routes import VisitorSockets, build_router

# Paths whose callers are programs, not an agent's browser: their errors are the API's JSON.
MACHINE_PATHS = ("/api/", "/hooks/", "/widget/", "/attachments/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs/")


class BodyLimit:
    """Refuse request bodies over the limit with 413 before reading them whole."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"")
        limit = self.upload_limit if content_type.startswith(b"multipart/") else self.limit
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(scope, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(scope, send)


class _TooLarge(Exception):
    pass


async def _too_large(scope: Scope, send: Send) -> None:
    response: Response
    if scope.get("path", "").startswith(MACHINE_PATHS):
        response = JSONResponse(errors.error_body(413, "request body too large"), status_code=413)
    else:
        response = await ui_errors.error_page(Request(scope, _nothing), 413)
    await response({"type": "http"}, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


def _bearer_is(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def widget_channel(services: Services, name: str) -> GatewayChannel | None:
    running = services.channels.by_name(name)
    if running is None or not isinstance(running.adapter, WidgetChannel):
        return None
    return GatewayChannel(running.adapter.config, running.adapter.sink, services.config.server.public_url)


def widget_gateway(services: Services) -> tuple[Gateway, Callable[[str], GatewayChannel | None]]:
    def lookup(name: str) -> GatewayChannel | None:
        return widget_channel(services, name)

    return Gateway(
        services.config.server.secret_key, WidgetTranscripts(services.db, csat_url=services.csat_url), services.bus, lookup
    ), lookup


class FrontdeskApp(FastAPI):
    """FastAPI with a front door for the two paths that come in bursts and crowds.

    `/hooks/{type}/{channel}` (a thousand signed Slack events at once) and
    `/widget/{name}/ws` (thousands of idle visitors) are answered before FastAPI's own
    layers: its per-request telemetry check, the error, exception and body-limit
    middleware and the router cost more than a webhook's own work, and each layer a
    websocket sits under is held for as long as the visitor stays.
    """

    front_door: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front_door is None:
            await super().__call__(scope, receive, send)
        else:
            await self.front_door(scope, receive, send)

    async def behind_front_door(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


# Every error the app answers itself; one mapping per surface (api/errors.py, ui/errors.py).
MAPPED_ERRORS = (ApiError, DomainError, RequestValidationError, StarletteHTTPException, ui.PageRefused)


def _answer_errors(app: FastAPI) -> None:
    """A refusal is JSON for a program (the API, hooks, the widget's calls, health) and an
    HTML page for a browser anywhere else; the help center keeps its own not-found page."""

    async def _answer(request: Request, exc: Exception) -> Response:
        path = request.url.path
        # A browser opening a page under a machine path (an old attachment link) reads a
        # page too; the API itself always answers in JSON.
        browsing = "text/html" in request.headers.get("accept", "") and not path.startswith(("/api/", "/openapi.json"))
        if path.startswith(MACHINE_PATHS) and not browsing and not isinstance(exc, ui.PageRefused):
            return await errors.answer(request, exc)
        if path.startswith("/help/") and isinstance(exc, StarletteHTTPException) and exc.status_code == 404:
            return help_center.not_found(request, path.split("/")[2])
        return await ui_errors.answer(request, exc)

    for kind in MAPPED_ERRORS:
        app.add_exception_handler(kind, _answer)


def create_app(services: Services) -> FrontdeskApp:
    app = FrontdeskApp(
        title="Frontdesk",
        version="0.1.0",
        description="Multichannel customer-support inbox. Authenticate with `Authorization: Bearer <token>`.",
        docs_url=None,  # served by api_docs from a package's own files (no CDN)
        redoc_url=None,
    )
    app.state.services = services
    app.state.api_limiter = RateLimiter(services.config.server.api_requests_per_minute, 60.0)
    _answer_errors(app)
    head = migrate.head_revision()

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        try:
            await services.db.ping()
        except Exception as exc:
            return JSONResponse(errors.error_body(503, f"database unreachable: {type(exc).__name__}", "not_ready"), status_code=503)
        current = await migrate.current_revision(services.db)
        if current != head:
            return JSONResponse(
                errors.error_body(503, f"migrations not current (database {current}, code {head}); run `frontdesk migrate`", "not_ready"),
                status_code=503,
            )
        return JSONResponse({"status": "ready", "revision": current})

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        token = services.config.server.metrics_token
        if token is not None and not _bearer_is(request, token):
            return JSONResponse(
                errors.error_body(401, "GET /metrics needs Authorization: Bearer <server.metrics_token>"),
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for module in (
        conversations,
        merges,
        contacts,
        tickets,
        routing_admin,
        admin,
        events,
        attachments,
        kb,
        views,
        macros,
        webhooks,
        request_types,
        changes,
        incident_suggestions,
        services_api,
        csat,
        reports,
    ):
        app.include_router(module.router)
    gateway, lookup = widget_gateway(services)
    app.state.widget_gateway = gateway  # the daemon stops its hub on shutdown
    app.include_router(build_router(gateway, lookup))
    api_docs.install(app)
    ui.install(app)
    app.include_router(help_center.router)
    app.include_router(portal.router)
    app.include_router(status_page.router)
    app.include_router(csat_pages.router)
    app.add_middleware(BodyLimit, limit=services.config.server.max_request_bytes, upload_limit=services.config.server.max_upload_bytes)
    app.front_door = ChannelHooks(VisitorSockets(app.behind_front_door, gateway=gateway), services=services)
    return app
