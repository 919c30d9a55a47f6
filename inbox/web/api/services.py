"""The service desk's graph (`/services`, `/config-items`), subscribers, and an incident's
affected customers and broadcasts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from inbox.actions import services as actions
from inbox.actions.runner import Actor
from inbox.queries import services as graph
from inbox.queries.tickets import get_visible_ticket
from inbox.store.models import ConfigItem, Service
from inbox.web.api.deps import Admin, BodyId, Id, Svc, Who
from inbox.web.errors import not_found
from routing.vocabulary import BroadcastAudience, ConfigItemKind, Level

router = APIRouter(prefix="/api/v1", tags=["services"])

Name = Annotated[str, Field(min_length=1, max_length=actions.MAX_NAME)]


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: str = Field(default="", max_length=actions.MAX_DESCRIPTION)
    criticality: Level = "medium"
    team: str | None = Field(default=None, max_length=255)
    depends_on: list[Name] = Field(default_factory=list, max_length=actions.MAX_DEPENDS)


class ServicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: str | None = Field(default=None, max_length=actions.MAX_DESCRIPTION)
    criticality: Level | None = None
    team: str | None = Field(default=None, max_length=255, description='"" clears it')
    depends_on: list[Name] | None = Field(default=None, max_length=actions.MAX_DEPENDS, description="replaces the list")


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    kind: ConfigItemKind = "other"
    service: str | None = Field(default=None, max_length=actions.MAX_NAME)
    depends_on: list[Name] = Field(default_factory=list, max_length=actions.MAX_DEPENDS)
    attributes: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=actions.MAX_ATTRIBUTES)


class ItemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    kind: ConfigItemKind | None = None
    service: str | None = Field(default=None, max_length=actions.MAX_NAME, description='"" clears it')
    depends_on: list[Name] | None = Field(default=None, max_length=actions.MAX_DEPENDS)
    attributes: dict[str, str | int | float | bool | None] | None = Field(default=None, max_length=actions.MAX_ATTRIBUTES)


class SubscriberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organization_id: BodyId | None = None
    contact_id: BodyId | None = None


class BroadcastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=actions.MAX_TEXT)
    audience: BroadcastAudience = "affected"
    public: bool = True


async def _service(svc: Svc, service_id: int) -> dict[str, Any]:
    def read(s: Session) -> dict[str, Any] | None:
        row = s.get(Service, service_id)
        return graph.describe_services(s, [row])[0] if row is not None else None

    async with svc.db.read() as session:
        found = await session.run_sync(read)
    if found is None:
        raise not_found("service")
    return found


async def _item(svc: Svc, item_id: int) -> dict[str, Any]:
    def read(s: Session) -> dict[str, Any] | None:
        row = s.get(ConfigItem, item_id)
        return graph.describe_items(s, [row])[0] if row is not None else None

    async with svc.db.read() as session:
        found = await session.run_sync(read)
    if found is None:
        raise not_found("configuration item")
    return found


@router.get("/services")
async def list_services(svc: Svc, who: Who) -> dict[str, Any]:
    async with svc.db.read() as session:
        return {"items": await session.run_sync(graph.list_services)}


@router.post("/services", status_code=201)
async def create_service(svc: Svc, who: Admin, body: ServiceIn) -> dict[str, Any]:
    changes = actions.NodeChanges(
        name=body.name, description=body.description, criticality=body.criticality, team=body.team or "", depends_on=tuple(body.depends_on)
    )
    return await _service(svc, await actions.create_service(svc.ctx, Actor.of(who), changes))


@router.get("/services/{service_id}")
async def get_service(svc: Svc, who: Who, service_id: Id) -> dict[str, Any]:
    return await _service(svc, service_id)


@router.patch("/services/{service_id}")
async def patch_service(svc: Svc, who: Admin, service_id: Id, body: ServicePatch) -> dict[str, Any]:
    changes = actions.NodeChanges(
        name=body.name,
        description=body.description,
        criticality=body.criticality,
        team=body.team,
        depends_on=tuple(body.depends_on) if body.depends_on is not None else None,
    )
    await actions.update_service(svc.ctx, Actor.of(who), service_id, changes)
    return await _service(svc, service_id)


@router.delete("/services/{service_id}", status_code=204)
async def delete_service(svc: Svc, who: Admin, service_id: Id) -> Response:
    await actions.delete_service(svc.ctx, Actor.of(who), service_id)
    return Response(status_code=204)


@router.get("/services/{service_id}/impact")
async def service_impact(svc: Svc, who: Who, service_id: Id) -> dict[str, Any]:
    found = await _service(svc, service_id)
    async with svc.db.read() as session:
        walked = await session.run_sync(lambda s: graph.impact_of(s, (graph.SERVICE, service_id)))
    return {"service": found, **walked}


@router.get("/services/{service_id}/subscribers")
async def list_subscribers(svc: Svc, who: Who, service_id: Id) -> dict[str, Any]:
    await _service(svc, service_id)
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


@router.get("/config-items")
async def list_items(svc: Svc, who: Who) -> dict[str, Any]:
    async with svc.db.read() as session:
        return {"items": await session.run_sync(graph.list_items)}


@router.post("/config-items", status_code=201)
async def create_item(svc: Svc, who: Admin, body: ItemIn) -> dict[str, Any]:
    changes = actions.NodeChanges(
        name=body.name, kind=body.kind, service=body.service or "", depends_on=tuple(body.depends_on), attributes=body.attributes
    )
    return await _item(svc, await actions.create_item(svc.ctx, Actor.of(who), changes))


@router.get("/config-items/{item_id}")
async def get_item(svc: Svc, who: Who, item_id: Id) -> dict[str, Any]:
    return await _item(svc, item_id)


@router.patch("/config-items/{item_id}")
async def patch_item(svc: Svc, who: Admin, item_id: Id, body: ItemPatch) -> dict[str, Any]:
    changes = actions.NodeChanges(
        name=body.name,
        kind=body.kind,
        service=body.service,
        depends_on=tuple(body.depends_on) if body.depends_on is not None else None,
        attributes=body.attributes,
    )
    await actions.update_item(svc.ctx, Actor.of(who), item_id, changes)
    return await _item(svc, item_id)


@router.delete("/config-items/{item_id}", status_code=204)
async def delete_item(svc: Svc, who: Admin, item_id: Id) -> Response:
    await actions.delete_item(svc.ctx, Actor.of(who), item_id)
    return Response(status_code=204)


@router.get("/config-items/{item_id}/impact")
async def item_impact(svc: Svc, who: Who, item_id: Id) -> dict[str, Any]:
    found = await _item(svc, item_id)
    async with svc.db.read() as session:
        walked = await session.run_sync(lambda s: graph.impact_of(s, (graph.CONFIG_ITEM, item_id)))
    return {"config_item": found, **walked}


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
