"""Who is calling from a browser: the agent behind a session cookie (API reads and UI pages).

The cookie names a server-side session (inbox.sessions). It is refused when the session
is unknown, ended or expired, when its agent is inactive, or when the agent's
`session_version` moved on since it began (a password change or an older sign-out).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.actions.sessions import touch_session
from inbox.auth import Principal, principal_of
from inbox.runtime.services import Services
from inbox.sessions import TOUCH_EVERY, SessionData, key_digest, plausible_key
from inbox.store.models import Agent, AgentSession, utcnow


async def signed_session(svc: Services, cookie: str | None, session: AsyncSession) -> tuple[Principal, SessionData] | None:
    """The agent and the session behind `cookie`, or None if it is not a live session."""
    if cookie is None or not plausible_key(cookie):
        return None
    now = utcnow()
    found = (
        await session.execute(
            select(AgentSession, Agent)
            .join(Agent, Agent.id == AgentSession.agent_id)
            .where(
                AgentSession.key_hash == key_digest(cookie),
                AgentSession.ended_at.is_(None),
                AgentSession.expires_at > now,
                AgentSession.agent_version == Agent.session_version,
                Agent.active.is_(True),
            )
        )
    ).first()
    if found is None:
        return None
    row, agent = found
    if row.last_seen_at <= now - TOUCH_EVERY:
        await touch_session(svc.ctx, row.id, now)
    return principal_of(agent), SessionData(row.id, agent.id, row.csrf, row.by_link)


async def principal_from_cookie(svc: Services, cookie: str | None, session: AsyncSession) -> Principal | None:
    found = await signed_session(svc, cookie, session)
    return found[0] if found else None
