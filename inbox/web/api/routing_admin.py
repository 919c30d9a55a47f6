"""Admin routes for rules and teams, and the "which rules would fire" test."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.store import audit
from inbox.store.models import Agent, Rule, Team, TeamMember, utcnow
from inbox.web.api.deps import Admin, Id, Svc
from inbox.web.errors import ApiError, not_found
from routing.config import default_calendar
from routing.rules import InvalidRule, evaluate, validate_rule
from routing.snapshot import MessageSnapshot

router = APIRouter(prefix="/api/v1", tags=["routing"])


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(min_length=1, max_length=255)
    if_: dict[str, Any] = Field(default_factory=dict, alias="if")
    then: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    position: int | None = Field(default=None, ge=0, le=100_000)


class RulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str | None = Field(default=None, min_length=1, max_length=255)
    if_: dict[str, Any] | None = Field(default=None, alias="if")
    then: dict[str, Any] | None = None
    enabled: bool | None = None
    position: int | None = Field(default=None, ge=0, le=100_000)


class SampleMessage(BaseModel):
    """A message to try the rules on, as a channel would deliver it."""

    model_config = ConfigDict(extra="forbid")
    channel: str = "test"
    channel_type: str = "email"
    sender: str = "customer@example.com"
    subject: str | None = None
    text: str = ""
    language: str | None = None
    conversation: Literal["new", "existing"] = "new"
    automated: bool = False
    contact_tags: list[str] = []


class RuleTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: SampleMessage
    rule: RuleIn | None = None  # try one unsaved rule instead of the stored ones


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    members: list[EmailStr] = []
    assignment: Literal["round_robin", "least_open", "manual"] = "round_robin"


class TeamPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    members: list[EmailStr] | None = None
    assignment: Literal["round_robin", "least_open", "manual"] | None = None


def rule_json(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "position": rule.position,
        "if": rule.conditions,
        "then": rule.actions,
        "enabled": rule.enabled,
        "provisioned": rule.provisioned,
    }


async def _known_names(session: AsyncSession) -> tuple[list[str], list[str]]:
    teams = list(await session.scalars(select(Team.name)))
    agents = list(await session.scalars(select(Agent.email).where(Agent.active.is_(True))))
    return teams, agents


async def _validated(svc: Any, session: AsyncSession, data: dict[str, Any]) -> None:
    teams, agents = await _known_names(session)
    try:
        validate_rule(data, teams=teams, agents=agents, templates=svc.policy.templates.names if svc.policy.templates else None)
    except InvalidRule as exc:
        raise ApiError(422, "; ".join(exc.problems)) from None


@router.get("/rules")
async def list_rules(svc: Svc, who: Admin) -> dict[str, Any]:
    async with svc.db.read() as session:
        rows = (await session.scalars(select(Rule).order_by(Rule.position, Rule.id))).all()
    return {"items": [rule_json(r) for r in rows], "next_cursor": None}


@router.post("/rules", status_code=201)
async def create_rule(svc: Svc, who: Admin, body: RuleIn) -> dict[str, Any]:
    data = {"name": body.name, "if": body.if_, "then": body.then, "enabled": body.enabled}
    try:
        async with svc.db.transaction() as session:
            await _validated(svc, session, data)
            position = body.position
            if position is None:
                position = int((await session.scalar(select(func.max(Rule.position)))) or 0) + 1
            rule = Rule(name=body.name, conditions=body.if_, actions=body.then, enabled=body.enabled, position=position, created_at=utcnow())
            session.add(rule)
            await session.flush()
            await audit.record(session, who.agent_id, "rule.create", f"rule:{rule.id}", data)
            return rule_json(rule)
    except IntegrityError:
        raise ApiError(409, f"a rule named {body.name!r} exists") from None


@router.patch("/rules/{rule_id}")
async def patch_rule(svc: Svc, who: Admin, rule_id: Id, body: RulePatch) -> dict[str, Any]:
    async with svc.db.transaction() as session:
        rule = await session.get(Rule, rule_id)
        if rule is None:
            raise not_found("rule")
        if rule.provisioned:
            raise ApiError(409, "this rule comes from the config file; change it there")
        changes = body.model_dump(exclude_unset=True, by_alias=True)
        data = {
            "name": changes.get("name", rule.name),
            "if": changes.get("if", rule.conditions),
            "then": changes.get("then", rule.actions),
            "enabled": changes.get("enabled", rule.enabled),
        }
        await _validated(svc, session, data)
        rule.name, rule.conditions, rule.actions, rule.enabled = data["name"], data["if"], data["then"], data["enabled"]
        if body.position is not None:
            rule.position = body.position
        await audit.record(session, who.agent_id, "rule.update", f"rule:{rule.id}", changes)
        return rule_json(rule)


@router.delete("/rules/{rule_id}", status_code=204)
async def delete_rule(svc: Svc, who: Admin, rule_id: Id) -> None:
    async with svc.db.transaction() as session:
        rule = await session.get(Rule, rule_id)
        if rule is None:
            raise not_found("rule")
        if rule.provisioned:
            raise ApiError(409, "this rule comes from the config file; remove it there")
        await session.delete(rule)
        await audit.record(session, who.agent_id, "rule.delete", f"rule:{rule_id}", {"name": rule.name})


@router.post("/rules/test")
async def test_rules(svc: Svc, who: Admin, body: RuleTestIn) -> dict[str, Any]:
    """Which rules would fire on a message, and what they would do. Changes nothing."""
    from inbox.pipeline.router import load_stored_rules

    async with svc.db.read() as session:
        teams, agents = await _known_names(session)
        if body.rule is not None:
            data = {"name": body.rule.name, "if": body.rule.if_, "then": body.rule.then, "enabled": body.rule.enabled}
            try:
                rules = [validate_rule(data)]
            except InvalidRule as exc:
                raise ApiError(422, "; ".join(exc.problems)) from None
        else:
            rules = await session.run_sync(lambda s: load_stored_rules(s.connection()))
    return explain(rules, body.message, svc, teams, agents)


def explain(rules: list[Any], message: SampleMessage, svc: Any, teams: list[str], agents: list[str], language: str = "en") -> dict[str, Any]:
    now = utcnow()
    snapshot = MessageSnapshot(
        channel=message.channel,
        channel_type=message.channel_type,
        sender_address=message.sender,
        sender_email=message.sender if "@" in message.sender else None,
        text=message.text,
        subject=message.subject,
        contact_tags=frozenset(message.contact_tags),
        language=message.language,
        in_business_hours=default_calendar(svc.config.business_hours).is_open(now),
        conversation_is_new=message.conversation == "new",
        automated=message.automated,
        received_at=now,
    )
    templates = svc.policy.templates.names if svc.policy.templates else None
    decision = evaluate(rules, snapshot, teams=teams, agents=agents, templates=templates)
    return {
        "fired": list(decision.fired),
        "actions": decision.timeline(language),
        "trace": [{"rule": t.rule, "outcome": t.outcome, "detail": t.detail} for t in decision.trace],
        "errors": [{"rule": e.rule, "error": e.error} for e in decision.errors],
    }


async def _team_json(session: AsyncSession, team: Team) -> dict[str, Any]:
    members = list(
        await session.scalars(select(Agent.email).join(TeamMember, TeamMember.agent_id == Agent.id).where(TeamMember.team_id == team.id).order_by(Agent.email))
    )
    return {"id": team.id, "name": team.name, "assignment": team.assignment, "members": members, "provisioned": team.provisioned}


async def _set_members(session: AsyncSession, team: Team, emails: list[str]) -> None:
    found = dict((await session.execute(select(Agent.email, Agent.id).where(Agent.email.in_([e.lower() for e in emails])))).all())
    missing = sorted({e.lower() for e in emails} - set(found))
    if missing:
        raise ApiError(422, f"no agent with email {', '.join(missing)}")
    await session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    for agent_id in found.values():
        session.add(TeamMember(team_id=team.id, agent_id=agent_id))


@router.get("/teams")
async def list_teams(svc: Svc, who: Admin) -> dict[str, Any]:
    async with svc.db.read() as session:
        teams = (await session.scalars(select(Team).order_by(Team.name))).all()
        return {"items": [await _team_json(session, t) for t in teams], "next_cursor": None}


@router.post("/teams", status_code=201)
async def create_team(svc: Svc, who: Admin, body: TeamIn) -> dict[str, Any]:
    try:
        async with svc.db.transaction() as session:
            team = Team(name=body.name, assignment=body.assignment)
            session.add(team)
            await session.flush()
            await _set_members(session, team, list(body.members))
            await session.flush()
            await audit.record(session, who.agent_id, "team.create", f"team:{team.id}", body.model_dump())
            return await _team_json(session, team)
    except IntegrityError:
        raise ApiError(409, f"a team named {body.name!r} exists") from None


@router.patch("/teams/{team_id}")
async def patch_team(svc: Svc, who: Admin, team_id: Id, body: TeamPatch) -> dict[str, Any]:
    async with svc.db.transaction() as session:
        team = await session.get(Team, team_id)
        if team is None:
            raise not_found("team")
        if team.provisioned:
            raise ApiError(409, "this team comes from the config file; change it there")
        if body.assignment is not None:
            team.assignment = body.assignment
        if body.members is not None:
            await _set_members(session, team, list(body.members))
        await session.flush()
        await audit.record(session, who.agent_id, "team.update", f"team:{team.id}", body.model_dump(exclude_unset=True))
        return await _team_json(session, team)
