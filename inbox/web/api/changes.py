"""Change management: `/changes` (with approvals and the calendar) and `/change-freezes`.
Every write is an action (inbox.actions.changes)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from inbox.actions import changes as actions
from inbox.actions.runner import Actor
from inbox.errors import Invalid
from inbox.queries import changes as queries
from inbox.store.models import utcnow
from inbox.web import pagination
from inbox.web.api.deps import Admin, BodyId, Id, Svc, Who
from inbox.web.errors import not_found
from routing.vocabulary import ApprovalDecision, ChangeStatus, ChangeType

router = APIRouter(prefix="/api/v1", tags=["changes"])

Name = Annotated[str, Field(min_length=1, max_length=320)]
MAX_CALENDAR_DAYS = 400


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=actions.MAX_TITLE)
    type: ChangeType = "normal"
    description: str = Field(default="", max_length=actions.MAX_TEXT)
    items: list[Name] = Field(default=[], max_length=actions.MAX_ITEMS)
    planned_start: dt.datetime | None = None
    planned_end: dt.datetime | None = None
    backout_plan: str = Field(default="", max_length=actions.MAX_TEXT)
    approvers: list[Name] = Field(default=[], max_length=actions.MAX_APPROVERS)
    problem_id: BodyId | None = None


class ChangePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=actions.MAX_TITLE)
    type: ChangeType | None = None
    description: str | None = Field(default=None, max_length=actions.MAX_TEXT)
    items: list[Name] | None = Field(default=None, max_length=actions.MAX_ITEMS)
    planned_start: dt.datetime | None = None
    planned_end: dt.datetime | None = None
    backout_plan: str | None = Field(default=None, max_length=actions.MAX_TEXT)
    approvers: list[Name] | None = Field(default=None, max_length=actions.MAX_APPROVERS)
    problem_id: BodyId | None = Field(default=None, description="null clears it; absent leaves it")
    status: ChangeStatus | None = Field(default=None, description="a move along the lifecycle, after the other fields")


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: ApprovalDecision
    comment: str | None = Field(default=None, max_length=actions.MAX_COMMENT)


class FreezeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    start: dt.datetime
    end: dt.datetime


async def _one(svc: Svc, who: Who, change_id: int) -> dict[str, Any]:
    async with svc.db.read() as session:
        found = await queries.get_change(session, change_id, who.agent_id)
    if found is None:
        raise not_found("change")
    return found


@router.get("/changes")
async def list_changes(
    svc: Svc, who: Who, status: ChangeStatus | None = None, cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    after = pagination.decode(cursor, 1)
    async with svc.db.read() as session:
        rows = await queries.list_changes(session, status, int(after[0]) if after else None, limit, who.agent_id)
    return pagination.page(rows, limit, [rows[-1]["id"]] if rows else None)


@router.post("/changes", status_code=201)
async def create_change(svc: Svc, who: Who, body: ChangeIn) -> dict[str, Any]:
    fields = actions.ChangeFields(**body.model_dump())
    change_id = await actions.create_change(svc.ctx, Actor.of(who), fields)
    return await _one(svc, who, change_id)


def _window(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    now = utcnow()
    start = start or now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if not 1970 <= start.year <= 9000 or (end is not None and not 1970 <= end.year <= 9000):
        raise Invalid("from and to are years 1970 to 9000")
    end = end or start + dt.timedelta(days=31)
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("from and to carry a time zone (ISO-8601 with Z or an offset)")
    if end <= start or end - start > dt.timedelta(days=MAX_CALENDAR_DAYS):
        raise Invalid(f"to comes after from, at most {MAX_CALENDAR_DAYS} days later")
    return start, end


@router.get("/changes/calendar")
async def calendar(
    svc: Svc,
    who: Who,
    from_: Annotated[dt.datetime | None, Query(alias="from")] = None,
    to: dt.datetime | None = None,
) -> dict[str, Any]:
    start, end = _window(from_, to)
    async with svc.db.read() as session:
        return await queries.calendar(session, start, end)


@router.get("/changes/{change_id}")
async def get_change(svc: Svc, who: Who, change_id: Id) -> dict[str, Any]:
    return await _one(svc, who, change_id)


@router.patch("/changes/{change_id}")
async def patch_change(svc: Svc, who: Who, change_id: Id, body: ChangePatch) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    status = given.pop("status", None)
    clear_problem = "problem_id" in given and given["problem_id"] is None
    if given:
        await actions.update_change(svc.ctx, Actor.of(who), change_id, actions.ChangeFields(**given, clear_problem=clear_problem))
    if status is not None:
        await actions.set_status(svc.ctx, Actor.of(who), change_id, status)
    return await _one(svc, who, change_id)


@router.post("/changes/{change_id}/approvals")
async def decide(svc: Svc, who: Who, change_id: Id, body: ApprovalIn) -> dict[str, Any]:
    await actions.decide(svc.ctx, Actor.of(who), change_id, body.decision, body.comment, via="api")
    return await _one(svc, who, change_id)


@router.get("/change-freezes")
async def list_freezes(svc: Svc, who: Who) -> dict[str, Any]:
    async with svc.db.read() as session:
        return {"items": await queries.list_freezes(session)}


@router.post("/change-freezes", status_code=201)
async def create_freeze(svc: Svc, who: Admin, body: FreezeIn) -> dict[str, Any]:
    freeze_id = await actions.create_freeze(svc.ctx, Actor.of(who), body.name, body.start, body.end)
    async with svc.db.read() as session:
        return next(f for f in await queries.list_freezes(session) if f["id"] == freeze_id)


@router.delete("/change-freezes/{freeze_id}", status_code=204)
async def delete_freeze(svc: Svc, who: Admin, freeze_id: Id) -> Response:
    await actions.delete_freeze(svc.ctx, Actor.of(who), freeze_id)
    return Response(status_code=204)
