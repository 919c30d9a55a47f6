"""Request types in the admin UI (those from the config file shown read-only), and the
approver's approve / reject on a waiting request's ticket page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from inbox.actions import portal as portal_actions
from inbox.actions import request_types as actions
from inbox.config import describe_errors
from inbox.errors import DomainError, Invalid, NotFound
from inbox.queries import portal as queries
from inbox.web.errors import status_of
from inbox.web.ids import Id
from inbox.web.ui.admin_pages import FormText, back, render_admin
from inbox.web.ui.conversation_pages import not_found
from inbox.web.ui.routes import AdminForm, AdminPage, AgentForm, Page
from routing.request_types import FIELD_KINDS, RequestTypeSpec
from routing.vocabulary import PRIORITIES

router = APIRouter(include_in_schema=False)


def fields_text(spec: RequestTypeSpec) -> str:
    """The fields as the form edits them: `name | label | kind | required | choice, choice` a line."""
    lines = []
    for f in spec.fields:
        parts = [f.name, f.label, f.kind, "required" if f.required else ""]
        if f.choices:
            parts.append(", ".join(f.choices))
        lines.append(" | ".join(parts).rstrip(" |"))
    return "\n".join(lines)


def parse_fields(text: str) -> list[dict[str, Any]]:
    fields = []
    for number, line in enumerate(text.splitlines()[:100], 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 2:
            raise Invalid(f"fields, line {number}: expected name | label | kind | required | choices")
        field: dict[str, Any] = {"name": parts[0], "label": parts[1], "kind": parts[2] if len(parts) > 2 and parts[2] else "text"}
        field["required"] = len(parts) > 3 and parts[3].lower() in ("required", "yes", "true", "1")
        if len(parts) > 4 and parts[4]:
            field["choices"] = [c.strip() for c in parts[4].split(",") if c.strip()]
        fields.append(field)
    return fields


def spec_of(name: str, description: str, fields: str, team: str, priority: str, approver: str) -> RequestTypeSpec:
    raw = {
        "name": name,
        "description": description,
        "fields": parse_fields(fields),
        "team": team.strip() or None,
        "priority": priority or None,
        "approver": approver.strip() or None,
    }
    try:
        return RequestTypeSpec.model_validate(raw)
    except ValidationError as exc:
        raise Invalid("; ".join(describe_errors(exc))) from None


async def render_types(page: Page, http_status: int = 200, **context: Any) -> Response:
    kinds = await page.services.db.query(queries.request_types_in)
    edit = page.request.query_params.get("edit", "")
    chosen = next((k for k in kinds if str(k.id) == edit and not k.provisioned), None)
    context.setdefault(
        "form",
        {
            "name": chosen.spec.name,
            "description": chosen.spec.description,
            "fields": fields_text(chosen.spec),
            "team": chosen.spec.team or "",
            "priority": chosen.spec.priority or "",
            "approver": chosen.spec.approver or "",
        }
        if chosen
        else {},
    )
    context.setdefault("edit", chosen.id if chosen else None)
    return render_admin(
        page,
        "request_types",
        http_status,
        kinds=kinds,
        priorities=PRIORITIES,
        kinds_of_field=FIELD_KINDS,
        fields_text=fields_text,
        **context,
    )


@router.get("/admin/request_types", response_class=HTMLResponse)
async def request_types_page(page: AdminPage) -> Response:
    return await render_types(page)


@router.post("/admin/request_types", response_class=HTMLResponse)
async def request_type_save(
    page: AdminForm,
    name: FormText = "",
    description: FormText = "",
    fields: FormText = "",
    team: FormText = "",
    priority: FormText = "",
    approver: FormText = "",
    type_id: FormText = "",
) -> Response:
    typed = {"name": name, "description": description, "fields": fields, "team": team, "priority": priority, "approver": approver}
    edit = int(type_id) if type_id.isdigit() and len(type_id) < 19 else None
    try:
        spec = spec_of(name, description, fields, team, priority, approver)
        if edit is None:
            await actions.create_request_type(page.services.ctx, page.actor, spec)
        else:
            await actions.update_request_type(page.services.ctx, page.actor, edit, spec)
    except DomainError as exc:
        return await render_types(page, status_of(exc), error=page.message_of(exc), form=typed, edit=edit)
    return back("request_types", flash="saved")


@router.post("/admin/request_types/{type_id}/delete", response_class=HTMLResponse)
async def request_type_delete(page: AdminForm, type_id: Id) -> Response:
    try:
        await actions.delete_request_type(page.services.ctx, page.actor, type_id)
    except DomainError as exc:
        return await render_types(page, status_of(exc), error=page.message_of(exc))
    return back("request_types", flash="saved")


@router.post("/tickets/{ticket_id}/approval")
async def approval(page: AgentForm, ticket_id: Id, decision: FormText = "", comment: FormText = "") -> Response:
    try:
        await portal_actions.decide_approval(page.services.ctx, page.actor, ticket_id, decision, comment)
    except NotFound:
        return not_found(page)
    except DomainError as exc:
        return page.refuse(exc)
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)
