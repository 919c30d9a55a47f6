"""Start-up provisioning: teams and rules from the config file, and the first admin.

Part of a node's start, not a surface: it runs before any request, makes the store match
the config file (no one to audit), and so keeps its own transactions."""

from __future__ import annotations

import logging

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from inbox.auth import new_login_link
from inbox.config import Config
from inbox.store.db import Database
from inbox.store.models import Agent, RequestType, Rule, Team, TeamMember, utcnow

log = logging.getLogger(__name__)


async def provision_teams_and_rules(db: Database, config: Config) -> None:
    async with db.transaction() as session:
        agents = {a.email: a.id for a in (await session.scalars(select(Agent))).all()}
        for team_config in config.teams:
            team = await session.scalar(select(Team).where(Team.name == team_config.name))
            if team is None:
                team = Team(name=team_config.name)
                session.add(team)
            team.assignment = team_config.assignment
            team.provisioned = True
            await session.flush()
            await session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
            for email in team_config.members:
                agent_id = agents.get(email.lower())
                if agent_id is None:
                    log.warning("team %s: member %s is not an agent yet; add them with `frontdesk agents add`", team.name, email)
                    continue
                session.add(TeamMember(team_id=team.id, agent_id=agent_id))
        names = [r.name for r in config.rules]
        await session.execute(delete(Rule).where(Rule.provisioned.is_(True), Rule.name.not_in(names)))
        for position, rule_config in enumerate(config.rules):
            rule = await session.scalar(select(Rule).where(Rule.name == rule_config.name))
            if rule is None:
                rule = Rule(name=rule_config.name)
                session.add(rule)
            rule.position = position
            rule.conditions = rule_config.if_
            rule.actions = rule_config.then
            rule.enabled = rule_config.enabled
            rule.provisioned = True


async def provision_request_types(db: Database, config: Config) -> None:
    """`[[request_types]]` from the config file: created or updated, marked provisioned
    (read-only in the UI and the API); provisioned ones no longer in the file go."""
    names = [t.name for t in config.request_types]
    now = utcnow()
    async with db.transaction() as session:
        await session.execute(delete(RequestType).where(RequestType.provisioned.is_(True), RequestType.name.not_in(names)))
        for spec in config.request_types:
            row = await session.scalar(select(RequestType).where(RequestType.name == spec.name))
            if row is None:
                row = RequestType(name=spec.name, created_at=now)
                session.add(row)
            row.description = spec.description
            row.fields = [f.model_dump(mode="json") for f in spec.fields]
            row.team = spec.team
            row.priority = spec.priority
            row.approver = spec.approver
            row.provisioned = True
            row.updated_at = now


def first_admin_email(public_url: str) -> str:
    host = public_url.split("://", 1)[-1].split("/", 1)[0].split(":")[0]
    if "." in host and not host.replace(".", "").isdigit():
        return f"admin@{host}"
    return "admin@frontdesk.local"


async def bootstrap_admin(db: Database, config: Config) -> str | None:
    """With no agent at all, create an admin and return a one-time login URL (once, ever)."""
    try:
        async with db.transaction() as session:
            if (await session.scalar(select(func.count()).select_from(Agent))) != 0:
                return None
            agent = Agent(email=first_admin_email(config.server.public_url), name="Administrator", role="admin")
            session.add(agent)
            await session.flush()
            token, link = new_login_link(agent.id)
            session.add(link)
    except IntegrityError:  # another node created it first
        return None
    return f"{config.server.public_url}/login/once/{token}"
