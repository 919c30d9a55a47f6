"""Saved views (`/views`) and the caller's notifications (`/notifications`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from inbox.actions import notifications as notification_actions
from inbox.actions import views as actions
from inbox.actions.runner import Actor
from inbox.queries import notifications as notes
from inbox.queries import views as queries
from inbox.web import pagination
from inbox.web.api.deps import Id, Svc, Who
from inbox.web.errors import not_found
from inbox.web.ids import BodyId
from routing.vocabulary import ConversationStatus, Priority

router = APIRouter(prefix="/api/v1", tags=["views"])


class ViewFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ConversationStatus | None = None
    channel: str | None = Field(default=None, max_length=63)
    assignee: str | None = Field(default=None, max_length=254, description="me | none | EMAIL")
    team: str | None = Field(default=None, max_length=100)
    priority: Priority | None = None
    tag: str | None = Field(default=None, max_length=64)
    q: str | None = Field(default=None, max_length=200)
    waiting_minutes_over: int | None = Field(default=None, ge=0, le=actions.MAX_WAIT)
    sla: Literal["due_soon", "breached"] | None = None


class ViewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=actions.MAX_NAME)
    filters: ViewFilters = Field(default_factory=ViewFilters)
    shared: bool = False


class ViewPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=actions.MAX_NAME)
    filters: ViewFilters | None = None
    shared: bool | None = None


async def _one(svc: Svc, who: Who, view_id: int) -> dict[str, Any]:
    async with svc.db.read() as session:
        found = await queries.get_view(session, who, view_id)
        if found is None:
            raise not_found("view")
        return (await queries.describe_views(session, who, [found]))[0]


@router.get("/views")
async def list_views(svc: Svc, who: Who) -> dict[str, Any]:
    async with svc.db.read() as session:
        return {"items": await queries.describe_views(session, who, await queries.list_views(session, who))}


@router.post("/views", status_code=201)
async def create_view(svc: Svc, who: Who, body: ViewIn) -> dict[str, Any]:
    view_id = await actions.create_view(svc.ctx, Actor.of(who), body.name, body.filters.model_dump(exclude_none=True), shared=body.shared)
    return await _one(svc, who, view_id)


@router.get("/views/{view_id}")
async def get_view(svc: Svc, who: Who, view_id: Id) -> dict[str, Any]:
    return await _one(svc, who, view_id)


@router.patch("/views/{view_id}")
async def patch_view(svc: Svc, who: Who, view_id: Id, body: ViewPatch) -> dict[str, Any]:
    filters = body.filters.model_dump(exclude_none=True) if body.filters is not None else None
    await actions.update_view(svc.ctx, Actor.of(who), view_id, name=body.name, filters=filters, shared=body.shared)
    return await _one(svc, who, view_id)


@router.delete("/views/{view_id}", status_code=204)
async def delete_view(svc: Svc, who: Who, view_id: Id) -> Response:
    await actions.delete_view(svc.ctx, Actor.of(who), view_id)
    return Response(status_code=204)


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[BodyId] = Field(default_factory=list, max_length=notification_actions.MAX_IDS)
    all: bool = False


@router.get("/notifications")
async def list_notifications(
    svc: Svc, who: Who, unread: bool | None = None, cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    values = pagination.decode(cursor, 1)
    before = int(values[0]) if values else None
    async with svc.db.read() as session:
        items = await notes.list_notifications(session, who, unread=unread, before_id=before, limit=limit)
        count = await notes.unread_count(session, who)
    return {**pagination.page(items, limit, [items[-1]["id"]] if items else None), "unread": count}


@router.post("/notifications/read")
async def read_notifications(svc: Svc, who: Who, body: ReadIn) -> dict[str, Any]:
    changed = await notification_actions.mark_read(svc.ctx, Actor.of(who), body.ids, everything=body.all)
    async with svc.db.read() as session:
        return {"marked": changed, "unread": await notes.unread_count(session, who)}
