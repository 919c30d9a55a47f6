"""Sign-in and the agent's own account: the login form, the one-time link, sign-out,
password, language and availability."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from inbox.actions import agents
from inbox.actions.sessions import change_password, end_session
from inbox.auth import verify_password
from inbox.errors import DomainError
from inbox.sessions import COOKIE, csrf_ok
from inbox.store.models import Agent
from inbox.web.errors import status_of
from inbox.web.login_throttle import normalised
from inbox.web.ui import signin
from inbox.web.ui.routes import AgentForm, AgentPage, AnyPage, Page, cookies_secure
from routing.vocabulary import AVAILABILITIES

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form()]


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, page: AnyPage) -> Response:
    return signin.login_page(page, request)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, page: AnyPage, email: FormText = "", password: FormText = "", csrf: FormText = "") -> Response:
    if not signin.login_csrf_ok(request, csrf):
        return page.render("ui/error.html", 403, message=page.t("csrf"))
    # One spelling per address: " Ana@Example.com" and "ana@example.com" share a budget.
    address, client = normalised(email), signin.client_of(request)
    wait = signin.throttle_of(request).admit(address, client)
    if wait:
        return signin.too_many(page, request, wait, email)
    svc = page.services
    async with svc.db.read() as session:
        agent = await session.scalar(select(Agent).where(Agent.email == address, Agent.active.is_(True)))
    # The same argon2 cost whether or not the address exists; in a thread, off the event loop.
    right = await asyncio.to_thread(verify_password, agent.password_hash if agent else None, password)
    if agent is None or not right:
        return signin.login_page(page, request, 401, error=page.t("bad_login"), email=email)
    signin.throttle_of(request).succeeded(address, client)
    response = RedirectResponse("/", status_code=303)
    await signin.open_session(response, request, agent, secure=cookies_secure(svc))
    return response


@router.get("/login/once/{token}")
async def login_once(request: Request, page: AnyPage, token: str) -> Response:
    svc = page.services
    signed = await agents.redeem_login(svc.ctx, token)
    agent = await svc.db.query(lambda session: session.get(Agent, signed[0])) if signed else None
    if agent is None:
        return signin.login_page(page, request, 404, error=page.t("link_invalid"))
    response = RedirectResponse("/account/password", status_code=303)
    await signin.open_session(response, request, agent, secure=cookies_secure(svc), by_link=True)
    return response


@router.post("/logout")
async def logout(page: AnyPage, csrf: FormText = "") -> Response:
    if page.who and not csrf_ok(page.session, csrf):
        return page.render("ui/error.html", 403, message=page.t("csrf"))
    if page.who is not None and page.session is not None:
        await end_session(page.services.ctx, page.actor, page.session.id)
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
async def password_change(
    page: AgentForm, password: FormText = "", confirm: FormText = "", current: FormText = "", revoke_tokens: FormText = ""
) -> Response:
    if password != confirm:
        return await _render_account(page, 422, error=page.t("password_mismatch"))
    assert page.session is not None
    try:
        await change_password(page.services.ctx, page.actor, page.session.id, current, password, revoke_tokens=revoke_tokens == "1")
    except DomainError as exc:
        message = page.t("current_password_wrong") if exc.code == "wrong_password" else page.message_of(exc)
        return await _render_account(page, status_of(exc), error=message)
    return await _render_account(page, notice=page.t("password_saved"))
