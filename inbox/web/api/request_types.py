"""Request types (the service catalogue) and the approval of requests that need one."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inbox.actions import portal as portal_actions
from inbox.actions import request_types as actions
from inbox.actions.runner import Actor
from inbox.config import describe_errors
from inbox.errors import Invalid, NotFound
from inbox.queries import portal as queries
from inbox.web.api.deps import Admin, Id, Svc, Who
from routing.request_types import MAX_FIELDS, FieldSpec, RequestTypeSpec
from routing.vocabulary import Priority

router = APIRouter(prefix="/api/v1", tags=["request types"])


class RequestTypePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    fields: list[FieldSpec] | None = Field(default=None, max_length=MAX_FIELDS)
    team: str | None = Field(default=None, max_length=255)
    priority: Priority | None = None
    approver: str | None = Field(default=None, max_length=320)


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    comment: str | None = Field(default=None, max_length=5000)


async def _one(svc: Svc, type_id: int) -> dict[str, Any]:
    found = next((t for t in await svc.db.query(queries.request_types_in) if t.id == type_id), None)
    if found is None:
        raise NotFound.of("request type")
    return found.shape()


@router.get("/request-types")
async def list_request_types(svc: Svc, who: Who) -> dict[str, Any]:
    return {"items": [t.shape() for t in await svc.db.query(queries.request_types_in)], "next_cursor": None}


@router.post("/request-types", status_code=201)
async def create_request_type(svc: Svc, who: Admin, body: RequestTypeSpec) -> dict[str, Any]:
    type_id = await actions.create_request_type(svc.ctx, Actor.of(who), body)
    return await _one(svc, type_id)


@router.get("/request-types/{type_id}")
async def get_request_type(svc: Svc, who: Who, type_id: Id) -> dict[str, Any]:
    return await _one(svc, type_id)


@router.patch("/request-types/{type_id}")
async def update_request_type(svc: Svc, who: Admin, type_id: Id, body: RequestTypePatch) -> dict[str, Any]:
    current = await _one(svc, type_id)
    merged = {k: v for k, v in current.items() if k not in ("id", "provisioned")}
    merged.update(body.model_dump(mode="json", exclude_unset=True))
    try:
        spec = RequestTypeSpec.model_validate(merged)
    except ValidationError as exc:
        raise Invalid("; ".join(describe_errors(exc))) from None
    await actions.update_request_type(svc.ctx, Actor.of(who), type_id, spec)
    return await _one(svc, type_id)


@router.delete("/request-types/{type_id}", status_code=204)
async def delete_request_type(svc: Svc, who: Admin, type_id: Id) -> Response:
    await actions.delete_request_type(svc.ctx, Actor.of(who), type_id)
    return Response(status_code=204)


@router.post("/tickets/{ticket_id}/approval")
async def decide_approval(svc: Svc, who: Who, ticket_id: Id, body: ApprovalIn) -> dict[str, Any]:
    """The approver named by the request type (or an admin) approves or rejects."""
    state = await portal_actions.decide_approval(svc.ctx, Actor.of(who), ticket_id, body.decision, body.comment)
    return {"ticket_id": ticket_id, "approval": state}
