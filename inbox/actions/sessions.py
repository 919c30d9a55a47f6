"""Browser sessions and the password: sign in, sign out, sign out everywhere, change the password.

Signing in and out are recorded by the session row itself (when, from where, until when);
the audit log gets the account's security changes: "Sign out everywhere" and a new password.

Other actions that must sign an agent out (deactivating them) call `end_sessions_in(tx,
agent_id)` inside their own transaction, so the change and the sign-out commit together.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.auth import hash_password, verify_password
from inbox.errors import Conflict, Forbidden, Invalid, NotFound
from inbox.sessions import LIFETIME, TOUCH_EVERY, SessionData, key_digest, new_csrf, new_key
from inbox.store.models import Agent, AgentSession, ApiToken

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
KEEP_ENDED = dt.timedelta(days=30)  # ended and expired rows are dropped after this
SYSTEM = Actor.system("session")


@dataclass(frozen=True, slots=True)
class StartedSession:
    key: str  # the cookie's value: given to the browser, never stored
    data: SessionData


async def start_session(ctx: Context, actor: Actor, *, user_agent: str = "", client: str = "", by_link: bool = False) -> StartedSession:
    """A new session for the signed-in `actor` (an active agent)."""
    assert actor.agent_id is not None, "a session is an agent's"
    agent_id = actor.agent_id
    key, csrf = new_key(), new_csrf()

    def work(tx: Tx) -> StartedSession:
        version = tx.conn.scalar(select(Agent.session_version).where(Agent.id == agent_id, Agent.active.is_(True)))
        if version is None:
            raise NotFound.of("agent")
        _forget_old(tx, agent_id)
        row = AgentSession(
            key_hash=key_digest(key),
            agent_id=agent_id,
            agent_version=version,
            csrf=csrf,
            by_link=by_link,
            user_agent=user_agent[:255],
            client=client[:64],
            created_at=tx.now,
            last_seen_at=tx.now,
            expires_at=tx.now + LIFETIME,
        )
        tx.session.add(row)
        tx.session.flush()
        return StartedSession(key, SessionData(row.id, agent_id, csrf, by_link))

    return await perform(ctx.db, ctx.bus, actor, work)


def _forget_old(tx: Tx, agent_id: int) -> None:
    cutoff = tx.now - KEEP_ENDED
    tx.conn.execute(
        delete(AgentSession).where(
            AgentSession.agent_id == agent_id,
            or_(AgentSession.ended_at < cutoff, AgentSession.expires_at < cutoff),
        )
    )


async def end_session(ctx: Context, actor: Actor, session_id: int) -> None:
    """Sign out: this session's cookie is refused from now on."""

    def work(tx: Tx) -> None:
        tx.conn.execute(
            update(AgentSession)
            .where(
                AgentSession.id == session_id,
                AgentSession.agent_id == actor.agent_id,
                AgentSession.ended_at.is_(None),
            )
            .values(ended_at=tx.now)
        )

    await perform(ctx.db, ctx.bus, actor, work)


async def end_all_sessions(ctx: Context, actor: Actor, agent_id: int) -> int:
    """Sign out everywhere: every session of the agent ends. An agent may do it for
    themself, an admin for anyone. Returns how many sessions ended."""
    if agent_id != actor.agent_id and not actor.is_admin:
        raise Forbidden("only an admin may sign another agent out")

    def work(tx: Tx) -> int:
        if tx.conn.scalar(select(Agent.id).where(Agent.id == agent_id)) is None:
            raise NotFound.of("agent")
        ended = end_sessions_in(tx, agent_id)
        tx.audit("session.end_all", f"agent:{agent_id}", {"ended": ended})
        return ended

    return await perform(ctx.db, ctx.bus, actor, work)


def end_sessions_in(tx: Tx, agent_id: int, *, keep: int | None = None) -> int:
    """End every open session of the agent (but `keep`) inside the caller's transaction.
    For actions that sign an agent out as part of their change (deactivation); the
    caller writes the audit entry. Returns how many sessions ended."""
    query = update(AgentSession).where(AgentSession.agent_id == agent_id, AgentSession.ended_at.is_(None))
    if keep is not None:
        query = query.where(AgentSession.id != keep)
    return tx.conn.execute(query.values(ended_at=tx.now)).rowcount


async def touch_session(ctx: Context, session_id: int, seen_at: dt.datetime) -> None:
    """Note that the session was used (at most once a minute; bookkeeping, not audited)."""

    def work(tx: Tx) -> None:
        tx.conn.execute(
            update(AgentSession)
            .where(AgentSession.id == session_id, AgentSession.last_seen_at < seen_at - TOUCH_EVERY)
            .values(last_seen_at=seen_at)
        )

    await perform(ctx.db, ctx.bus, SYSTEM, work)


async def change_password(
    ctx: Context,
    actor: Actor,
    session_id: int,
    current: str,
    new: str,
    *,
    revoke_tokens: bool = False,
) -> int:
    """The signed-in agent's new password. Asks for the current one, unless the agent has
    none yet or this session began with a one-time link. Every other session ends (this
    one stays); with `revoke_tokens`, so do all the agent's API tokens. Returns how many
    other sessions ended."""
    assert actor.agent_id is not None, "a password is an agent's"
    agent_id = actor.agent_id
    if not MIN_PASSWORD <= len(new) <= MAX_PASSWORD:
        raise Invalid(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters", code="password_length")

    def known(session: Session) -> tuple[str | None, bool] | None:
        row = session.execute(
            select(Agent.password_hash, AgentSession.by_link)
            .join(AgentSession, AgentSession.agent_id == Agent.id)
            .where(
                Agent.id == agent_id,
                Agent.active.is_(True),
                AgentSession.id == session_id,
                AgentSession.ended_at.is_(None),
            )
        ).first()
        return (row[0], bool(row[1])) if row else None

    found = await ctx.db.query(known)
    if found is None:
        raise NotFound.of("session")
    old_hash, by_link = found
    # argon2 is slow on purpose: both run in a thread, outside the write transaction.
    if old_hash and not by_link and not await asyncio.to_thread(verify_password, old_hash, current):
        raise Invalid("the current password is wrong", code="wrong_password")
    new_hash = await asyncio.to_thread(hash_password, new)

    def work(tx: Tx) -> int:
        unchanged = Agent.password_hash.is_(None) if old_hash is None else Agent.password_hash == old_hash
        done = tx.conn.execute(
            update(Agent)
            .where(Agent.id == agent_id, Agent.active.is_(True), unchanged)
            .values(password_hash=new_hash, session_version=Agent.session_version + 1)
        )
        if done.rowcount == 0:
            raise Conflict("the password was changed meanwhile; try again")
        version = tx.conn.scalar(select(Agent.session_version).where(Agent.id == agent_id))
        ended = end_sessions_in(tx, agent_id, keep=session_id)
        # This session stays, now under the new version; a link's session is spent.
        tx.conn.execute(update(AgentSession).where(AgentSession.id == session_id).values(agent_version=version, by_link=False))
        revoked = 0
        if revoke_tokens:
            revoked = tx.conn.execute(
                update(ApiToken).where(ApiToken.agent_id == agent_id, ApiToken.revoked.is_(False)).values(revoked=True)
            ).rowcount
        tx.audit(
            "password.change",
            f"agent:{agent_id}",
            {"sessions_ended": ended, "api_access_revoked": revoked},
        )
        return ended

    return await perform(ctx.db, ctx.bus, actor, work)
