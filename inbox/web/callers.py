"""Who is calling from a browser: the agent behind a session cookie (API reads and UI pages)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.auth import Principal, principal_of
from inbox.runtime.services import Services
from inbox.store.models import Agent


async def principal_from_cookie(svc: Services, cookie: str | None, session: AsyncSession) -> Principal | None:
    data = svc.sessions.load(cookie)
    if data is None:
        return None
    agent = await session.scalar(select(Agent).where(Agent.id == data.agent_id, Agent.active.is_(True)))
    if agent is None or agent.session_version != data.version:
        return None
    return principal_of(agent)
