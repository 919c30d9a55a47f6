"""Macros: list, create, change, delete; apply one to a conversation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from inbox.actions import macros as actions
from inbox.actions.runner import Actor
from inbox.queries import macros as queries
from inbox.web.api.deps import Id, Svc, Who
from inbox.web.errors import not_found

router = APIRouter(prefix="/api/v1", tags=["macros"])


class MacroIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=actions.MAX_NAME)
    actions: list[dict[str, Any]] = Field(min_length=1, max_length=actions.MAX_ACTIONS, description="each {kind: value}")
    shared: bool = False


class MacroPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=actions.MAX_NAME)
    actions: list[dict[str, Any]] | None = Field(default=None, min_length=1, max_length=actions.MAX_ACTIONS)
    shared: bool | None = None


@router.get("/macros")
async def list_macros(svc: Svc, who: Who) -> dict[str, Any]:
    async with svc.db.read() as session:
        rows = await queries.list_macros(session, who.agent_id)
    return {"items": [queries.describe(m) for m in rows]}


@router.get("/macros/{macro_id}")
async def get_macro(svc: Svc, who: Who, macro_id: Id) -> dict[str, Any]:
    async with svc.db.read() as session:
        macro = await queries.get_macro(session, who.agent_id, macro_id)
    if macro is None:
        raise not_found("macro")
    return queries.describe(macro)


@router.post("/macros", status_code=201)
async def create_macro(svc: Svc, who: Who, body: MacroIn) -> dict[str, Any]:
    return await actions.create_macro(svc.ctx, Actor.of(who), body.name, body.actions, shared=body.shared)


@router.patch("/macros/{macro_id}")
async def patch_macro(svc: Svc, who: Who, macro_id: Id, body: MacroPatch) -> dict[str, Any]:
    return await actions.update_macro(svc.ctx, Actor.of(who), macro_id, name=body.name, actions=body.actions, shared=body.shared)


@router.delete("/macros/{macro_id}", status_code=204)
async def delete_macro(svc: Svc, who: Who, macro_id: Id) -> Response:
    await actions.delete_macro(svc.ctx, Actor.of(who), macro_id)
    return Response(status_code=204)


@router.post("/conversations/{conversation_id}/macros/{macro_id}")
async def apply_macro(svc: Svc, who: Who, conversation_id: Id, macro_id: Id) -> dict[str, Any]:
    return await actions.apply_macro(svc.ctx, Actor.of(who), conversation_id, macro_id)
