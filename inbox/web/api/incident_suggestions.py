"""Surge detection's suggested major incidents (`/incident-suggestions`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from inbox.actions import surge as actions
from inbox.actions.runner import Actor
from inbox.queries import status as queries
from inbox.web import pagination
from inbox.web.api.deps import Id, Svc, Who
from inbox.web.errors import not_found
from routing.vocabulary import SuggestionStatus

router = APIRouter(prefix="/api/v1", tags=["incident suggestions"])


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=998)


@router.get("/incident-suggestions")
async def list_suggestions(
    svc: Svc,
    who: Who,
    status: SuggestionStatus = "open",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    decoded = pagination.decode(cursor, 1)
    async with svc.db.read() as session:
        items, last = await queries.suggestions(session, who, status, before_id=decoded[0] if decoded else None, limit=limit)
    return {"items": items, "next_cursor": pagination.encode([last]) if last is not None else None}


@router.get("/incident-suggestions/{suggestion_id}")
async def get_suggestion(svc: Svc, who: Who, suggestion_id: Id) -> dict[str, Any]:
    async with svc.db.read() as session:
        found = await queries.get_suggestion(session, who, suggestion_id)
    if found is None:
        raise not_found("incident suggestion")
    return found


async def _visible(svc: Svc, who: Who, suggestion_id: int) -> None:
    async with svc.db.read() as session:
        if await queries.get_suggestion(session, who, suggestion_id) is None:
            raise not_found("incident suggestion")


@router.post("/incident-suggestions/{suggestion_id}/accept", status_code=201)
async def accept_suggestion(svc: Svc, who: Who, suggestion_id: Id, body: AcceptIn | None = None) -> dict[str, Any]:
    await _visible(svc, who, suggestion_id)
    done = await actions.accept(svc.ctx, Actor.of(who), suggestion_id, body.title if body else None)
    async with svc.db.read() as session:
        described = await queries.get_suggestion(session, who, suggestion_id)
    return {
        "suggestion": described,
        "ticket": {"id": done.ticket_id, "number": done.number},
        "children": done.children,
        "skipped_conversations": done.skipped,
    }


@router.post("/incident-suggestions/{suggestion_id}/dismiss")
async def dismiss_suggestion(svc: Svc, who: Who, suggestion_id: Id) -> dict[str, Any]:
    await _visible(svc, who, suggestion_id)
    await actions.dismiss(svc.ctx, Actor.of(who), suggestion_id)
    async with svc.db.read() as session:
        described = await queries.get_suggestion(session, who, suggestion_id)
    assert described is not None
    return described
