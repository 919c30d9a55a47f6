"""Contacts and organizations: the contacts list and search, a contact's page with its edit
form and conversations, and the organizations (every agent reads them; admins change them).
A refused form comes back with what was typed and the error beside its field."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from inbox.actions import contacts as actions
from inbox.actions import organizations as org_actions
from inbox.actions import privacy
from inbox.errors import DomainError, NotFound
from inbox.queries import contacts as queries
from inbox.queries import conversations as conv
from inbox.queries import organizations as org_queries
from inbox.queries.contact_names import real_name
from inbox.store.models import Organization
from inbox.web import pagination
from inbox.web.errors import ApiError, status_of
from inbox.web.ids import Id, parse_id
from inbox.web.ui.routes import AdminForm, AgentForm, AgentPage, Page

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form(max_length=20_000)]
Search = Annotated[str, Query(max_length=200)]
PAGE = 50
CONTACT_FORM = ("name", "email", "phone", "organization", "notes")
ORG_FORM = ("name", "domains", "notes")


def _field_of(exc: DomainError, fields: tuple[str, ...]) -> str:
    """The form field an action's message names ("email: ..."), or "" for the form as a whole."""
    head = exc.message.partition(":")[0].strip()
    return head if head in fields else ""


def _not_found(page: Page) -> HTMLResponse:
    return page.render("ui/error.html", 404, message=page.t("not_found"))


def _cursor(raw: str) -> int | None:
    try:
        values = pagination.decode(raw, 1)
    except ApiError:
        return None
    return values[0] if values else None


# ---- contacts ------------------------------------------------------------------


@router.get("/contacts", response_class=HTMLResponse)
async def contacts_page(page: AgentPage, q: Search = "", cursor: Annotated[str, Query(max_length=600)] = "") -> Response:
    async with page.services.db.read() as session:
        found = await queries.search_contacts(session, page.agent, q, _cursor(cursor), PAGE)
        names = await queries.organization_names(session, {c.organization_id for c in found if c.organization_id is not None})
    more = pagination.encode([found[-1].id]) if len(found) == PAGE else ""
    return page.render("ui/contacts.html", contacts=found, organizations=names, q=q.strip(), next_cursor=more)


async def render_contact(
    page: Page, contact_id: int, http_status: int = 200, *, form: dict[str, str] | None = None, field: str = "", error: str = ""
) -> Response:
    async with page.services.db.read() as session:
        contact = await queries.get_visible_contact(session, page.agent, contact_id)
        if contact is None:
            return _not_found(page)
        rows = await queries.conversations_of(session, page.agent, contact_id)
        identities = await queries.identities_of(session, contact_id)
        described = await conv.describe(session, rows)
        duplicates = await queries.likely_duplicates(session, page.agent, contact)
        organizations = list(
            (await session.execute(select(Organization.id, Organization.name).order_by(Organization.name).limit(1000))).all()
        )
    if form is None:
        form = {
            # A visitor's key is no name to edit: the field starts empty ("Visitor 42" is shown).
            "name": real_name(contact.name),
            "email": contact.email or "",
            "phone": contact.phone or "",
            "organization": str(contact.organization_id or ""),
            "notes": contact.notes or "",
        }
    return page.render(
        "ui/contact.html",
        http_status,
        contact=contact,
        identities=identities,
        conversations=described,
        duplicates=duplicates,
        organizations=organizations,
        organization_name=dict((o.id, o.name) for o in organizations).get(contact.organization_id or 0, ""),
        form=form,
        field=field,
        form_error=error,
        error=error if error and not field else page.text_of(page.request.query_params.get("error", "")),
        flash=page.text_of(page.request.query_params.get("flash", "")),
    )


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
async def contact_page(page: AgentPage, contact_id: Id) -> Response:
    return await render_contact(page, contact_id)


@router.post("/contacts/{contact_id}", response_class=HTMLResponse)
async def contact_save(
    page: AgentForm,
    contact_id: Id,
    name: FormText = "",
    email: FormText = "",
    phone: FormText = "",
    organization: FormText = "",
    notes: FormText = "",
) -> Response:
    typed = {"name": name, "email": email, "phone": phone, "organization": organization, "notes": notes}
    changes: dict[str, Any] = {"name": name, "email": email, "phone": phone, "notes": notes}
    org_id = parse_id(organization) if organization.strip() else None
    if organization.strip() and org_id is None:
        return await render_contact(page, contact_id, 422, form=typed, field="organization", error=page.t("org_unknown"))
    changes["organization"] = org_id
    try:
        await actions.update_contact(page.services.ctx, page.actor, contact_id, changes)
    except NotFound:
        return _not_found(page)
    except DomainError as exc:
        return await render_contact(
            page, contact_id, status_of(exc), form=typed, field=_field_of(exc, CONTACT_FORM), error=page.message_of(exc)
        )
    return RedirectResponse(f"/contacts/{contact_id}?flash=saved", status_code=303)


@router.post("/contacts/{contact_id}/erase", response_class=HTMLResponse)
async def contact_erase(page: AdminForm, contact_id: Id) -> Response:
    """GDPR erasure (admins): the API's and the CLI's action (`contact.erase`)."""
    try:
        await privacy.erase_contact(page.services.ctx, page.actor, str(contact_id))
    except NotFound:
        return _not_found(page)
    except DomainError as exc:
        return page.refuse(exc)
    return RedirectResponse(f"/contacts/{contact_id}?flash=erased", status_code=303)


# ---- organizations ---------------------------------------------------------------


def _domains_of(text: str) -> list[str]:
    return [d for d in text.replace(",", " ").split() if d]


async def render_organizations(page: Page, q: str = "", http_status: int = 200, **context: Any) -> Response:
    async with page.services.db.read() as session:
        found = await org_queries.list_organizations(session, q, None, 500)
        counts = await org_queries.contact_counts(session, [o.id for o in found])
    context.setdefault("form", {"name": "", "domains": "", "notes": ""})
    context.setdefault("field", "")
    context.setdefault("form_error", "")
    return page.render("ui/organizations.html", http_status, organizations=found, counts=counts, q=q.strip(), **context)


@router.get("/organizations", response_class=HTMLResponse)
async def organizations_page(page: AgentPage, q: Search = "") -> Response:
    return await render_organizations(page, q, flash=page.text_of(page.request.query_params.get("flash", "")))


@router.post("/organizations", response_class=HTMLResponse)
async def organization_create(page: AdminForm, name: FormText = "", domains: FormText = "", notes: FormText = "") -> Response:
    typed = {"name": name, "domains": domains, "notes": notes}
    try:
        org_id = await org_actions.create_organization(page.services.ctx, page.actor, name, _domains_of(domains), notes=notes)
    except DomainError as exc:
        return await render_organizations(
            page, "", status_of(exc), form=typed, field=_field_of(exc, ORG_FORM) or "name", form_error=page.message_of(exc)
        )
    return RedirectResponse(f"/organizations/{org_id}?flash=saved", status_code=303)


async def render_organization(
    page: Page, org_id: int, http_status: int = 200, *, form: dict[str, str] | None = None, field: str = "", error: str = ""
) -> Response:
    async with page.services.db.read() as session:
        org = await session.get(Organization, org_id)
        if org is None:
            return _not_found(page)
        members = await org_queries.members(session, page.agent, org_id)
        counts = await org_queries.contact_counts(session, [org_id])
    if form is None:
        form = {"name": org.name, "domains": "\n".join(org.domains or []), "notes": org.notes or ""}
    return page.render(
        "ui/organization.html",
        http_status,
        org=org,
        members=members,
        count=counts.get(org_id, 0),
        form=form,
        field=field,
        form_error=error,
        flash=page.text_of(page.request.query_params.get("flash", "")),
    )


@router.get("/organizations/{org_id}", response_class=HTMLResponse)
async def organization_page(page: AgentPage, org_id: Id) -> Response:
    return await render_organization(page, org_id)


@router.post("/organizations/{org_id}", response_class=HTMLResponse)
async def organization_save(page: AdminForm, org_id: Id, name: FormText = "", domains: FormText = "", notes: FormText = "") -> Response:
    typed = {"name": name, "domains": domains, "notes": notes}
    try:
        await org_actions.update_organization(
            page.services.ctx, page.actor, org_id, name=name, domains=_domains_of(domains), notes=notes, clear_notes=not notes.strip()
        )
    except NotFound:
        return _not_found(page)
    except DomainError as exc:
        return await render_organization(
            page, org_id, status_of(exc), form=typed, field=_field_of(exc, ORG_FORM) or "name", error=page.message_of(exc)
        )
    return RedirectResponse(f"/organizations/{org_id}?flash=saved", status_code=303)


@router.post("/organizations/{org_id}/delete", response_class=HTMLResponse)
async def organization_delete(page: AdminForm, org_id: Id, confirm: FormText = "") -> Response:
    if not confirm:
        return await render_organization(page, org_id, 422, field="confirm", error=page.t("org_confirm_delete"))
    try:
        await org_actions.delete_organization(page.services.ctx, page.actor, org_id)
    except NotFound:
        return _not_found(page)
    return RedirectResponse("/organizations?flash=org_deleted", status_code=303)
