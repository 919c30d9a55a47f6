"""Change management pages: the list, a change (items, risk and why, approvals, lifecycle),
the new/edit form, the calendar, and the confirmation page of a signed approval link
(public: the link is the credential; GET only shows, POST decides)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from inbox.actions import changes as actions
from inbox.errors import DomainError, NotFound
from inbox.queries import changes as queries
from inbox.store.models import utcnow
from inbox.web.errors import status_of
from inbox.web.ids import Id
from inbox.web.ui.change_form import ChangeForm
from inbox.web.ui.conversation_pages import not_found, refused
from inbox.web.ui.routes import AgentForm, AgentPage, AnyPage
from routing.changes import RISK_REASON_TEXT
from routing.vocabulary import CHANGE_STATUSES, CHANGE_TYPES

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form()]
ChangeFormData = Annotated[ChangeForm, Form()]


@router.get("/changes", response_class=HTMLResponse)
async def changes_page(page: AgentPage, status: str = "") -> Response:
    chosen = status if status in CHANGE_STATUSES else None
    async with page.services.db.read() as session:
        changes = await queries.list_changes(session, chosen, None, 200, page.agent.agent_id)
    return page.render("ui/changes.html", changes=changes, statuses=CHANGE_STATUSES, status=chosen or "")


def _form(page: Any, change: dict[str, Any] | None, form: ChangeForm, status: int = 200, error: str = "") -> HTMLResponse:
    return page.render("ui/change_form.html", status, change=change, values=form, types=CHANGE_TYPES, error=error)


@router.get("/changes/new", response_class=HTMLResponse)
async def new_change_page(page: AgentPage) -> Response:
    return _form(page, None, ChangeForm())


@router.post("/changes")
async def create_change(page: AgentForm, form: ChangeFormData) -> Response:
    try:
        change_id = await actions.create_change(page.services.ctx, page.actor, form.fields())
    except DomainError as exc:
        return _refused(page, None, form, exc)
    return RedirectResponse(f"/changes/{change_id}", status_code=303)


def _refused(page: Any, change: dict[str, Any] | None, form: ChangeForm, exc: DomainError) -> HTMLResponse:
    """The form again, as typed, with the refusal above it ("not found" as a page)."""
    if isinstance(exc, NotFound):
        return refused(page, exc)
    return _form(page, change, form, status_of(exc), page.message_of(exc))


def _month(raw: str) -> tuple[dt.datetime, dt.datetime]:
    now = utcnow()
    try:
        year, month = (int(x) for x in raw.split("-")) if raw else (now.year, now.month)
        start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
        if not 1970 <= year <= 9000:
            raise ValueError(year)
    except ValueError:
        start = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


@router.get("/changes/calendar", response_class=HTMLResponse)
async def calendar_page(page: AgentPage, month: str = "") -> Response:
    start, end = _month(month[:7])
    async with page.services.db.read() as session:
        calendar = await queries.calendar(session, start, end)
    days: dict[str, list[dict[str, Any]]] = {}
    for change in calendar["changes"]:
        first = max(dt.datetime.fromisoformat(change["planned_start"]), start)
        days.setdefault(first.date().isoformat(), []).append(change)
    previous = (start - dt.timedelta(days=1)).strftime("%Y-%m")
    return page.render(
        "ui/change_calendar.html",
        month=start.strftime("%Y-%m"),
        previous=previous,
        next=end.strftime("%Y-%m"),
        days=sorted(days.items()),
        freezes=calendar["freezes"],
    )


def _link_page(page: Any, token: str, claim: actions.LinkClaim, change: dict[str, Any], used: bool, **extra: Any) -> HTMLResponse:
    return page.render("ui/change_decide.html", token=token, decision=claim.decision, change=change, used=used, **extra)


@router.get("/changes/decide/{token}", response_class=HTMLResponse)
async def decide_link_page(page: AnyPage, token: str) -> Response:
    """Shows what the link would decide and asks to confirm; never decides (scanners prefetch links)."""
    try:
        claim, change_id, used = await actions.link_target(page.services.ctx, token)
    except DomainError as exc:
        return refused(page, exc)
    async with page.services.db.read() as session:
        change = await queries.get_change(session, change_id, None)
    if change is None:
        return not_found(page)
    return _link_page(page, token, claim, change, used)


@router.post("/changes/decide/{token}", response_class=HTMLResponse)
async def decide_link(page: AnyPage, token: str, comment: FormText = "") -> Response:
    try:
        claim, _, _ = await actions.link_target(page.services.ctx, token)
        change_id, status = await actions.decide_by_link(page.services.ctx, token, comment.strip()[: actions.MAX_COMMENT] or None)
    except DomainError as exc:
        return refused(page, exc)
    async with page.services.db.read() as session:
        change = await queries.get_change(session, change_id, None)
    assert change is not None
    return _link_page(page, token, claim, change, True, done=True, status=status)


async def _change(page: Any, change_id: int) -> dict[str, Any] | None:
    async with page.services.db.read() as session:
        return await queries.get_change(session, change_id, page.agent.agent_id)


def risk_reason(t: Callable[[str], str], factor: dict[str, Any]) -> str:
    """A risk reason in the page's language: its code's words, its criticality and type
    words translated too (an older change's English line as it is)."""
    code, params = factor.get("code"), dict(factor.get("params") or {})
    if code not in RISK_REASON_TEXT:
        return str(factor.get("text", ""))
    if "criticality" in params:
        params["criticality"] = t(f"level_{params['criticality']}").lower()
    if "type" in params:
        params["type"] = t(f"risk_type_{params['type']}")
    try:
        return t(f"risk_{code}").format(points=factor.get("points"), **params)
    except (KeyError, IndexError, ValueError):
        return str(factor.get("text", ""))


@router.get("/changes/{change_id}", response_class=HTMLResponse)
async def change_page(request: Request, page: AgentPage, change_id: Id) -> Response:
    change = await _change(page, change_id)
    if change is None:
        return not_found(page)
    reasons = [risk_reason(page.t, f) for f in change["risk_factors"]]
    return page.render("ui/change.html", change=change, reasons=reasons, flash=page.text_of(request.query_params.get("flash", "")))


@router.get("/changes/{change_id}/edit", response_class=HTMLResponse)
async def edit_change_page(page: AgentPage, change_id: Id) -> Response:
    change = await _change(page, change_id)
    if change is None:
        return not_found(page)
    return _form(page, change, ChangeForm.of(change))


@router.post("/changes/{change_id}/edit")
async def edit_change(page: AgentForm, change_id: Id, form: ChangeFormData) -> Response:
    try:
        await actions.update_change(page.services.ctx, page.actor, change_id, form.fields())
    except DomainError as exc:
        return _refused(page, await _change(page, change_id), form, exc)
    return RedirectResponse(f"/changes/{change_id}?flash=chg_saved", status_code=303)


@router.post("/changes/{change_id}/status")
async def change_status(page: AgentForm, change_id: Id, status: FormText = "") -> Response:
    try:
        await actions.set_status(page.services.ctx, page.actor, change_id, status)
    except DomainError as exc:
        return refused(page, exc)
    return RedirectResponse(f"/changes/{change_id}?flash=chg_saved", status_code=303)


@router.post("/changes/{change_id}/approvals")
async def change_decide(page: AgentForm, change_id: Id, decision: FormText = "", comment: FormText = "") -> Response:
    try:
        await actions.decide(page.services.ctx, page.actor, change_id, decision, comment.strip()[: actions.MAX_COMMENT] or None, via="ui")
    except DomainError as exc:
        return refused(page, exc)
    return RedirectResponse(f"/changes/{change_id}?flash=chg_decided", status_code=303)
