"""Agent UI: the `Page` helper, sign-in, the one-time link and password; other pages beside it."""

from __future__ import annotations

import asyncio
import html as html_lib
from pathlib import Path
from typing import Annotated, Any

import nh3
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select, update

from inbox.actions.runner import Actor
from inbox.actions.sessions import change_password, end_session
from inbox.auth import Principal, redeem_login_link, verify_password
from inbox.errors import DomainError
from inbox.runtime.services import Services
from inbox.sessions import COOKIE, SessionData, csrf_ok
from inbox.store.models import Agent
from inbox.web.callers import signed_session
from inbox.web.errors import status_of
from inbox.web.login_throttle import LoginThrottle, normalised
from inbox.web.ui import signin
from inbox.web.ui.i18n import LANGUAGES, pick_language, translator

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[3] / "templates"))
MIN_PASSWORD = 10
AVAILABILITY = ("online", "away", "offline")
CHANNEL_ICONS = {"email": "✉", "widget": "❝", "slack": "#", "telegram": "✈", "spool": "⇣"}


def icon_of(channel_type: str) -> str:
    return CHANNEL_ICONS.get(channel_type, "•")


def html_as_text(html: str | None) -> str:
    """A customer's HTML reduced to its text (then escaped by the template like any text)."""
    if not html:
        return ""
    return html_lib.unescape(nh3.clean(html, tags=set()))


TEMPLATES.env.globals["icon_of"] = icon_of
TEMPLATES.env.filters["as_text"] = html_as_text


class Page:
    """What every page render needs: the agent (if any), language and CSRF token."""

    def __init__(self, request: Request, who: Principal | None, session: SessionData | None) -> None:
        svc: Services = request.app.state.services
        self.request = request
        self.who = who
        self.session = session
        self.lang = pick_language(who.language if who else None, request.headers.get("accept-language"), svc.config.server.language)
        self.t = translator(self.lang)

    def render(self, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
        context.update(who=self.who, lang=self.lang, t=self.t, csrf=self.session.csrf if self.session else "", browser_session=self.session, path=self.request.url.path)
        response = TEMPLATES.TemplateResponse(self.request, template, context, status_code=http_status)
        response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @property
    def agent(self) -> Principal:
        """The signed-in agent (pages behind `AgentPage` / `AdminPage` always have one)."""
        assert self.who is not None, "a page of a signed-in agent"
        return self.who

    @property
    def actor(self) -> Actor:
        return Actor.of(self.agent)

    @property
    def services(self) -> Services:
        svc: Services = self.request.app.state.services
        return svc

    def refuse(self, exc: DomainError) -> HTMLResponse:
        """The error page for a change an action refused: its status and its message."""
        return self.render("ui/error.html", status_of(exc), message=exc.message)


async def _page(request: Request) -> Page:
    svc: Services = request.app.state.services
    cookie = request.cookies.get(COOKIE)
    async with svc.db.read() as session:
        found = await signed_session(svc, cookie, session)
    return Page(request, *found) if found else Page(request, None, None)


async def signed_in(request: Request, *, admin: bool = False) -> Page | Response:
    """The page of a signed-in agent, else a redirect to sign in (or 403 for a non-admin)."""
    page = await _page(request)
    if page.who is None:
        return RedirectResponse("/login", status_code=303)
    if admin and not page.who.is_admin:
        return page.render("ui/error.html", 403, message=page.t("forbidden"))
    return page


async def posted(request: Request, csrf: str, *, admin: bool = False) -> Page | Response:
    """Like `signed_in`, for a form post: without the session's CSRF token it is a 403."""
    page = await signed_in(request, admin=admin)
    if isinstance(page, Page) and not csrf_ok(page.session, csrf):
        return page.render("ui/error.html", 403, message=page.t("csrf"))
    return page


class PageRefused(Exception):
    """Raised by a page dependency: answer with `response` instead (sign in, 403)."""

    def __init__(self, response: Response) -> None:
        super().__init__("page refused")
        self.response = response


def _required(page: Page | Response) -> Page:
    if not isinstance(page, Page):
        raise PageRefused(page)
    return page


async def any_page(request: Request) -> Page:
    return await _page(request)


async def agent_page(request: Request) -> Page:
    return _required(await signed_in(request))


async def admin_page(request: Request) -> Page:
    return _required(await signed_in(request, admin=True))


async def agent_form(request: Request, csrf: Annotated[str, Form()] = "") -> Page:
    return _required(await posted(request, csrf))


async def admin_form(request: Request, csrf: Annotated[str, Form()] = "") -> Page:
    return _required(await posted(request, csrf, admin=True))


# A page handler names what it needs; the dependency answers for it otherwise (a redirect
# to sign in, a 403 page, a CSRF refusal). Form pages check the form's `csrf` field.
AnyPage = Annotated[Page, Depends(any_page)]
AgentPage = Annotated[Page, Depends(agent_page)]
AdminPage = Annotated[Page, Depends(admin_page)]
AgentForm = Annotated[Page, Depends(agent_form)]
AdminForm = Annotated[Page, Depends(admin_form)]


async def _availability(request: Request, page: Page) -> str:
    assert page.who is not None
    async with services_of(request).db.read() as session:
        return str(await session.scalar(select(Agent.availability).where(Agent.id == page.who.agent_id)) or "online")


def services_of(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(Path(__file__).resolve().parent / "static")), name="static")
    app.state.login_throttle = LoginThrottle()

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_form(request: Request) -> Response:
        return signin.login_page(await _page(request), request)

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login(request: Request, email: str = Form(""), password: str = Form(""), csrf: str = Form("")) -> Response:
        page = await _page(request)
        svc: Services = request.app.state.services
        if not signin.login_csrf_ok(request, csrf):
            return page.render("ui/error.html", 403, message=page.t("csrf"))
        address, client = normalised(email), signin.client_of(request)
        wait = signin.throttle_of(request).admit(address, client)
        if wait:
            return signin.too_many(page, request, wait, email)
        async with svc.db.read() as session:
            agent = await session.scalar(select(Agent).where(Agent.email == address, Agent.active.is_(True)))
        # The same argon2 cost whether or not the address exists; in a thread, off the event loop.
        right = await asyncio.to_thread(verify_password, agent.password_hash if agent else None, password)
        if agent is None or not right:
            return signin.login_page(page, request, 401, error=page.t("bad_login"), email=email)
        signin.throttle_of(request).succeeded(address, client)
        response = RedirectResponse("/", status_code=303)
        await signin.open_session(response, request, agent, secure=request.url.scheme == "https")
        return response

    @app.get("/login/once/{token}", include_in_schema=False)
    async def login_once(request: Request, token: str) -> Response:
        svc: Services = request.app.state.services
        async with svc.db.transaction() as session:
            agent = await redeem_login_link(session, token)
        if agent is None:
            page = await _page(request)
            return signin.login_page(page, request, 404, error=page.t("link_invalid"))
        response = RedirectResponse("/account/password", status_code=303)
        await signin.open_session(response, request, agent, secure=request.url.scheme == "https", by_link=True)
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request, csrf: str = Form("")) -> Response:
        page = await _page(request)
        if page.who and not csrf_ok(page.session, csrf):
            return page.render("ui/error.html", 403, message=page.t("csrf"))
        if page.session is not None:
            await end_session(page.services.ctx, page.actor, page.session.id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.post("/account/language", include_in_schema=False)
    async def language_change(request: Request, csrf: str = Form(""), language: str = Form("")) -> Response:
        """The agent's own language; empty means "follow the browser"."""
        page = await posted(request, csrf)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        async with services_of(request).db.transaction() as session:
            await session.execute(update(Agent).where(Agent.id == page.who.agent_id).values(language=language if language in LANGUAGES else None))
        return RedirectResponse("/account/password", status_code=303)

    @app.post("/account/availability", include_in_schema=False)
    async def availability_change(request: Request, csrf: str = Form(""), availability: str = Form("")) -> Response:
        """Online, away or offline: automatic assignment skips agents who are not online."""
        page = await posted(request, csrf)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        if availability in AVAILABILITY:
            async with services_of(request).db.transaction() as session:
                await session.execute(update(Agent).where(Agent.id == page.who.agent_id).values(availability=availability))
        return RedirectResponse("/account/password", status_code=303)

    @app.get("/account/password", response_class=HTMLResponse, include_in_schema=False)
    async def password_form(request: Request) -> Response:
        page = await _page(request)
        if page.who is None:
            return RedirectResponse("/login", status_code=303)
        return page.render("ui/password.html", availability=await _availability(request, page), availabilities=AVAILABILITY)

    @app.post("/account/password", response_class=HTMLResponse, include_in_schema=False)
    async def password_change(
        request: Request,
        csrf: str = Form(""),
        password: str = Form(""),
        confirm: str = Form(""),
        current: str = Form(""),
        revoke_tokens: str = Form(""),
    ) -> Response:
        page = await _page(request)
        svc: Services = request.app.state.services
        if page.who is None:
            return RedirectResponse("/login", status_code=303)
        if not csrf_ok(page.session, csrf):
            return page.render("ui/error.html", 403, message=page.t("csrf"))
        if len(password) < MIN_PASSWORD:
            return page.render("ui/password.html", 422, error=page.t("password_short"))
        if password != confirm:
            return page.render("ui/password.html", 422, error=page.t("password_mismatch"))
        assert page.session is not None
        try:
            await change_password(svc.ctx, page.actor, page.session.id, current, password, revoke_tokens=revoke_tokens == "1")
        except DomainError as exc:
            message = page.t("current_password_wrong") if exc.code == "wrong_password" else exc.message
            return page.render("ui/password.html", status_of(exc), error=message)
        return page.render("ui/password.html", notice=page.t("password_saved"))

    from inbox.web.ui import admin_pages, conversation_pages, dashboard, desk_pages, inbox_pages

    for module in (inbox_pages, conversation_pages, desk_pages, admin_pages, dashboard):
        module.install(app)
    from inbox.web.ui.session_pages import router as session_router

    app.include_router(session_router)
