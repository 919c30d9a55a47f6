"""API tokens: create one for an agent (its clear value is shown once), revoke one."""

from __future__ import annotations

from sqlalchemy import select, update

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.auth import new_token
from inbox.errors import Invalid, NotFound
from inbox.store.models import Agent, ApiToken

MAX_NAME = 255


async def create_token(ctx: Context, actor: Actor, agent_email: str, name: str = "") -> str:
    """A new API token for an active agent; returns the clear token (never stored)."""
    email = agent_email.strip().lower()
    name = name.strip()[:MAX_NAME]

    def work(tx: Tx) -> str:
        agent_id = tx.conn.scalar(select(Agent.id).where(Agent.email == email, Agent.active.is_(True)))
        if agent_id is None:
            raise Invalid(f"no active agent {email}")
        clear, row = new_token(agent_id, name)
        tx.session.add(row)
        tx.audit("token.create", f"agent:{agent_id}", {"name": name})
        return clear

    return await perform(ctx.db, ctx.bus, actor, work)


async def revoke_token(ctx: Context, actor: Actor, token_id: int) -> None:
    def work(tx: Tx) -> None:
        done = tx.conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked=True))
        if done.rowcount == 0:
            raise NotFound.of("token")
        tx.audit("token.revoke", f"token:{token_id}")

    await perform(ctx.db, ctx.bus, actor, work)
