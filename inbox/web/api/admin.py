"""Admin-only routes: agents, tokens, channels, audit. Every change is audited."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from inbox.actions import quarantine, tokens
from inbox.actions.runner import Actor
from inbox.auth import hash_password
from inbox.runtime import managed_channels
from inbox.runtime.reingest import Reingestor
from inbox.store import audit
from inbox.store.models import Agent, ApiToken, AuditEntry, Channel, QuarantineItem
from inbox.store.secrets import masked
from inbox.web import pagination
from inbox.web.api.deps import Admin, Id, Svc
from inbox.web.errors import ApiError, not_found

router = APIRouter(prefix="/api/v1", tags=["admin"])


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    name: str = Field(min_length=1, max_length=255)
    role: Literal["admin", "agent"] = "agent"
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    language: Literal["en", "es"] | None = None


class AgentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=255)
    role: Literal["admin", "agent"] | None = None
    active: bool | None = None
    availability: Literal["online", "away", "offline"] | None = None
    capacity: int | None = Field(default=None, ge=0, le=10_000)
    language: Literal["en", "es"] | None = None


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: EmailStr
    name: str = Field(default="", max_length=255)


def agent_json(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "email": agent.email,
        "name": agent.name,
        "role": agent.role,
        "active": agent.active,
        "availability": agent.availability,
        "capacity": agent.capacity,
        "language": agent.language,
        "created_at": agent.created_at.isoformat(),
    }


@router.get("/agents")
async def list_agents(svc: Svc, who: Admin) -> dict[str, Any]:
    async with svc.db.read() as session:
        agents = (await session.scalars(select(Agent).order_by(Agent.id))).all()
    return {"items": [agent_json(a) for a in agents], "next_cursor": None}


@router.post("/agents", status_code=201)
async def create_agent(svc: Svc, who: Admin, body: AgentIn) -> dict[str, Any]:
    try:
        async with svc.db.transaction() as session:
            agent = Agent(
                email=body.email.lower(),
                name=body.name,
                role=body.role,
                language=body.language,
                password_hash=hash_password(body.password) if body.password else None,
            )
            session.add(agent)
            await session.flush()
            await audit.record(session, who.agent_id, "agent.create", f"agent:{agent.id}", {"email": agent.email, "role": agent.role})
            return agent_json(agent)
    except IntegrityError:
        raise ApiError(409, f"an agent with email {body.email} exists") from None


@router.patch("/agents/{agent_id}")
async def patch_agent(svc: Svc, who: Admin, agent_id: Id, body: AgentPatch) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    nulled = sorted(k for k, v in changes.items() if v is None and k != "language")
    if nulled:
        raise ApiError(422, f"{', '.join(nulled)}: may be left out but not null")
    async with svc.db.transaction() as session:
        agent = await session.get(Agent, agent_id)
        if agent is None:
            raise not_found("agent")
        if agent.id == who.agent_id and (changes.get("role") == "agent" or changes.get("active") is False):
            raise ApiError(409, "you cannot demote or deactivate yourself")
        for key, value in changes.items():
            setattr(agent, key, value)
        if changes.get("active") is False:
            agent.session_version += 1  # signs them out everywhere
        await audit.record(session, who.agent_id, "agent.update", f"agent:{agent.id}", changes)
        return agent_json(agent)


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


def _channel_error(exc: managed_channels.ChannelSettingsError) -> ApiError:
    return ApiError(exc.status, "; ".join(exc.problems))


@router.get("/channels")
async def list_channels(svc: Svc, who: Admin) -> dict[str, Any]:
    """Every channel; the config file's show their keys (secrets masked) and are read-only."""
    async with svc.db.read() as session:
        rows = (await session.scalars(select(Channel).order_by(Channel.id))).all()
    items = []
    for row in rows:
        item = managed_channels.view(row).as_json()
        if row.provisioned:
            found = svc.config.channel(row.name)
            item["settings"] = masked(found.model_dump(exclude={"name", "type", "enabled"}, mode="json", by_alias=True)) if found else {}
        items.append(item)
    return {"items": items, "next_cursor": None}


@router.post("/channels", status_code=201)
async def create_channel(svc: Svc, who: Admin, body: ChannelIn) -> dict[str, Any]:
    try:
        created = await managed_channels.create(svc.db, svc.bus, svc.secrets, who.agent_id, body.name, body.type, body.settings, body.enabled)
    except managed_channels.ChannelSettingsError as exc:
        raise _channel_error(exc) from None
    return created.as_json()


@router.patch("/channels/{channel_id}")
async def patch_channel(svc: Svc, who: Admin, channel_id: Id, body: ChannelPatch) -> dict[str, Any]:
    try:
        changed = await managed_channels.update(svc.db, svc.bus, svc.secrets, who.agent_id, channel_id, body.settings, body.enabled)
    except managed_channels.ChannelSettingsError as exc:
        raise _channel_error(exc) from None
    return changed.as_json()


@router.delete("/channels/{channel_id}", status_code=204)
async def delete_channel(svc: Svc, who: Admin, channel_id: Id) -> Response:
    try:
        await managed_channels.delete(svc.db, svc.bus, who.agent_id, channel_id)
    except managed_channels.ChannelSettingsError as exc:
        raise _channel_error(exc) from None
    return Response(status_code=204)


@router.post("/channels/{channel_id}/test")
async def test_channel(svc: Svc, who: Admin, channel_id: Id) -> dict[str, Any]:
    """Log in with the channel's settings and report each step (nothing is sent)."""
    async with svc.db.read() as session:
        row = await session.get(Channel, channel_id)
    if row is None:
        raise not_found("channel")
    try:
        config = managed_channels.config_of(row, svc.config.channel, svc.secrets)
    except managed_channels.ChannelSettingsError as exc:
        raise ApiError(409, str(exc) if row.provisioned else f"the stored settings are not usable: {exc}") from None
    results = await managed_channels.check(config, svc.channels.context)
    async with svc.db.transaction() as session:
        await audit.record(session, who.agent_id, "channel.test", f"channel:{row.id}", {"ok": all(r.ok for r in results)})
    return {"ok": all(r.ok for r in results), "results": [{"what": r.what, "ok": r.ok, "detail": r.detail} for r in results]}


@router.get("/quarantine")
async def list_quarantine(svc: Svc, who: Admin, cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
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
async def list_audit(svc: Svc, who: Admin, cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    after = pagination.decode(cursor, 1)
    async with svc.db.read() as session:
        query = select(AuditEntry, Agent.email).outerjoin(Agent, Agent.id == AuditEntry.agent_id)
        if after:
            query = query.where(AuditEntry.id < int(after[0]))
        rows = (await session.execute(query.order_by(AuditEntry.id.desc()).limit(limit))).all()
    items = [
        {"id": e.id, "agent": email, "action": e.action, "target": e.target, "details": e.details, "created_at": e.created_at.isoformat()}
        for e, email in rows
    ]
    return pagination.page(items, limit, [rows[-1][0].id] if rows else None)
