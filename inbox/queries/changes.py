"""Reading changes: the graph's nodes by name, what a change reaches, its JSON shape, the
calendar with conflicts and freezes, and the changes an incident may have been caused by.

Sync functions take an ORM `Session` (actions call them inside their transaction); the
async ones wrap them for the API and the UI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from inbox.store.models import (
    Agent,
    Change,
    ChangeApprover,
    ChangeFreeze,
    ChangeItem,
    ConfigItem,
    Dependency,
    Problem,
    Service,
    Team,
    TeamMember,
    TicketAffected,
)
from routing import changes as rules
from routing import impact
from routing.impact import Edge, Node

SUSPECT_HOURS = 48


def nodes_by_name(session: Session, names: Iterable[str]) -> dict[str, Node]:
    """Services and configuration items by name (names are unique across both)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    found: dict[str, Node] = {
        n: ("service", i) for i, n in session.execute(select(Service.id, Service.name).where(Service.name.in_(wanted)))
    }
    for i, n in session.execute(select(ConfigItem.id, ConfigItem.name).where(ConfigItem.name.in_(wanted))):
        found.setdefault(n, ("config_item", i))
    return found


def node_names(session: Session, nodes: Iterable[Node]) -> dict[Node, str]:
    nodes = set(nodes)
    services = [i for t, i in nodes if t == "service"]
    items = [i for t, i in nodes if t == "config_item"]
    out: dict[Node, str] = {}
    if services:
        out.update({("service", i): n for i, n in session.execute(select(Service.id, Service.name).where(Service.id.in_(services)))})
    if items:
        out.update(
            {("config_item", i): n for i, n in session.execute(select(ConfigItem.id, ConfigItem.name).where(ConfigItem.id.in_(items)))}
        )
    return out


def edges(session: Session) -> list[Edge]:
    rows = session.execute(select(Dependency.source_type, Dependency.source_id, Dependency.target_type, Dependency.target_id))
    return [((r[0], r[1]), (r[2], r[3])) for r in rows]


def criticalities(session: Session, nodes: Iterable[Node]) -> dict[str, str]:
    """name → criticality; a configuration item carries its service's, or "low"."""
    nodes = set(nodes)
    services = [i for t, i in nodes if t == "service"]
    items = [i for t, i in nodes if t == "config_item"]
    out: dict[str, str] = {}
    if services:
        out.update({a: b for a, b in session.execute(select(Service.name, Service.criticality).where(Service.id.in_(services)))})
    if items:
        rows = session.execute(
            select(ConfigItem.name, Service.criticality)
            .outerjoin(Service, Service.id == ConfigItem.service_id)
            .where(ConfigItem.id.in_(items))
        )
        out.update({name: crit or "low" for name, crit in rows})
    return out


def items_of(session: Session, change_ids: Iterable[int]) -> dict[int, list[Node]]:
    ids = list(set(change_ids))
    out: dict[int, list[Node]] = {i: [] for i in ids}
    if ids:
        for cid, t, n in session.execute(
            select(ChangeItem.change_id, ChangeItem.node_type, ChangeItem.node_id).where(ChangeItem.change_id.in_(ids))
        ):
            out[cid].append((t, n))
    return out


def reached(session: Session, nodes: Iterable[Node]) -> set[Node]:
    """The items themselves and everything that depends on them, transitively."""
    start = set(nodes)
    return start | set(impact.dependents(edges(session), start))


def failed_before(session: Session, nodes: Iterable[Node], now: dt.datetime, exclude: int | None = None) -> int:
    nodes = list(set(nodes))
    if not nodes:
        return 0
    since = now - dt.timedelta(days=rules.HISTORY_DAYS)
    query = (
        select(func.count(func.distinct(Change.id)))
        .join(ChangeItem, ChangeItem.change_id == Change.id)
        .where(Change.status == "failed", Change.status_changed_at >= since)
    )
    matches = [((ChangeItem.node_type == t) & (ChangeItem.node_id == i)) for t, i in nodes]

    query = query.where(or_(*matches))
    if exclude is not None:
        query = query.where(Change.id != exclude)
    return int(session.scalar(query) or 0)


def assess(session: Session, change_type: Any, nodes: list[Node], now: dt.datetime, exclude: int | None = None) -> rules.Risk:
    return rules.assess_risk(change_type, criticalities(session, reached(session, nodes)), failed_before(session, nodes, now, exclude))


def freezes_overlapping(session: Session, start: dt.datetime, end: dt.datetime) -> list[ChangeFreeze]:
    query = select(ChangeFreeze).where(ChangeFreeze.starts_at < end, ChangeFreeze.ends_at > start).order_by(ChangeFreeze.starts_at)
    return list(session.scalars(query))


def approver_rows(session: Session, change_id: int) -> list[ChangeApprover]:
    return list(session.scalars(select(ChangeApprover).where(ChangeApprover.change_id == change_id).order_by(ChangeApprover.id)))


def may_decide(session: Session, row: ChangeApprover, agent_id: int) -> bool:
    """The named agent, or any member of the named team."""
    if row.agent_id is not None:
        return row.agent_id == agent_id
    member = session.scalar(select(TeamMember.agent_id).where(TeamMember.team_id == row.team_id, TeamMember.agent_id == agent_id))
    return member is not None


def approver_agents(session: Session, row: ChangeApprover) -> list[Agent]:
    """Who is asked to decide for an approver row (the agent, or the team's active members)."""
    if row.agent_id is not None:
        query = select(Agent).where(Agent.id == row.agent_id, Agent.active.is_(True))
    else:
        query = (
            select(Agent).join(TeamMember, TeamMember.agent_id == Agent.id).where(TeamMember.team_id == row.team_id, Agent.active.is_(True))
        )
    return list(session.scalars(query.order_by(Agent.id)))


def find_change(session: Session, change_id: int) -> Change | None:
    return session.get(Change, change_id)


def factors(stored: list[Any] | None) -> list[dict[str, Any]]:
    """A change's risk reasons as stored: `{"code", "points", "params", "text"}` each (an
    older change's plain English line: code None)."""
    return [dict(r) if isinstance(r, dict) else {"code": None, "points": None, "params": {}, "text": str(r)} for r in stored or []]


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def describe(session: Session, changes: list[Change], viewer_id: int | None = None) -> list[dict[str, Any]]:
    ids = [c.id for c in changes]
    items = items_of(session, ids)
    names = node_names(session, [n for ns in items.values() for n in ns])
    approvers: dict[int, list[ChangeApprover]] = {i: [] for i in ids}
    if ids:
        for row in session.scalars(select(ChangeApprover).where(ChangeApprover.change_id.in_(ids)).order_by(ChangeApprover.id)):
            approvers[row.change_id].append(row)
    agent_ids = {r.agent_id for rs in approvers.values() for r in rs} | {r.decided_by for rs in approvers.values() for r in rs}
    agent_ids |= {c.requested_by for c in changes}
    agent_ids.discard(None)
    emails = {a: b for a, b in session.execute(select(Agent.id, Agent.email).where(Agent.id.in_(agent_ids)))} if agent_ids else {}
    team_ids = {r.team_id for rs in approvers.values() for r in rs if r.team_id is not None}
    teams = {a: b for a, b in session.execute(select(Team.id, Team.name).where(Team.id.in_(team_ids)))} if team_ids else {}
    problems = {c.problem_id for c in changes if c.problem_id is not None}
    numbers = {a: b for a, b in session.execute(select(Problem.id, Problem.number).where(Problem.id.in_(problems)))} if problems else {}
    out = []
    for c in changes:
        rows = approvers[c.id]
        out.append(
            {
                "id": c.id,
                "number": c.number,
                "title": c.title,
                "type": c.type,
                "description": c.description,
                "status": c.status,
                "risk": c.risk,
                "risk_reasons": [f["text"] for f in factors(c.risk_reasons)],
                "risk_factors": factors(c.risk_reasons),
                "items": sorted(names.get(n, f"{n[0]}:{n[1]}") for n in items[c.id]),
                "planned_start": _iso(c.planned_start),
                "planned_end": _iso(c.planned_end),
                "backout_plan": c.backout_plan,
                "problem_id": c.problem_id,
                "problem_number": numbers.get(c.problem_id) if c.problem_id else None,
                "requested_by": emails.get(c.requested_by) if c.requested_by else None,
                "approvers": [
                    {
                        "id": r.id,
                        "approver": emails.get(r.agent_id) if r.agent_id else teams.get(r.team_id or 0),
                        "kind": "agent" if r.agent_id else "team",
                        "decision": r.decision,
                        "comment": r.comment,
                        "decided_by": emails.get(r.decided_by) if r.decided_by else None,
                        "decided_via": r.decided_via,
                        "decided_at": _iso(r.decided_at),
                        "can_decide": bool(
                            viewer_id is not None and c.status == "approval" and r.decision is None and may_decide(session, r, viewer_id)
                        ),
                    }
                    for r in rows
                ],
                "allowed_transitions": [
                    s
                    for s in rules.TRANSITIONS[c.status]  # type: ignore[index]
                    if rules.next_status(c.status, s, c.type, bool(rows)) is None  # type: ignore[arg-type]
                ],
                "status_changed_at": _iso(c.status_changed_at),
                "created_at": _iso(c.created_at),
                "updated_at": _iso(c.updated_at),
            }
        )
    return out


def list_changes_sync(session: Session, status: str | None, before_id: int | None, limit: int) -> list[Change]:
    query = select(Change).order_by(Change.id.desc()).limit(limit)
    if status:
        query = query.where(Change.status == status)
    if before_id is not None:
        query = query.where(Change.id < before_id)
    return list(session.scalars(query))


async def list_changes(
    session: AsyncSession, status: str | None, before_id: int | None, limit: int, viewer_id: int | None
) -> list[dict[str, Any]]:
    def run(s: Session) -> list[dict[str, Any]]:
        return describe(s, list_changes_sync(s, status, before_id, limit), viewer_id)

    return await session.run_sync(run)


async def get_change(session: AsyncSession, change_id: int, viewer_id: int | None) -> dict[str, Any] | None:
    def run(s: Session) -> dict[str, Any] | None:
        found = find_change(s, change_id)
        return describe(s, [found], viewer_id)[0] if found else None

    return await session.run_sync(run)


def freeze_json(f: ChangeFreeze) -> dict[str, Any]:
    return {"id": f.id, "name": f.name, "start": f.starts_at.isoformat(), "end": f.ends_at.isoformat(), "provisioned": f.provisioned}


async def list_freezes(session: AsyncSession) -> list[dict[str, Any]]:
    return [freeze_json(f) for f in await session.scalars(select(ChangeFreeze).order_by(ChangeFreeze.starts_at, ChangeFreeze.id))]


def calendar_sync(session: Session, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Active changes planned within [start, end), each with the other active changes that
    overlap it in time on the same item or on something either depends on."""
    query = (
        select(Change)
        .where(
            Change.planned_start.is_not(None),
            Change.planned_end.is_not(None),
            Change.status.in_(sorted(rules.ACTIVE | {"closed", "failed"})),
        )
        .where(Change.planned_start < end, Change.planned_end > start)
        .order_by(Change.planned_start, Change.id)
    )
    shown = list(session.scalars(query))
    # Conflicts may come from changes just outside the window: look at every active change overlapping any shown one.
    if shown:
        lo = min(c.planned_start for c in shown if c.planned_start)
        hi = max(c.planned_end for c in shown if c.planned_end)
        others = list(
            session.scalars(
                select(Change).where(
                    Change.planned_start.is_not(None),
                    Change.planned_start < hi,
                    Change.planned_end > lo,
                    Change.status.in_(sorted(rules.ACTIVE)),
                )
            )
        )
    else:
        others = []
    graph = edges(session)
    items = items_of(session, {c.id for c in shown} | {c.id for c in others})
    # What each change's work can disturb: its items and what they depend on and what depends on them.
    scope = {cid: set(ns) | set(impact.depends_on(graph, ns)) | set(impact.dependents(graph, ns)) for cid, ns in items.items()}
    described = {d["id"]: d for d in describe(session, shown)}
    freezes = freezes_overlapping(session, start, end)
    out = []
    for c in shown:
        conflicts = []
        for o in others:
            if o.id == c.id or c.status not in rules.ACTIVE:
                continue
            assert c.planned_start and c.planned_end and o.planned_start and o.planned_end
            if not rules.overlaps(c.planned_start, c.planned_end, o.planned_start, o.planned_end):
                continue
            if set(items[c.id]) & scope[o.id] or set(items[o.id]) & scope[c.id]:
                conflicts.append({"id": o.id, "number": o.number, "title": o.title})
        row = described[c.id]
        row["conflicts"] = sorted(conflicts, key=lambda x: x["id"])
        assert c.planned_start and c.planned_end
        row["in_freeze"] = [f.name for f in freezes if rules.overlaps(c.planned_start, c.planned_end, f.starts_at, f.ends_at)]
        out.append(row)
    return {"from": start.isoformat(), "to": end.isoformat(), "changes": out, "freezes": [freeze_json(f) for f in freezes]}


async def calendar(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    return await session.run_sync(calendar_sync, start, end)


def suspected_sync(session: Session, ticket_id: int, now: dt.datetime) -> list[dict[str, Any]]:
    """Changes implemented (or being implemented) in the last 48 hours on an item the incident
    names as affected, or on something that item depends on."""
    affected = [
        (t, i)
        for t, i in session.execute(select(TicketAffected.node_type, TicketAffected.node_id).where(TicketAffected.ticket_id == ticket_id))
    ]
    if not affected:
        return []
    scope = set(affected) | set(impact.depends_on(edges(session), affected))
    since = now - dt.timedelta(hours=SUSPECT_HOURS)

    matches = [((ChangeItem.node_type == t) & (ChangeItem.node_id == i)) for t, i in scope]
    touching = select(ChangeItem.change_id).where(or_(*matches))
    query = (
        select(Change)
        .where(Change.id.in_(touching), Change.status.in_(("implementing", "review", "closed", "failed")))
        .where(Change.planned_start.is_not(None), Change.planned_start <= now)
        .where(func.coalesce(Change.planned_end, Change.planned_start) >= since)
        .order_by(Change.planned_start.desc(), Change.id.desc())
    )
    found = list(session.scalars(query))
    return [
        {
            "id": c.id,
            "number": c.number,
            "title": c.title,
            "status": c.status,
            "planned_start": _iso(c.planned_start),
            "planned_end": _iso(c.planned_end),
        }
        for c in found
    ]


async def suspected_changes(session: AsyncSession, ticket_id: int, now: dt.datetime) -> list[dict[str, Any]]:
    return await session.run_sync(suspected_sync, ticket_id, now)
