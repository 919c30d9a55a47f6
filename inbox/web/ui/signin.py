"""Signing in from the UI: the sign-in form's CSRF token, its throttle, opening a session.

The page handlers are in inbox/web/ui/routes.py; what they share with "Sign out
everywhere" (inbox/web/ui/session_pages.py) is here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from inbox.actions.runner import Actor
from inbox.actions.sessions import start_session
from inbox.auth import principal_of
from inbox.runtime.services import Services
from inbox.sessions import COOKIE, LOGIN_COOKIE, MAX_AGE
from inbox.store.models import Agent
from inbox.web.login_throttle import LoginThrottle, seconds

if TYPE_CHECKING:
    from inbox.web.ui.routes import Page

LOGIN_COOKIE_AGE = 12 * 3600


def client_of(request: Request) -> str:
    return request.client.host if request.client else "?"


def throttle_of(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


def login_page(page: Page, request: Request, http_status: int = 200, **context: Any) -> HTMLResponse:
    """The sign-in form, with its CSRF token (and the cookie behind it, if the browser has none)."""
    svc: Services = request.app.state.services
    nonce = request.cookies.get(LOGIN_COOKIE) or svc.sessions.new_nonce()
    response = page.render("ui/login.html", http_status, login_csrf=svc.sessions.login_token(nonce), **context)
    if request.cookies.get(LOGIN_COOKIE) != nonce:
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=LOGIN_COOKIE_AGE,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def login_csrf_ok(request: Request, submitted: str) -> bool:
    svc: Services = request.app.state.services
    return svc.sessions.login_ok(request.cookies.get(LOGIN_COOKIE), submitted)


def too_many(page: Page, request: Request, wait: float, email: str) -> HTMLResponse:
    """The sign-in form while a throttle delay runs: 429 and how long to wait."""
    response = login_page(page, request, 429, error=page.t("too_many").format(seconds=seconds(wait)), email=email)
    response.headers["Retry-After"] = str(seconds(wait))
    return response


async def open_session(response: Response, request: Request, agent: Agent, *, secure: bool, by_link: bool = False) -> None:
    """Start a server-side session for `agent` and give its key to the browser."""
    svc: Services = request.app.state.services
    started = await start_session(
        svc.ctx,
        Actor.of(principal_of(agent)),
        user_agent=request.headers.get("user-agent", ""),
        client=client_of(request),
        by_link=by_link,
    )
    response.set_cookie(COOKIE, started.key, max_age=MAX_AGE, httponly=True, samesite="lax", secure=secure)
    response.delete_cookie(LOGIN_COOKIE)
