"""Agent UI: the `Page` helper and the page dependencies every page module uses; `install`\nmounts the pages (sign-in and account in account_pages, admin pages, the desk)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from inbox.actions.runner import Actor
from inbox.auth import Principal
from inbox.errors import DomainError
from inbox.queries import notifications as notification_queries
from inbox.queries import status as status_queries
from inbox.runtime.presence import PresenceBoard
from inbox.runtime.services import Services
from inbox.sessions import COOKIE, SessionData, csrf_ok
from inbox.web.callers import signed_session
from inbox.web.errors import status_of
from inbox.web.login_throttle import LoginThrottle
from inbox.web.templates import TEMPLATES
from inbox.web.ui.i18n import TEXT, pick_language, translator


class Page:
    """What every page render needs: the agent (if any), language and CSRF token."""

    def __init__(self, request: Request, who: Principal | None, session: SessionData | None) -> None:
        svc: Services = request.app.state.services
        self.request = request
        self.who = who
        self.session = session
        self.lang = pick_language(who.language if who else None, request.headers.get("accept-language"), svc.config.server.language)
        self.t = translator(self.lang)
        self.unread_notifications: int | None = None  # the header's bell, on signed-in pages
        self.open_suggestions: int = 0  # surge detection's banner, on signed-in pages

    def render(self, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
        context.update(
            who=self.who,
            lang=self.lang,
            t=self.t,
            csrf=self.session.csrf if self.session else "",
            browser_session=self.session,
            path=self.request.url.path,
            unread_notifications=self.unread_notifications,
            open_suggestions=self.open_suggestions,
        )
        response = TEMPLATES.TemplateResponse(self.request, template, context, status_code=http_status)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
        )
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
        return self.render("ui/error.html", status_of(exc), message=self.message_of(exc))

    def message_of(self, exc: DomainError) -> str:
        """A refusal in the page's language when its code names a UI text, else its message."""
        return self.t(exc.code) if exc.code != exc.kind and exc.code in TEXT["en"] else exc.message

    def text_of(self, key: str) -> str:
        """The UI text of a key (from a redirect's `?flash=` or `?error=`); "" for anything
        else, so a crafted link cannot put its own words on the page."""
        return self.t(key) if key in TEXT["en"] else ""


def cookies_secure(svc: Services) -> bool:
    """`Secure` cookies when the node is served over HTTPS (its public URL), whatever
    scheme the request reached this process with behind a proxy."""
    return svc.config.server.public_url.lower().startswith("https://")


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


async def _with_bell(page: Page) -> Page:
    async with page.services.db.read() as session:
        page.unread_notifications = await notification_queries.unread_count(session, page.agent)
        page.open_suggestions = await status_queries.open_suggestion_count(session)
    return page


async def agent_page(request: Request) -> Page:
    return await _with_bell(_required(await signed_in(request)))


async def admin_page(request: Request) -> Page:
    return await _with_bell(_required(await signed_in(request, admin=True)))


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


def services_of(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def page_routers() -> list[APIRouter]:
    """The agent UI's routers, in the order they are mounted (one list, for `install` and the
    tests that visit every page)."""
    from inbox.web.ui import (
        account_pages,
        admin_pages,
        admin_people,
        change_pages,
        conversation_pages,
        dashboard,
        desk_pages,
        inbox_pages,
        kb_pages,
        macro_pages,
        merge_pages,
        people_pages,
        request_pages,
        service_pages,
        session_pages,
        surge_pages,
        views_pages,
        webhook_pages,
    )

    return [
        module.router
        for module in (
            account_pages,
            session_pages,
            admin_pages,
            admin_people,
            kb_pages,
            macro_pages,
            inbox_pages,
            views_pages,
            conversation_pages,
            merge_pages,
            people_pages,
            desk_pages,
            dashboard,
            webhook_pages,
            request_pages,
            change_pages,
            surge_pages,
            service_pages,
        )
    ]


def install(app: FastAPI) -> None:
    static = Path(__file__).resolve().parent / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    async def favicon() -> FileResponse:
        # Browsers ask for /favicon.ico whatever the page links; the same SVG answers.
        return FileResponse(static / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})

    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    app.state.login_throttle = LoginThrottle()  # per address, client and pair, this process
    app.state.presence = PresenceBoard()  # who is on which conversation, on this node
    for router in page_routers():
        app.include_router(router)
