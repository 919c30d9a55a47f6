"""Service desk pages: services and configuration items (list, detail with the impact view
and subscribers, admin create/edit forms; provisioned ones read-only), and on an incident's
page what it affects, whom that reaches and its broadcasts with their delivery per channel.

Every change is an action (`inbox.actions.services`, `inbox.actions.tickets`), the same the
API calls."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.actions import services as actions
from inbox.actions import tickets as ticket_actions
from inbox.errors import DomainError
from inbox.queries import services as graph
from inbox.store.models import ConfigItem, Organization, Service, Team
from inbox.web.ids import Id, parse_id
from inbox.web.ui.conversation_pages import not_found, refused
from inbox.web.ui.routes import AdminForm, AgentForm, AgentPage, Page
from routing.impact import Node
from routing.vocabulary import BROADCAST_AUDIENCES, CONFIG_ITEM_KINDS, LEVELS

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form(max_length=20_000)]


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _choices(session: Session) -> dict[str, Any]:
    return {
        "teams": list(session.scalars(select(Team.name).order_by(Team.name))),
        "service_names": list(session.scalars(select(Service.name).order_by(Service.name))),
        "organizations": list(session.execute(select(Organization.id, Organization.name).order_by(Organization.name))),
    }


SERVICES, CONFIG_ITEMS = actions.SERVICES, actions.CONFIG_ITEMS
# Per kind: where its pages are, and the name under which the list page shows its create form again.
PATHS = {graph.SERVICE: "/services", graph.CONFIG_ITEM: "/config-items"}
FORMS = {graph.SERVICE: "service_form", graph.CONFIG_ITEM: "item_form"}


def _refused_status(exc: DomainError) -> int:
    return 409 if exc.kind == "conflict" else 422


async def _list(page: Page, http_status: int = 200, **context: Any) -> Response:
    def read(s: Session) -> dict[str, Any]:
        return {"services": graph.list_nodes(s, graph.SERVICE), "items": graph.list_nodes(s, graph.CONFIG_ITEM), **_choices(s)}

    data = await page.services.db.query(read)
    return page.render("ui/services.html", http_status, levels=LEVELS, kinds=CONFIG_ITEM_KINDS, **data, **context)


@dataclass(frozen=True, slots=True)
class NodeForm:
    """A service's or an item's form as posted: the changes, and the fields as typed (shown again when refused)."""

    changes: actions.NodeChanges
    typed: dict[str, str]


def _service_form(
    name: FormText = "", description: FormText = "", criticality: FormText = "medium", team: FormText = "", depends_on: FormText = ""
) -> NodeForm:
    changes = actions.NodeChanges(name=name, description=description, criticality=criticality, team=team, depends_on=_names(depends_on))
    return NodeForm(changes, {"name": name, "description": description, "criticality": criticality, "team": team, "depends_on": depends_on})


def _item_form(name: FormText = "", kind: FormText = "other", service: FormText = "", depends_on: FormText = "") -> NodeForm:
    changes = actions.NodeChanges(name=name, kind=kind, service=service, depends_on=_names(depends_on))
    return NodeForm(changes, {"name": name, "kind": kind, "service": service, "depends_on": depends_on})


ServiceForm = Annotated[NodeForm, Depends(_service_form)]
ItemForm = Annotated[NodeForm, Depends(_item_form)]


async def _create(page: Page, spec: actions.NodeKind, form: NodeForm) -> Response:
    """Create, then show it; refused, the list again with the form as it was typed."""
    try:
        node_id = await actions.create_node(page.services.ctx, page.actor, spec, form.changes)
    except DomainError as exc:
        return await _list(page, _refused_status(exc), error=page.message_of(exc), **{FORMS[spec.node_type]: form.typed})
    return RedirectResponse(f"{PATHS[spec.node_type]}/{node_id}", status_code=303)


@router.get("/services", response_class=HTMLResponse)
async def services_page(page: AgentPage) -> Response:
    return await _list(page)


@router.post("/services", response_class=HTMLResponse)
async def service_create(page: AdminForm, form: ServiceForm) -> Response:
    return await _create(page, SERVICES, form)


@router.post("/config-items", response_class=HTMLResponse)
async def item_create(page: AdminForm, form: ItemForm) -> Response:
    return await _create(page, CONFIG_ITEMS, form)


async def _detail(page: Page, node_type: str, node_id: int, http_status: int = 200, **context: Any) -> Response:
    def read(s: Session) -> dict[str, Any] | None:
        node = graph.describe_node(s, (node_type, node_id))
        if node is None:
            return None
        subscribers = graph.subscribers_of(s, node_id) if node_type == graph.SERVICE else []
        return {"node": node, "impact": graph.impact_of(s, (node_type, node_id)), "subscribers": subscribers, **_choices(s)}

    data = await page.services.db.query(read)
    if data is None:
        return not_found(page)
    return page.render("ui/service.html", http_status, levels=LEVELS, kinds=CONFIG_ITEM_KINDS, **data, **context)


async def _on_detail(page: Page, node: Node, write: Awaitable[object], done: str, **refused: Any) -> Response:
    """A write posted from a node's page: then to `done`; refused, the node's page again with
    the reason and `refused` (the not-found page when it is gone)."""
    try:
        await write
    except DomainError as exc:
        if exc.kind == "not_found":
            return not_found(page)
        return await _detail(page, node[0], node[1], _refused_status(exc), error=page.message_of(exc), **refused)
    return RedirectResponse(done, status_code=303)


async def _edit(page: Page, spec: actions.NodeKind, node_id: int, form: NodeForm) -> Response:
    """Save, then show it again ("saved"); refused, with the edit form as it was typed."""
    write = actions.update_node(page.services.ctx, page.actor, spec, node_id, form.changes)
    return await _on_detail(page, (spec.node_type, node_id), write, f"{PATHS[spec.node_type]}/{node_id}?flash=saved", edit_form=form.typed)


@router.get("/services/{service_id}", response_class=HTMLResponse)
async def service_page(page: AgentPage, service_id: Id) -> Response:
    return await _detail(page, graph.SERVICE, service_id)


@router.get("/config-items/{item_id}", response_class=HTMLResponse)
async def item_page(page: AgentPage, item_id: Id) -> Response:
    return await _detail(page, graph.CONFIG_ITEM, item_id)


@router.post("/services/{service_id}", response_class=HTMLResponse)
async def service_edit(page: AdminForm, service_id: Id, form: ServiceForm) -> Response:
    return await _edit(page, SERVICES, service_id, form)


@router.post("/config-items/{item_id}", response_class=HTMLResponse)
async def item_edit(page: AdminForm, item_id: Id, form: ItemForm) -> Response:
    return await _edit(page, CONFIG_ITEMS, item_id, form)


@router.post("/services/{service_id}/subscribers", response_class=HTMLResponse)
async def subscriber_add(page: AdminForm, service_id: Id, organization: FormText = "", contact: FormText = "") -> Response:
    org_id = parse_id(organization) if organization.strip() else None
    contact_id = parse_id(contact) if contact.strip() else None
    if (organization.strip() and org_id is None) or (contact.strip() and contact_id is None):
        return not_found(page)
    write = actions.add_subscriber(page.services.ctx, page.actor, service_id, organization_id=org_id, contact_id=contact_id)
    return await _on_detail(page, (graph.SERVICE, service_id), write, f"/services/{service_id}")


@router.post("/services/{service_id}/subscribers/{subscriber_id}/delete", response_class=HTMLResponse)
async def subscriber_remove(page: AdminForm, service_id: Id, subscriber_id: Id) -> Response:
    try:
        await actions.remove_subscriber(page.services.ctx, page.actor, service_id, subscriber_id)
    except DomainError as exc:
        return refused(page, exc)
    return RedirectResponse(f"/services/{service_id}", status_code=303)


# -- on an incident's page ---------------------------------------------------------------------------


def incident_context(session: Session, ticket_id: int) -> dict[str, Any]:
    """What the ticket page shows of the service desk: what it affects, whom, its broadcasts."""
    return {
        "affected": graph.affected_names(session, [ticket_id])[ticket_id],
        "affected_customers": graph.describe_customers(session, graph.affected_customers(session, ticket_id)),
        "broadcasts": graph.broadcasts_of(session, ticket_id),
        "graph_names": sorted([*session.scalars(select(Service.name)), *session.scalars(select(ConfigItem.name))]),
        "audiences": BROADCAST_AUDIENCES,
    }


@router.post("/tickets/{ticket_id}/affected", response_class=HTMLResponse)
async def ticket_affected(page: AgentForm, ticket_id: Id, affected: FormText = "") -> Response:
    try:
        await ticket_actions.update_ticket(
            page.services.ctx, page.actor, ticket_id, ticket_actions.TicketChanges(affected=_names(affected))
        )
    except DomainError as exc:
        return refused(page, exc)
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


@router.post("/tickets/{ticket_id}/broadcast", response_class=HTMLResponse)
async def ticket_broadcast(
    page: AgentForm, ticket_id: Id, text: FormText = "", audience: FormText = "affected", public: FormText = "", key: FormText = ""
) -> Response:
    """The form carries a key made when the page was drawn: a double submit sends once."""
    try:
        await actions.start_broadcast(
            page.services.ctx,
            page.actor,
            ticket_id,
            text,
            audience=audience,
            public=bool(public),
            idempotency_key=key[: actions.MAX_KEY] or None,
        )
    except DomainError as exc:
        return refused(page, exc)
    return RedirectResponse(f"/tickets/{ticket_id}#broadcasts", status_code=303)
