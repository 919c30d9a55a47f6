"""Admin-only routes: agents, tokens, channels, quarantine, audit. Each change is an action
(inbox.actions), audited there."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import select

from inbox.actions import agents, quarantine, tokens
from inbox.actions import channels as channel_actions
from inbox.actions.runner import Actor
from inbox.queries.agents import list_agents
from inbox.queries.channels import view
from inbox.runtime import managed_channels
from inbox.runtime.reingest import Reingestor
from inbox.store.models import Agent, ApiToken, AuditEntry, Channel, QuarantineItem
from inbox.store.secrets import masked
from inbox.web import pagination
from inbox.web.api.deps import Admin, Id, Svc
from routing.vocabulary import Availability, Language, Role

router = APIRouter(prefix="/api/v1", tags=["admin"])


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    name: str = Field(min_length=1, max_length=255)
    role: Role = "agent"
    password: str | None = Field(default=None, max_length=1024)  # at least 10 characters (the action says so)
    language: Language | None = None


class AgentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=255)
    role: Role | None = None
    active: bool | None = None
    availability: Availability | None = None
    capacity: int | None = Field(default=None, ge=0, le=10_000)
    language: Language | None = None


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: EmailStr
    name: str = Field(default="", max_length=255)


@router.get("/agents")
async def get_agents(svc: Svc, who: Admin) -> dict[str, Any]:
    return {"items": [a.as_json() for a in await svc.db.query(list_agents)], "next_cursor": None}


@router.post("/agents", status_code=201)
async def create_agent(svc: Svc, who: Admin, body: AgentIn) -> dict[str, Any]:
    created = await agents.create_agent(
        svc.ctx, Actor.of(who), body.email, body.name, body.role, password=body.password, language=body.language
    )
    return created.agent.as_json()


@router.patch("/agents/{agent_id}")
async def patch_agent(svc: Svc, who: Admin, agent_id: Id, body: AgentPatch) -> dict[str, Any]:
    changes = cast(agents.AgentChanges, body.model_dump(exclude_unset=True))
    return (await agents.update_agent(svc.ctx, Actor.of(who), agent_id, changes)).as_json()


@router.get("/tokens")
async def list_tokens(svc: Svc, who: Admin) -> dict[str, Any]:
    async with svc.db.read() as session:
        rows = (await session.execute(select(ApiToken, Agent.email).join(Agent, Agent.id == ApiToken.agent_id).order_by(ApiToken.id))).all()
    return {
        "items": [
            {
                "id": t.id,
                "agent": email,
                "name": t.name,
                "prefix": t.prefix,
                "revoked": t.revoked,
                "created_at": t.created_at.isoformat(),
            }
            for t, email in rows
        ],
        "next_cursor": None,
    }


@router.post("/tokens", status_code=201)
async def create_api_token(svc: Svc, who: Admin, body: TokenIn) -> dict[str, Any]:
    token = await tokens.create_token(svc.ctx, Actor.of(who), body.agent, body.name)
    return {"token": token, "agent": body.agent.strip().lower(), "name": body.name.strip()}


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(svc: Svc, who: Admin, token_id: Id) -> None:
    await tokens.revoke_token(svc.ctx, Actor.of(who), token_id)


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    type: str = Field(max_length=32)
    enabled: bool = True
    settings: dict[str, Any] = {}


class ChannelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    settings: dict[str, Any] | None = None


@router.get("/channels")
async def list_channels(svc: Svc, who: Admin) -> dict[str, Any]:
    """Every channel; the config file's show their keys (secrets masked) and are read-only."""
    async with svc.db.read() as session:
        rows = (await session.scalars(select(Channel).order_by(Channel.id))).all()
    items = []
    for row in rows:
        item = view(row).as_json()
        if row.provisioned:
            found = svc.config.channel(row.name)
            item["settings"] = masked(found.model_dump(exclude={"name", "type", "enabled"}, mode="json", by_alias=True)) if found else {}
        items.append(item)
    return {"items": items, "next_cursor": None}


@router.post("/channels", status_code=201)
async def create_channel(svc: Svc, who: Admin, body: ChannelIn) -> dict[str, Any]:
    created = await channel_actions.create_channel(svc.ctx, Actor.of(who), body.name, body.type, body.settings, body.enabled)
    return created.as_json()


@router.patch("/channels/{channel_id}")
async def patch_channel(svc: Svc, who: Admin, channel_id: Id, body: ChannelPatch) -> dict[str, Any]:
    changed = await channel_actions.update_channel(svc.ctx, Actor.of(who), channel_id, body.settings, body.enabled)
    return changed.as_json()


@router.delete("/channels/{channel_id}", status_code=204)
async def delete_channel(svc: Svc, who: Admin, channel_id: Id) -> Response:
    await channel_actions.delete_channel(svc.ctx, Actor.of(who), channel_id)
    return Response(status_code=204)


@router.post("/channels/{channel_id}/test")
async def test_channel(svc: Svc, who: Admin, channel_id: Id) -> dict[str, Any]:
    """Log in with the channel's settings and report each step (nothing is sent)."""
    _, results = await managed_channels.test(svc, Actor.of(who), channel_id)
    return {"ok": all(r.ok for r in results), "results": [{"what": r.what, "ok": r.ok, "detail": r.detail} for r in results]}


@router.get("/quarantine")
async def list_quarantine(
    svc: Svc, who: Admin, cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    after = pagination.decode(cursor, 1)
    async with svc.db.read() as session:
        query = select(QuarantineItem, Channel.name).join(Channel, Channel.id == QuarantineItem.channel_id)
        if after:
            query = query.where(QuarantineItem.id < int(after[0]))
        rows = (await session.execute(query.order_by(QuarantineItem.id.desc()).limit(limit))).all()
    items = [
        {
            "id": q.id,
            "channel": name,
            "external_id": q.external_id,
            "error": q.error,
            "status": q.status,
            "size": len(q.raw),
            "created_at": q.created_at.isoformat(),
        }
        for q, name in rows
    ]
    return pagination.page(items, limit, [rows[-1][0].id] if rows else None)


@router.post("/quarantine/{item_id}/retry")
async def retry_quarantined(svc: Svc, who: Admin, item_id: Id) -> dict[str, Any]:
    """Parse the item again with its channel's adapter and ingest it (409 if it still fails)."""
    result = await quarantine.retry_item(svc.ctx, Actor.of(who), item_id, Reingestor(svc))
    return {"id": item_id, "status": "retried", "message_id": result.message_id, "conversation_id": result.conversation_id}


@router.delete("/quarantine/{item_id}", status_code=204)
async def discard_quarantined(svc: Svc, who: Admin, item_id: Id) -> None:
    await quarantine.discard_item(svc.ctx, Actor.of(who), item_id)


@router.get("/audit")
async def list_audit(
    svc: Svc,
    who: Admin,
    actor: Annotated[str | None, Query(max_length=320, description="only what this agent (e-mail) did")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The audit log, newest first (keyset pages); `actor` keeps one agent's entries."""
    after = pagination.decode(cursor, 1)
    async with svc.db.read() as session:
        query = select(AuditEntry, Agent.email).outerjoin(Agent, Agent.id == AuditEntry.agent_id)
        if actor is not None:
            query = query.where(AuditEntry.agent_id == select(Agent.id).where(Agent.email == actor.strip().lower()).scalar_subquery())
        if after:
            query = query.where(AuditEntry.id < int(after[0]))
        rows = (await session.execute(query.order_by(AuditEntry.id.desc()).limit(limit))).all()
    items = [
        {"id": e.id, "agent": email, "action": e.action, "target": e.target, "details": e.details, "created_at": e.created_at.isoformat()}
        for e, email in rows
    ]
    return pagination.page(items, limit, [rows[-1][0].id] if rows else None)
