"""Teams as the admin pages and the API show them: name, assignment and member emails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from inbox.store.models import Agent, Team, TeamMember


@dataclass(frozen=True, slots=True)
class TeamView:
    id: int
    name: str
    assignment: str
    members: list[str]  # emails, sorted
    provisioned: bool

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "assignment": self.assignment, "members": self.members, "provisioned": self.provisioned}


def team_view(conn: Session | Connection, team: Team) -> TeamView:
    members = list(
        conn.scalars(
            select(Agent.email).join(TeamMember, TeamMember.agent_id == Agent.id).where(TeamMember.team_id == team.id).order_by(Agent.email)
        )
    )
    return TeamView(team.id, team.name, team.assignment, members, team.provisioned)


def list_teams(session: Session) -> list[TeamView]:
    return [team_view(session, t) for t in session.scalars(select(Team).order_by(Team.name)).all()]


def team_names(conn: Session | Connection) -> list[str]:
    return list(conn.scalars(select(Team.name)))
