"""Agents as the admin pages and the API show them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from inbox.store.models import Agent


@dataclass(frozen=True, slots=True)
class AgentView:
    id: int
    email: str
    name: str
    role: str
    active: bool
    availability: str
    capacity: int
    language: str | None
    created_at: dt.datetime
    invited: bool = False  # invited and never signed in: no password chosen yet

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "active": self.active,
            "availability": self.availability,
            "capacity": self.capacity,
            "language": self.language,
            "created_at": self.created_at.isoformat(),
        }


def agent_view(agent: Agent) -> AgentView:
    return AgentView(
        agent.id,
        agent.email,
        agent.name,
        agent.role,
        agent.active,
        agent.availability,
        agent.capacity,
        agent.language,
        agent.created_at,
        invited=agent.password_hash is None,
    )


def list_agents(session: Session, *, by_name: bool = False) -> list[AgentView]:
    order = (Agent.name, Agent.id) if by_name else (Agent.id,)
    return [agent_view(a) for a in session.scalars(select(Agent).order_by(*order)).all()]


def active_emails(session: Session | Connection) -> list[str]:
    return list(session.scalars(select(Agent.email).where(Agent.active.is_(True)).order_by(Agent.email)))
