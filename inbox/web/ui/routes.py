"""Agent UI: the `Page` helper, sign-in, the one-time link and password; other pages beside it."""

from __future__ import annotations

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
from inbox.auth import Principal, hash_password, redeem_login_link, verify_password
from inbox.errors import DomainError
from inbox.runtime.presence import PresenceBoard
from inbox.runtime.services import Services
from inbox.sessions import COOKIE, MAX_AGE, SessionData, csrf_ok
from inbox.store.models import Agent
from inbox.web.callers import principal_from_cookie
from inbox.web.errors import status_of
from inbox.web.ratelimit import RateLimiter
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
        context.update(who=self.who, lang=self.lang, t=self.t, csrf=self.session.csrf if self.session else "", path=self.request.url.path)
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


def _set_session(response: Response, svc: Services, agent: Agent, secure: bool) -> None:
    response.set_cookie(COOKIE, svc.sessions.dump(agent.id, agent.session_version), max_age=MAX_AGE, httponly=True, samesite="lax", secure=secure)


async def _page(request: Request) -> Page:
    svc: Services = request.app.state.services
    cookie = request.cookies.get(COOKIE)
    async with svc.db.read() as session:
        who = await principal_from_cookie(svc, cookie, session)
    return Page(request, who, svc.sessions.load(cookie) if who else None)


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
    login_limiter = RateLimiter(limit=10, window=60.0)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_form(request: Request) -> Response:
        return (await _page(request)).render("ui/login.html")

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login(request: Request, email: str = Form(""), password: str = Form("")) -> Response:
        page = await _page(request)
        svc: Services = request.app.state.services
        client = request.client.host if request.client else "?"
        if not login_limiter.allow(f"ip:{client}") or not login_limiter.allow(f"email:{email.lower()}"):
            return page.render("ui/login.html", 429, error=page.t("too_many"), email=email)
        async with svc.db.read() as session:
            agent = await session.scalar(select(Agent).where(Agent.email == email.strip().lower(), Agent.active.is_(True)))
        if agent is None or not verify_password(agent.password_hash, password):
            return page.render("ui/login.html", 401, error=page.t("bad_login"), email=email)
        response = RedirectResponse("/", status_code=303)
        _set_session(response, svc, agent, request.url.scheme == "https")
        return response

    @app.get("/login/once/{token}", include_in_schema=False)
    async def login_once(request: Request, token: str) -> Response:
        svc: Services = request.app.state.services
        async with svc.db.transaction() as session:
            agent = await redeem_login_link(session, token)
        if agent is None:
            page = await _page(request)
            return page.render("ui/login.html", 404, error=page.t("link_invalid"))
        response = RedirectResponse("/account/password", status_code=303)
        _set_session(response, svc, agent, request.url.scheme == "https")
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request, csrf: str = Form("")) -> Response:
        page = await _page(request)
        if page.who and not csrf_ok(page.session, csrf):
            return page.render("ui/error.html", 403, message=page.t("csrf"))
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
        request: Request, csrf: str = Form(""), password: str = Form(""), confirm: str = Form("")
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
        async with svc.db.transaction() as session:
            await session.execute(
                update(Agent)
                .where(Agent.id == page.who.agent_id)
                .values(password_hash=hash_password(password), session_version=Agent.session_version + 1)
            )
            agent = await session.get(Agent, page.who.agent_id)
            assert agent is not None
            await session.refresh(agent)
        response = page.render("ui/password.html", notice=page.t("password_saved"))
        _set_session(response, svc, agent, request.url.scheme == "https")
        return response

    from inbox.web.ui import admin_pages, conversation_pages, dashboard, desk_pages, inbox_pages

    app.state.presence = PresenceBoard()  # who is on which conversation, on this node
    for page_module in (inbox_pages, conversation_pages, desk_pages, dashboard):
        app.include_router(page_module.router)
    admin_pages.install(app)
