"""Saved views from the inbox (save, edit, delete, the tabs' live fragment), the
notifications page and the agents' addresses for @-completion in notes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from inbox.actions import notifications as notification_actions
from inbox.actions import views as actions
from inbox.queries import notifications as notes
from inbox.web.ids import Id, parse_id
from inbox.web.ui.inbox_pages import InboxQuery
from inbox.web.ui.routes import AgentForm, AgentPage
from inbox.web.ui.view_tabs import link_of, view_tabs

router = APIRouter(include_in_schema=False)


def _filters_of(form: Any) -> dict[str, Any]:
    """The current inbox filters, posted as hidden fields named like a view's filters."""
    values: dict[str, Any] = {}
    for key in ("status", "channel", "assignee", "team", "priority", "tag", "q", "sla"):
        if form.get(f"f_{key}"):
            values[key] = str(form.get(f"f_{key}"))
    waiting = str(form.get("f_waiting_minutes_over") or "")
    if waiting:
        values["waiting_minutes_over"] = int(waiting) if waiting.isdigit() else waiting
    return values


@router.post("/views")
async def create_view(
    request: Request, page: AgentForm, name: Annotated[str, Form()] = "", shared: Annotated[str, Form()] = ""
) -> Response:
    filters = _filters_of(await request.form())
    view_id = await actions.create_view(page.services.ctx, page.actor, name, filters, shared=bool(shared))
    return RedirectResponse(link_of(view_id, actions.clean_filters(filters)), status_code=303)


@router.post("/views/{view_id}/update")
async def update_view(
    request: Request,
    view_id: Id,
    page: AgentForm,
    name: Annotated[str, Form()] = "",
    shared: Annotated[str, Form()] = "",
    refilter: Annotated[str, Form()] = "",
) -> Response:
    form = await request.form()
    filters = _filters_of(form) if refilter else None
    await actions.update_view(page.services.ctx, page.actor, view_id, name=name, filters=filters, shared=bool(shared))
    return (
        RedirectResponse(str(form.get("next") or "/"), status_code=303)
        if not refilter
        else RedirectResponse(link_of(view_id, actions.clean_filters(filters or {})), status_code=303)
    )


@router.post("/views/{view_id}/delete")
async def delete_view(view_id: Id, page: AgentForm) -> Response:
    await actions.delete_view(page.services.ctx, page.actor, view_id)
    return RedirectResponse("/", status_code=303)


@router.get("/inbox/tabs", response_class=HTMLResponse)
async def tabs_fragment(request: Request, page: AgentPage) -> Response:
    """The saved-view tabs alone, with fresh counts: what the live update swaps in."""
    async with page.services.db.read() as session:
        tabs = await view_tabs(session, page.agent, InboxQuery.from_request(request).saved)
    return page.render("ui/_view_tabs_list.html", tabs=tabs)


@router.get("/notifications", response_class=HTMLResponse)
async def notifications_page(page: AgentPage, unread: str = "") -> Response:
    async with page.services.db.read() as session:
        items = await notes.list_notifications(session, page.agent, unread=True if unread else None, before_id=None, limit=200)
    return page.render("ui/notifications.html", items=items, only_unread=bool(unread))


@router.post("/notifications/read")
async def read_notifications(request: Request, page: AgentForm, id: Annotated[str, Form()] = "") -> Response:  # noqa: A002
    """Mark one notification read (`id`), or all of the agent's when there is none; an id no
    notification can have marks nothing."""
    form = await request.form()
    one = parse_id(id)
    await notification_actions.mark_read(page.services.ctx, page.actor, [one] if one is not None else [], everything=not id.strip())
    target = str(form.get("next") or "/notifications")
    return RedirectResponse(target if target.startswith("/") and not target.startswith("//") else "/notifications", status_code=303)


@router.get("/ui/agents.json")
async def agents_for_completion(page: AgentPage, q: str = "") -> Response:
    """Active agents whose address or name starts with `q` (the note box's @-completion)."""
    async with page.services.db.read() as session:
        found = await notes.agents_matching(session, q[:100])
    return JSONResponse({"items": found})
