"""Request dependencies: the node's services and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from inbox.auth import Principal, token_principal
from inbox.runtime.services import Services
from inbox.sessions import COOKIE
from inbox.web.callers import principal_from_cookie
from inbox.web.errors import ApiError
from inbox.web.ids import MAX_ID, BodyId, Id
from inbox.web.ratelimit import RateLimiter

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

__all__ = ["MAX_ID", "BodyId", "Id"]  # the bounds shared with the UI (inbox/web/ids.py)


async def services(request: Request) -> Services:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hop per request.
    svc: Services = request.app.state.services
    return svc


async def authenticate(svc: Services, authorization: str | None, cookie: str | None, method: str) -> Principal:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "expected 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"})
        principal = await svc.db.query_core(lambda conn: token_principal(conn, token.strip()))
        if principal is None:
            raise ApiError(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
        return principal
    async with svc.db.read() as session:
        # The browser session works for reads; changes from the UI go through its forms (CSRF).
        if cookie and method in SAFE_METHODS:
            principal = await principal_from_cookie(svc, cookie, session)
            if principal is not None:
                return principal
    raise ApiError(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})


async def caller_or_none(svc: Services, authorization: str | None, cookie: str | None) -> Principal | None:
    """`authenticate` for a read, answering None instead of an error (the stream's re-check)."""
    try:
        return await authenticate(svc, authorization, cookie, "GET")
    except ApiError:
        return None


async def current(request: Request, svc: Annotated[Services, Depends(services)]) -> Principal:
    who = await authenticate(svc, request.headers.get("authorization"), request.cookies.get(COOKIE), request.method)
    limiter: RateLimiter = request.app.state.api_limiter
    if not limiter.allow(f"agent:{who.agent_id}"):
        raise ApiError(
            429, f"more than {limiter.limit} requests in {limiter.window:g}s; slow down", headers={"Retry-After": str(int(limiter.window))}
        )
    return who


async def admin(who: Annotated[Principal, Depends(current)]) -> Principal:
    if not who.is_admin:
        raise ApiError(403, "admin role required")
    return who


Svc = Annotated[Services, Depends(services)]
Who = Annotated[Principal, Depends(current)]
Admin = Annotated[Principal, Depends(admin)]
