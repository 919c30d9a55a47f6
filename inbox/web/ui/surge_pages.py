"""Surge detection's suggested major incidents in the agent UI: /incidents/suggestions,
with Accept (opens the major incident, the others as its children) and Dismiss."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from inbox.actions import surge as actions
from inbox.errors import DomainError
from inbox.queries import status as queries
from inbox.web.ids import Id
from inbox.web.ui.conversation_pages import not_found, refused
from inbox.web.ui.routes import AgentForm, AgentPage

router = APIRouter(include_in_schema=False)


@router.get("/incidents/suggestions", response_class=HTMLResponse)
async def suggestions_page(page: AgentPage, flash: str = "") -> Response:
    async with page.services.db.read() as session:
        items, _ = await queries.suggestions(session, page.agent, "open", limit=50)
    return page.render("ui/incident_suggestions.html", items=items, flash=page.text_of(flash[:40]))


async def _visible(page: AgentPage | AgentForm, suggestion_id: int) -> bool:
    async with page.services.db.read() as session:
        return await queries.get_suggestion(session, page.agent, suggestion_id) is not None


@router.post("/incidents/suggestions/{suggestion_id}/accept")
async def accept_suggestion(page: AgentForm, suggestion_id: Id) -> Response:
    if not await _visible(page, suggestion_id):
        return not_found(page)
    try:
        done = await actions.accept(page.services.ctx, page.actor, suggestion_id)
    except DomainError as exc:
        return refused(page, exc)
    return RedirectResponse(f"/tickets/{done.ticket_id}", status_code=303)


@router.post("/incidents/suggestions/{suggestion_id}/dismiss")
async def dismiss_suggestion(page: AgentForm, suggestion_id: Id) -> Response:
    if not await _visible(page, suggestion_id):
        return not_found(page)
    try:
        await actions.dismiss(page.services.ctx, page.actor, suggestion_id)
    except DomainError as exc:
        return refused(page, exc)
    return RedirectResponse("/incidents/suggestions?flash=surge_dismissed", status_code=303)
