"""The service desk's graph (`/services`, `/config-items`), subscribers, and an incident's
affected customers and broadcasts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from inbox.actions import services as actions
from inbox.actions.runner import Actor
from inbox.queries import services as graph
from inbox.queries.tickets import get_visible_ticket
from inbox.web.api.deps import Admin, BodyId, Id, Svc, Who
from inbox.web.errors import not_found
from routing.vocabulary import BroadcastAudience, ConfigItemKind, Level

router = APIRouter(prefix="/api/v1", tags=["services"])

Name = Annotated[str, Field(min_length=1, max_length=actions.MAX_NAME)]
SERVICES, CONFIG_ITEMS = actions.SERVICES, actions.CONFIG_ITEMS


def _names(names: list[str] | None) -> tuple[str, ...] | None:
    return tuple(names) if names is not None else None


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: str = Field(default="", max_length=actions.MAX_DESCRIPTION)
    criticality: Level = "medium"
    team: str | None = Field(default=None, max_length=255)
    depends_on: list[Name] = Field(default_factory=list, max_length=actions.MAX_DEPENDS)

    def changes(self) -> actions.NodeChanges:
        return actions.NodeChanges(
            name=self.name,
            description=self.description,
            criticality=self.criticality,
            team=self.team or "",
            depends_on=tuple(self.depends_on),
        )


class ServicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: str | None = Field(default=None, max_length=actions.MAX_DESCRIPTION)
    criticality: Level | None = None
    team: str | None = Field(default=None, max_length=255, description='"" clears it')
    depends_on: list[Name] | None = Field(default=None, max_length=actions.MAX_DEPENDS, description="replaces the list")

    def changes(self) -> actions.NodeChanges:
        return actions.NodeChanges(
            name=self.name, description=self.description, criticality=self.criticality, team=self.team, depends_on=_names(self.depends_on)
        )


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    kind: ConfigItemKind = "other"
    service: str | None = Field(default=None, max_length=actions.MAX_NAME)
    depends_on: list[Name] = Field(default_factory=list, max_length=actions.MAX_DEPENDS)
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=actions.MAX_ATTRIBUTES)

    def changes(self) -> actions.NodeChanges:
        return actions.NodeChanges(
            name=self.name, kind=self.kind, service=self.service or "", depends_on=tuple(self.depends_on), attributes=self.attributes
        )


class ItemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    kind: ConfigItemKind | None = None
    service: str | None = Field(default=None, max_length=actions.MAX_NAME, description='"" clears it')
    depends_on: list[Name] | None = Field(default=None, max_length=actions.MAX_DEPENDS)
    attributes: dict[str, str | int | float | bool | None] | None = Field(default=None, max_length=actions.MAX_ATTRIBUTES)

    def changes(self) -> actions.NodeChanges:
        return actions.NodeChanges(
            name=self.name, kind=self.kind, service=self.service, depends_on=_names(self.depends_on), attributes=self.attributes
        )


class SubscriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organization_id: BodyId | None = None
    contact_id: BodyId | None = None


class BroadcastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=actions.MAX_TEXT)
    audience: BroadcastAudience = "affected"
    public: bool = True


# -- services and configuration items: one implementation, the kind (`actions.NodeKind`) its parameter --


async def _node(svc: Svc, spec: actions.NodeKind, node_id: int) -> dict[str, Any]:
    async with svc.db.read() as session:
        found = await session.run_sync(lambda s: graph.describe_node(s, (spec.node_type, node_id)))
    if found is None:
        raise not_found(spec.label)
    return found


async def _list(svc: Svc, spec: actions.NodeKind) -> dict[str, Any]:
    async with svc.db.read() as session:
        return {"items": await session.run_sync(lambda s: graph.list_nodes(s, spec.node_type))}


async def _create(svc: Svc, who: Admin, spec: actions.NodeKind, changes: actions.NodeChanges) -> dict[str, Any]:
    return await _node(svc, spec, await actions.create_node(svc.ctx, Actor.of(who), spec, changes))


async def _patch(svc: Svc, who: Admin, spec: actions.NodeKind, node_id: int, changes: actions.NodeChanges) -> dict[str, Any]:
    await actions.update_node(svc.ctx, Actor.of(who), spec, node_id, changes)
    return await _node(svc, spec, node_id)


async def _delete(svc: Svc, who: Admin, spec: actions.NodeKind, node_id: int) -> Response:
    await actions.delete_node(svc.ctx, Actor.of(who), spec, node_id)
    return Response(status_code=204)


async def _impact(svc: Svc, spec: actions.NodeKind, node_id: int) -> dict[str, Any]:
    found = await _node(svc, spec, node_id)
    async with svc.db.read() as session:
        walked = await session.run_sync(lambda s: graph.impact_of(s, (spec.node_type, node_id)))
    return {spec.node_type: found, **walked}


@router.get("/services")
async def list_services(svc: Svc, who: Who) -> dict[str, Any]:
    return await _list(svc, SERVICES)


@router.post("/services", status_code=201)
async def create_service(svc: Svc, who: Admin, body: ServiceIn) -> dict[str, Any]:
    return await _create(svc, who, SERVICES, body.changes())


@router.get("/services/{service_id}")
async def get_service(svc: Svc, who: Who, service_id: Id) -> dict[str, Any]:
    return await _node(svc, SERVICES, service_id)


@router.patch("/services/{service_id}")
async def patch_service(svc: Svc, who: Admin, service_id: Id, body: ServicePatch) -> dict[str, Any]:
    return await _patch(svc, who, SERVICES, service_id, body.changes())


@router.delete("/services/{service_id}", status_code=204)
async def delete_service(svc: Svc, who: Admin, service_id: Id) -> Response:
    return await _delete(svc, who, SERVICES, service_id)


@router.get("/services/{service_id}/impact")
async def service_impact(svc: Svc, who: Who, service_id: Id) -> dict[str, Any]:
    return await _impact(svc, SERVICES, service_id)


@router.get("/config-items")
async def list_items(svc: Svc, who: Who) -> dict[str, Any]:
    return await _list(svc, CONFIG_ITEMS)


@router.post("/config-items", status_code=201)
async def create_item(svc: Svc, who: Admin, body: ItemIn) -> dict[str, Any]:
    return await _create(svc, who, CONFIG_ITEMS, body.changes())


@router.get("/config-items/{item_id}")
async def get_item(svc: Svc, who: Who, item_id: Id) -> dict[str, Any]:
    return await _node(svc, CONFIG_ITEMS, item_id)


@router.patch("/config-items/{item_id}")
async def patch_item(svc: Svc, who: Admin, item_id: Id, body: ItemPatch) -> dict[str, Any]:
    return await _patch(svc, who, CONFIG_ITEMS, item_id, body.changes())


@router.delete("/config-items/{item_id}", status_code=204)
async def delete_item(svc: Svc, who: Admin, item_id: Id) -> Response:
    return await _delete(svc, who, CONFIG_ITEMS, item_id)


@router.get("/config-items/{item_id}/impact")
async def item_impact(svc: Svc, who: Who, item_id: Id) -> dict[str, Any]:
    return await _impact(svc, CONFIG_ITEMS, item_id)


# -- a service's subscribers ---------------------------------------------------------------------


@router.get("/services/{service_id}/subscribers")
async def list_subscribers(svc: Svc, who: Who, service_id: Id) -> dict[str, Any]:
    await _node(svc, SERVICES, service_id)
    async with svc.db.read() as session:
        return {"items": await session.run_sync(lambda s: graph.subscribers_of(s, service_id))}


@router.post("/services/{service_id}/subscribers", status_code=201)
async def add_subscriber(svc: Svc, who: Admin, service_id: Id, body: SubscriberIn) -> dict[str, Any]:
    sub_id = await actions.add_subscriber(
        svc.ctx, Actor.of(who), service_id, organization_id=body.organization_id, contact_id=body.contact_id
    )
    async with svc.db.read() as session:
        items = await session.run_sync(lambda s: graph.subscribers_of(s, service_id))
    return next(i for i in items if i["id"] == sub_id)


@router.delete("/services/{service_id}/subscribers/{subscriber_id}", status_code=204)
async def remove_subscriber(svc: Svc, who: Admin, service_id: Id, subscriber_id: Id) -> Response:
    await actions.remove_subscriber(svc.ctx, Actor.of(who), service_id, subscriber_id)
    return Response(status_code=204)


async def _visible_ticket(svc: Svc, who: Who, ticket_id: int) -> None:
    async with svc.db.read() as session:
        if await get_visible_ticket(session, who, ticket_id) is None:
            raise not_found("ticket")


@router.get("/tickets/{ticket_id}/affected-customers")
async def affected_customers(svc: Svc, who: Who, ticket_id: Id) -> dict[str, Any]:
    await _visible_ticket(svc, who, ticket_id)
    async with svc.db.read() as session:
        items = await session.run_sync(lambda s: graph.describe_customers(s, graph.affected_customers(s, ticket_id)))
    return {"items": items}


@router.post("/tickets/{ticket_id}/broadcast", status_code=201)
async def broadcast(
    svc: Svc,
    who: Who,
    ticket_id: Id,
    body: BroadcastIn,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=actions.MAX_KEY)] = None,
) -> dict[str, Any]:
    """One reply per affected customer through the outbox. With an `Idempotency-Key` header
    a retry returns the first broadcast (200) and sends nothing again."""
    broadcast_id, created = await actions.start_broadcast(
        svc.ctx, Actor.of(who), ticket_id, body.text, audience=body.audience, public=body.public, idempotency_key=idempotency_key
    )
    if not created:
        response.status_code = 200
    async with svc.db.read() as session:
        found = await session.run_sync(lambda s: graph.broadcasts_of(s, ticket_id))
    return next(b for b in found if b["id"] == broadcast_id)


@router.get("/tickets/{ticket_id}/broadcasts")
async def list_broadcasts(svc: Svc, who: Who, ticket_id: Id) -> dict[str, Any]:
    await _visible_ticket(svc, who, ticket_id)
    async with svc.db.read() as session:
        return {"items": await session.run_sync(lambda s: graph.broadcasts_of(s, ticket_id))}
