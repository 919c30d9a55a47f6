"""Admin routes for rules and teams, and the "which rules would fire" test."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from inbox.actions import rules as rule_actions
from inbox.actions import teams as team_actions
from inbox.actions.runner import Actor
from inbox.errors import Invalid
from inbox.pipeline.router import load_stored_rules
from inbox.queries.rules import SampleMessage, explain, known_names, list_rules
from inbox.queries.teams import list_teams
from inbox.web.api.deps import Admin, Id, Svc
from routing.config import default_calendar
from routing.rules import InvalidRule, validate_rule
from routing.vocabulary import AssignmentStrategy

router = APIRouter(prefix="/api/v1", tags=["routing"])


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(min_length=1, max_length=255)
    on: Literal["message", "change"] = "message"  # what the rule acts on (docs/routing.md)
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


class RuleTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: SampleMessage
    rule: RuleIn | None = None  # try one unsaved rule instead of the stored ones


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    members: list[EmailStr] = []
    assignment: AssignmentStrategy = "round_robin"


class TeamPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    members: list[EmailStr] | None = None
    assignment: AssignmentStrategy | None = None


@router.get("/rules")
async def get_rules(svc: Svc, who: Admin) -> dict[str, Any]:
    return {"items": [r.as_json() for r in await svc.db.query(list_rules)], "next_cursor": None}


@router.post("/rules", status_code=201)
async def create_rule(svc: Svc, who: Admin, body: RuleIn) -> dict[str, Any]:
    rule = await rule_actions.create_rule(
        svc.ctx, Actor.of(who), body.name, body.if_, body.then, enabled=body.enabled, position=body.position, on=body.on
    )
    return rule.as_json()


@router.patch("/rules/{rule_id}")
async def patch_rule(svc: Svc, who: Admin, rule_id: Id, body: RulePatch) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    nulled = sorted(k for k, v in given.items() if v is None)
    if nulled:
        raise Invalid(f"{', '.join('if' if k == 'if_' else k for k in nulled)}: may be left out but not null")
    changes: rule_actions.RuleChanges = {}
    if "name" in given:
        changes["name"] = given["name"]
    if "if_" in given:
        changes["conditions"] = given["if_"]
    if "then" in given:
        changes["actions"] = given["then"]
    if "enabled" in given:
        changes["enabled"] = given["enabled"]
    if "position" in given:
        changes["position"] = given["position"]
    return (await rule_actions.update_rule(svc.ctx, Actor.of(who), rule_id, changes)).as_json()


@router.delete("/rules/{rule_id}", status_code=204)
async def delete_rule(svc: Svc, who: Admin, rule_id: Id) -> None:
    await rule_actions.delete_rule(svc.ctx, Actor.of(who), rule_id)


@router.post("/rules/test")
async def test_rules(svc: Svc, who: Admin, body: RuleTestIn) -> dict[str, Any]:
    """Which rules would fire on a message, and what they would do. Changes nothing."""
    teams, agents = await svc.db.query(known_names)
    if body.rule is not None:
        if body.rule.on == "change":
            raise Invalid("a change rule runs on changes: the tester tries rules on messages", code="rt_change_rule")
        try:
            rules = [validate_rule({"name": body.rule.name, "if": body.rule.if_, "then": body.rule.then, "enabled": body.rule.enabled})]
        except InvalidRule as exc:
            raise Invalid("; ".join(exc.problems)) from None
    else:
        rules = await svc.db.query(lambda s: load_stored_rules(s.connection()))
    templates = svc.policy.templates.names if svc.policy.templates else None
    return explain(
        rules, body.message, calendar=default_calendar(svc.config.business_hours), teams=teams, agents=agents, templates=templates
    )


@router.get("/teams")
async def get_teams(svc: Svc, who: Admin) -> dict[str, Any]:
    return {"items": [t.as_json() for t in await svc.db.query(list_teams)], "next_cursor": None}


@router.post("/teams", status_code=201)
async def create_team(svc: Svc, who: Admin, body: TeamIn) -> dict[str, Any]:
    team = await team_actions.create_team(svc.ctx, Actor.of(who), body.name, body.assignment, [str(m) for m in body.members])
    return team.as_json()


@router.patch("/teams/{team_id}")
async def patch_team(svc: Svc, who: Admin, team_id: Id, body: TeamPatch) -> dict[str, Any]:
    members = [str(m) for m in body.members] if body.members is not None else None
    return (await team_actions.update_team(svc.ctx, Actor.of(who), team_id, assignment=body.assignment, members=members)).as_json()
