"""Whether an agent was invited and has never signed in: no one to hand work to, nor to show
as online, whatever their (default) availability says.

Invited means the agent has a one-time login link and no password; they have signed in
once a link of theirs was used or a session of theirs exists. Agents made another way (with
a password, or API-token-only ones for scripts) are not waiting for an invitation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, not_, select

from inbox.store.models import AgentSession, LoginLink


def invited_never_signed_in(agent_id: Any, password_hash: Any) -> ColumnElement[bool]:
    """SQL over an agent's id and password_hash columns."""
    return and_(
        password_hash.is_(None),
        exists(select(LoginLink.id).where(LoginLink.agent_id == agent_id)),
        not_(exists(select(LoginLink.id).where(LoginLink.agent_id == agent_id, LoginLink.used_at.is_not(None)))),
        not_(exists(select(AgentSession.id).where(AgentSession.agent_id == agent_id))),
    )


def ever_signed_in(agent_id: Any, password_hash: Any) -> ColumnElement[bool]:
    """The opposite: this agent can be online and receive work."""
    return not_(invited_never_signed_in(agent_id, password_hash))
