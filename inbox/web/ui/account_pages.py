"""Sign-in and the agent's own account: the login form, the one-time link, sign-out,
password, language and availability."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from inbox.actions import agents
from inbox.auth import verify_password
from inbox.errors import DomainError
from inbox.sessions import COOKIE, csrf_ok
from inbox.store.models import Agent
from inbox.web.errors import status_of
from inbox.web.ratelimit import RateLimiter
from inbox.web.ui.routes import AgentForm, AgentPage, AnyPage, Page, set_session
from routing.vocabulary import AVAILABILITIES

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form()]


@router.get("/login", response_class=HTMLResponse)
async def login_form(page: AnyPage) -> Response:
    return page.render("ui/login.html")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, page: AnyPage, email: FormText = "", password: FormText = "") -> Response:
    # One spelling per address: " Ana@Example.com" and "ana@example.com" share a budget.
    address = agents.normal_email(email)
    limiter: RateLimiter = request.app.state.login_limiter
    client = request.client.host if request.client else "?"
    if not limiter.allow(f"ip:{client}") or not limiter.allow(f"email:{address}"):
        return page.render("ui/login.html", 429, error=page.t("too_many"), email=email)
    svc = page.services
    async with svc.db.read() as session:
        agent = await session.scalar(select(Agent).where(Agent.email == address, Agent.active.is_(True)))
    if agent is None or not verify_password(agent.password_hash, password):
        return page.render("ui/login.html", 401, error=page.t("bad_login"), email=email)
    response = RedirectResponse("/", status_code=303)
    set_session(response, svc, agent.id, agent.session_version)
    return response


@router.get("/login/once/{token}")
async def login_once(page: AnyPage, token: str) -> Response:
    signed = await agents.redeem_login(page.services.ctx, token)
    if signed is None:
        return page.render("ui/login.html", 404, error=page.t("link_invalid"))
    response = RedirectResponse("/account/password", status_code=303)
    set_session(response, page.services, *signed)
    return response


@router.post("/logout")
async def logout(page: AnyPage, csrf: FormText = "") -> Response:
    if page.who and not csrf_ok(page.session, csrf):
        return page.render("ui/error.html", 403, message=page.t("csrf"))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.post("/account/language")
async def language_change(page: AgentForm, language: FormText = "") -> Response:
    """The agent's own language; empty means "follow the browser"."""
    await agents.set_language(page.services.ctx, page.actor, language or None)
    return RedirectResponse("/account/password", status_code=303)


@router.post("/account/availability")
async def availability_change(page: AgentForm, availability: FormText = "") -> Response:
    """Online, away or offline: automatic assignment skips agents who are not online."""
    await agents.set_availability(page.services.ctx, page.actor, availability)
    return RedirectResponse("/account/password", status_code=303)


async def _render_account(page: Page, http_status: int = 200, **context: str) -> HTMLResponse:
    async with page.services.db.read() as session:
        availability = await session.scalar(select(Agent.availability).where(Agent.id == page.agent.agent_id))
    return page.render("ui/password.html", http_status, availability=availability or "online", availabilities=AVAILABILITIES, **context)


@router.get("/account/password", response_class=HTMLResponse)
async def password_form(page: AgentPage) -> Response:
    return await _render_account(page)


@router.post("/account/password", response_class=HTMLResponse)
async def password_change(page: AgentForm, password: FormText = "", confirm: FormText = "") -> Response:
    if password != confirm:
        return await _render_account(page, 422, error=page.t("password_mismatch"))
    try:
        version = await agents.change_password(page.services.ctx, page.actor, password)
    except DomainError as exc:
        return await _render_account(page, status_of(exc), error=page.message_of(exc))
    response = await _render_account(page, notice=page.t("password_saved"))
    set_session(response, page.services, page.agent.agent_id, version)
    return response
