"""Macros in the agent UI: the /macros page (list, create, edit, delete), applying one
from the conversation page, and the inbox's bulk bar."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from inbox.actions import macros as actions
from inbox.actions.bulk import MAX_IDS, BulkChange, bulk_change
from inbox.actions.conversations import ConversationChanges
from inbox.errors import DomainError, Invalid
from inbox.queries import conversations as conv
from inbox.queries import macros as queries
from inbox.web.ids import Id
from inbox.web.ui.routes import AgentForm, AgentPage, Page
from routing.vocabulary import CONVERSATION_STATUSES, PRIORITIES

router = APIRouter(include_in_schema=False)
CONFIRM_OVER = 50
FIELDS = ("reply", "note", "status", "assign", "team", "add_tags", "priority", "snooze")


def actions_from_form(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One action per filled field, in the form's order (tags comma-separated)."""
    found: list[dict[str, Any]] = []
    for kind in FIELDS:
        value = str(form.get(kind, "")).strip()
        if value:
            found.append({kind: [t.strip() for t in value.split(",") if t.strip()] if kind == "add_tags" else value})
    return found


def form_of(macro: dict[str, Any]) -> dict[str, str]:
    values = {"name": macro["name"], "shared": "on" if macro["shared"] else ""}
    for action in macro["actions"]:
        [(kind, value)] = action.items()
        values[kind] = ", ".join(value) if isinstance(value, list) else str(value)
    return values


async def _page(
    page: Page, http_status: int = 200, *, error: str = "", form: Mapping[str, Any] | None = None, editing: int | None = None
) -> HTMLResponse:
    async with page.services.db.read() as session:
        rows = [queries.describe(m) for m in await queries.list_macros(session, page.agent.agent_id)]
    return page.render(
        "ui/macros.html",
        http_status,
        macros=rows,
        error=error,
        form=dict(form or {}),
        editing=editing,
        statuses=[s for s in CONVERSATION_STATUSES if s != "snoozed"],
        priorities=PRIORITIES,
    )


@router.get("/macros", response_class=HTMLResponse)
async def macros_page(page: AgentPage) -> Response:
    return await _page(page)


@router.get("/macros/{macro_id}", response_class=HTMLResponse)
async def macro_edit_page(page: AgentPage, macro_id: Id) -> Response:
    async with page.services.db.read() as session:
        macro = await queries.get_macro(session, page.agent.agent_id, macro_id)
    if macro is None:
        return page.render("ui/error.html", 404, message=page.t("not_found"))
    return await _page(page, form=form_of(queries.describe(macro)), editing=macro_id)


@router.post("/macros")
async def macro_create(request: Request, page: AgentForm) -> Response:
    form = await request.form()
    try:
        await actions.create_macro(
            page.services.ctx, page.actor, str(form.get("name", "")), actions_from_form(form), shared=bool(form.get("shared"))
        )
    except DomainError as exc:
        return await _page(page, page.refuse(exc).status_code, error=page.message_of(exc), form=form)
    return RedirectResponse("/macros", status_code=303)


@router.post("/macros/{macro_id}")
async def macro_update(request: Request, page: AgentForm, macro_id: Id) -> Response:
    form = await request.form()
    try:
        await actions.update_macro(
            page.services.ctx,
            page.actor,
            macro_id,
            name=str(form.get("name", "")),
            actions=actions_from_form(form),
            shared=bool(form.get("shared")),
        )
    except DomainError as exc:
        return await _page(page, page.refuse(exc).status_code, error=page.message_of(exc), form=form, editing=macro_id)
    return RedirectResponse("/macros", status_code=303)


@router.post("/macros/{macro_id}/delete")
async def macro_delete(page: AgentForm, macro_id: Id) -> Response:
    await actions.delete_macro(page.services.ctx, page.actor, macro_id)
    return RedirectResponse("/macros", status_code=303)


@router.post("/conversations/{conversation_id}/macros")
async def macro_apply(request: Request, page: AgentForm, conversation_id: Id) -> Response:
    form = await request.form()
    try:
        macro_id = int(str(form.get("macro", "")))
    except ValueError:
        return page.refuse(Invalid("choose a macro"))
    await actions.apply_macro(page.services.ctx, page.actor, conversation_id, macro_id)
    return RedirectResponse(f"/conversations/{conversation_id}", status_code=303)


async def macro_choices(page: Page) -> list[tuple[int, str]]:
    """The macros the agent may apply, for the conversation page's picker and the bulk bar."""
    async with page.services.db.read() as session:
        return [(m.id, m.name) for m in await queries.list_macros(session, page.agent.agent_id)]


async def bulk_context(page: Page, filters: conv.ListFilter) -> dict[str, Any]:
    async with page.services.db.read() as session:
        total = await conv.count_conversations(session, page.agent, filters)
    return {"bulk_total": total, "bulk_macros": await macro_choices(page), "bulk_key": uuid.uuid4().hex, "bulk_max": MAX_IDS}


def _changes(form: Mapping[str, Any], me: str) -> ConversationChanges | None:
    value = {k: str(form.get(k, "")).strip() for k in ("status", "assignee", "team", "priority", "add_tag", "remove_tag")}
    if value["assignee"] == "me":
        value["assignee"] = me
    if value["assignee"] == "none":
        value["assignee"] = ""
    elif not value["assignee"]:
        value["assignee"] = None  # type: ignore[assignment]
    changes = ConversationChanges(
        status=value["status"] or None,
        assignee=value["assignee"],
        team=value["team"] or None,
        priority=value["priority"] or None,
        add_tags=(value["add_tag"],) if value["add_tag"] else (),
        remove_tags=(value["remove_tag"],) if value["remove_tag"] else (),
    )
    return None if changes == ConversationChanges() else changes


@router.post("/conversations/bulk")
async def bulk(request: Request, page: AgentForm) -> Response:
    """The bulk bar: the checked rows, or every conversation of the view (its filters, read
    here on the server); over 50 asks first. The form's key makes a resubmission a retry."""
    from inbox.web.ui.inbox_pages import InboxQuery

    form = await request.form()
    query = InboxQuery.from_form({name: form.get(f"filter_{name}", "") for name in ("view", "status", "channel", "priority", "tag", "q")})
    if form.get("all_in_view"):
        async with page.services.db.read() as session:
            ids = await conv.ids_matching(session, page.agent, query.filters(), limit=MAX_IDS + 1)
    else:
        ids = [int(str(v)) for v in form.getlist("ids") if str(v).isdigit()]
    macro = str(form.get("macro", ""))
    changes = _changes(form, page.agent.email)
    if not ids or (changes is None and not macro.isdigit()):
        return page.refuse(Invalid(page.t("bulk_nothing")))
    if len(ids) > MAX_IDS:
        return page.refuse(Invalid(page.t("bulk_too_many")))
    hidden = [(k, str(v)) for k, v in form.multi_items() if k not in ("csrf", "confirmed")]
    if len(ids) > CONFIRM_OVER and not form.get("confirmed"):
        return page.render("ui/bulk_confirm.html", count=len(ids), hidden=hidden, back=query.link())
    request_ = BulkChange(tuple(ids), changes, int(macro) if macro.isdigit() else None)
    result = await bulk_change(
        page.services.ctx, page.actor, request_, idempotency_key=f"ui:{form.get('key', '')}" if form.get("key") else None
    )
    return page.render("ui/bulk_result.html", result=result, back=query.link())
