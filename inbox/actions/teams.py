"""Teams: create one, change its members and assignment strategy. Teams of the config
file are provisioned at start and read-only here."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Invalid, NotFound
from inbox.queries.teams import TeamView, team_view
from inbox.store.models import Agent, Team, TeamMember
from routing.vocabulary import ASSIGNMENT_STRATEGIES

MAX_NAME = 255


def _members(emails: Iterable[str]) -> list[str]:
    return sorted({e.strip().lower() for e in emails if e.strip()})


def _checked_assignment(assignment: str) -> str:
    if assignment not in ASSIGNMENT_STRATEGIES:
        raise Invalid(f"assignment: expected one of {', '.join(ASSIGNMENT_STRATEGIES)}")
    return assignment


def _set_members(tx: Tx, team: Team, emails: list[str]) -> None:
    found: dict[str, int] = {
        email: agent_id for email, agent_id in tx.conn.execute(select(Agent.email, Agent.id).where(Agent.email.in_(emails)))
    }
    missing = sorted(set(emails) - set(found))
    if missing:
        raise Invalid(f"members: no agent with email {', '.join(missing)}")
    tx.conn.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    for agent_id in found.values():
        tx.session.add(TeamMember(team_id=team.id, agent_id=agent_id))
    tx.session.flush()


async def create_team(ctx: Context, actor: Actor, name: str, assignment: str = "round_robin", members: Iterable[str] = ()) -> TeamView:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise Invalid(f"name: 1 to {MAX_NAME} characters")
    emails = _members(members)
    details = {"name": name, "assignment": _checked_assignment(assignment), "members": emails}

    def work(tx: Tx) -> TeamView:
        if tx.conn.scalar(select(Team.id).where(Team.name == name)) is not None:
            raise Conflict(f"a team named {name!r} exists")
        team = Team(name=name, assignment=assignment, created_at=tx.now)
        tx.session.add(team)
        tx.session.flush()
        _set_members(tx, team, emails)
        tx.audit("team.create", f"team:{team.id}", details)
        return team_view(tx.session, team)

    try:
        return await perform(ctx.db, ctx.bus, actor, work)
    except IntegrityError:
        raise Conflict(f"a team named {name!r} exists") from None


async def update_team(
    ctx: Context, actor: Actor, team_id: int, *, assignment: str | None = None, members: Iterable[str] | None = None
) -> TeamView:
    """Change what is given (members replace the current ones)."""
    changes: dict[str, object] = {}
    if assignment is not None:
        changes["assignment"] = _checked_assignment(assignment)
    if members is not None:
        changes["members"] = _members(members)

    def work(tx: Tx) -> TeamView:
        team = tx.session.get(Team, team_id)
        if team is None:
            raise NotFound.of("team")
        if team.provisioned:
            raise Conflict("this team comes from the config file; change it there", code="read_only")
        if assignment is not None:
            team.assignment = assignment
        if members is not None:
            _set_members(tx, team, _members(members))
        tx.audit("team.update", f"team:{team.id}", changes)
        return team_view(tx.session, team)

    return await perform(ctx.db, ctx.bus, actor, work)
