"""Start-up provisioning: teams and rules from the config file, and the first admin.

Part of a node's start, not a surface: it runs before any request, makes the store match
the config file (no one to audit), and so keeps its own transactions."""

from __future__ import annotations

import logging

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inbox.auth import new_login_link
from inbox.config import Config
from inbox.queries import services as graph
from inbox.store.db import Database
from inbox.store.models import Agent, ConfigItem, Dependency, RequestType, Rule, Service, Team, TeamMember, TicketAffected, utcnow
from routing import impact
from routing.change_rules import stored_conditions
from routing.impact import Node

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
            rule.conditions = stored_conditions(rule_config.if_) if rule_config.on == "change" else rule_config.if_
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


async def provision_service_desk(db: Database, config: Config) -> None:
    """Make the provisioned services and configuration items match `[[services]]` and
    `[[config_items]]`: create or update them (marked read-only), drop the provisioned ones
    no longer in the file, and set their dependencies. A name taken by a UI-made node of the
    other type, an unknown dependency or one that would close a cycle is skipped with a warning."""
    async with db.transaction() as session:
        await session.run_sync(lambda s: _provision_graph(s, config))


def _provision_graph(session: Session, config: Config) -> None:
    wanted_services = {s.name for s in config.services}
    wanted_items = {c.name for c in config.config_items}
    for gone in session.scalars(select(Service).where(Service.provisioned.is_(True), Service.name.not_in(wanted_services))):
        _forget(session, (graph.SERVICE, gone.id))
        session.delete(gone)
    for gone_item in session.scalars(select(ConfigItem).where(ConfigItem.provisioned.is_(True), ConfigItem.name.not_in(wanted_items))):
        _forget(session, (graph.CONFIG_ITEM, gone_item.id))
        session.delete(gone_item)
    session.flush()
    teams = dict(session.execute(select(Team.name, Team.id)).all())
    now = utcnow()
    nodes: dict[str, Node] = {}
    for sc in config.services:
        if session.scalar(select(ConfigItem.id).where(ConfigItem.name == sc.name)) is not None:
            log.warning("services: %r is already the name of a configuration item; skipped", sc.name)
            continue
        service = session.scalar(select(Service).where(Service.name == sc.name))
        if service is None:
            service = Service(name=sc.name, created_at=now)
            session.add(service)
        if sc.team is not None and sc.team not in teams:
            log.warning("services: %r names team %r, which does not exist", sc.name, sc.team)
        service.description, service.criticality, service.team_id = sc.description, sc.criticality, teams.get(sc.team or "")
        service.provisioned, service.updated_at = True, now
        session.flush()
        nodes[sc.name] = (graph.SERVICE, service.id)
    for ic in config.config_items:
        if session.scalar(select(Service.id).where(Service.name == ic.name)) is not None:
            log.warning("config_items: %r is already the name of a service; skipped", ic.name)
            continue
        item = session.scalar(select(ConfigItem).where(ConfigItem.name == ic.name))
        if item is None:
            item = ConfigItem(name=ic.name, created_at=now)
            session.add(item)
        item.kind, item.attributes = ic.kind, dict(ic.attributes)
        item.service_id = nodes[ic.service][1] if ic.service in nodes else None
        item.provisioned, item.updated_at = True, now
        session.flush()
        nodes[ic.name] = (graph.CONFIG_ITEM, item.id)
    depends = {s.name: s.depends_on for s in config.services} | {c.name: c.depends_on for c in config.config_items}
    for node in nodes.values():
        session.execute(delete(Dependency).where(Dependency.source_type == node[0], Dependency.source_id == node[1]))
    session.flush()
    for name, node in nodes.items():
        found = graph.find_names(session, depends[name])
        targets: list[Node] = []
        for target in depends[name]:
            if target not in found:
                log.warning("%r depends on %r, which is neither a service nor a configuration item; skipped", name, target)
                continue
            cycle = impact.cycle_through(graph.all_edges(session), node, [*targets, found[target]])
            if cycle is not None:
                log.warning("%r depending on %r would make a cycle; skipped", name, target)
                continue
            targets.append(found[target])
            session.add(Dependency(source_type=node[0], source_id=node[1], target_type=found[target][0], target_id=found[target][1]))
            session.flush()


def _forget(session: Session, node: Node) -> None:
    session.execute(delete(Dependency).where(Dependency.source_type == node[0], Dependency.source_id == node[1]))
    session.execute(delete(Dependency).where(Dependency.target_type == node[0], Dependency.target_id == node[1]))
    session.execute(delete(TicketAffected).where(TicketAffected.node_type == node[0], TicketAffected.node_id == node[1]))
