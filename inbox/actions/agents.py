"""Agents: add one (with a password, or invited by a one-time link), change an agent's
role, state and settings, and an agent's own password, language and availability.

What an admin changes is audited; an agent's own preferences are not (as before).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.actions.sessions import end_sessions_in
from inbox.auth import hash_password, new_login_link, redeem_login_link
from inbox.errors import Conflict, Forbidden, Invalid, NotFound
from inbox.queries.agents import AgentView, agent_view
from inbox.store.models import Agent
from inbox.store.sign_ins import invited_never_signed_in
from routing.vocabulary import AVAILABILITIES, LANGUAGES, ROLES, Availability, Language, Role

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_NAME = 255
MAX_CAPACITY = 10_000
INVITE_HOURS = 72


class AgentChanges(TypedDict, total=False):
    """What an admin may change on an agent; a key left out is left as it is."""

    name: str
    role: Role
    active: bool
    availability: Availability
    capacity: int
    language: Language | None  # None: follow the browser


@dataclass(frozen=True, slots=True)
class NewAgent:
    agent: AgentView
    login_link: str | None  # the one-time sign-in URL of an invitation (shown once)


def normal_email(email: str) -> str:
    """An agent's email as stored and looked up: trimmed and lower-case."""
    return email.strip().lower()


def _checked_email(raw: str) -> str:
    email = normal_email(raw)
    local, at, domain = email.partition("@")
    if not at or not local or not domain or "@" in domain or any(c.isspace() for c in email) or len(email) > 320:
        raise Invalid(f"email: {raw.strip()!r} is not an email address")
    return email


def _checked_name(raw: str) -> str:
    name = raw.strip()
    if not name:
        raise Invalid("name: must not be empty")
    if len(name) > MAX_NAME:
        raise Invalid(f"name: at most {MAX_NAME} characters")
    return name


def _checked_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password: at least {MIN_PASSWORD} characters", code="password_short")
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"password: at most {MAX_PASSWORD} characters")
    return password


def _checked_choice(key: str, value: Any, allowed: tuple[str, ...]) -> Any:
    if value not in allowed:
        raise Invalid(f"{key}: expected one of {', '.join(allowed)}")
    return value


async def create_agent(
    ctx: Context,
    actor: Actor,
    email: str,
    name: str,
    role: str = "agent",
    *,
    password: str | None = None,
    language: str | None = None,
    invite: bool = False,
) -> NewAgent:
    """A new agent. With `password` they can sign in at once; with `invite` they get a
    one-time link (valid for three days) to choose one."""
    email = _checked_email(email)
    name = _checked_name(name)
    role = _checked_choice("role", role, ROLES)
    if language is not None:
        _checked_choice("language", language, LANGUAGES)
    password_hash = await asyncio.to_thread(hash_password, _checked_password(password)) if password is not None else None

    def work(tx: Tx) -> NewAgent:
        if tx.conn.scalar(select(Agent.id).where(Agent.email == email)) is not None:
            raise Conflict(f"an agent with email {email} exists")
        agent = Agent(email=email, name=name, role=role, language=language, password_hash=password_hash, created_at=tx.now)
        tx.session.add(agent)
        tx.session.flush()
        tx.audit("agent.create", f"agent:{agent.id}", {"email": email, "role": role})
        link = None
        if invite:
            token, row = new_login_link(agent.id, hours=INVITE_HOURS)
            tx.session.add(row)
            tx.audit("agent.invite", f"agent:{agent.id}", {"hours": INVITE_HOURS})
            link = f"{ctx.public_url.rstrip('/')}/login/once/{token}"
        return NewAgent(agent_view(agent, signed_in=link is None), link)

    try:
        return await perform(ctx.db, ctx.bus, actor, work)
    except IntegrityError:  # the same email added at the same moment elsewhere
        raise Conflict(f"an agent with email {email} exists") from None


def _checked_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(AgentChanges.__annotations__))
    if unknown:
        raise Invalid(f"{', '.join(unknown)}: not something an agent has")
    nulled = sorted(k for k, v in changes.items() if v is None and k != "language")
    if nulled:
        raise Invalid(f"{', '.join(nulled)}: may be left out but not null")
    checked = dict(changes)
    if "name" in checked:
        checked["name"] = _checked_name(checked["name"])
    if "role" in checked:
        _checked_choice("role", checked["role"], ROLES)
    if "availability" in checked:
        _checked_choice("availability", checked["availability"], AVAILABILITIES)
    if checked.get("language") is not None:
        _checked_choice("language", checked["language"], LANGUAGES)
    if "active" in checked and not isinstance(checked["active"], bool):
        raise Invalid("active: expected true or false")
    if "capacity" in checked:
        capacity = checked["capacity"]
        if isinstance(capacity, bool) or not isinstance(capacity, int) or not 0 <= capacity <= MAX_CAPACITY:
            raise Invalid(f"capacity: a whole number from 0 to {MAX_CAPACITY}")
    return checked


async def update_agent(ctx: Context, actor: Actor, agent_id: int, changes: AgentChanges) -> AgentView:
    """Change an agent. Deactivating signs them out everywhere. No admin may demote or
    deactivate themself (another admin must), so there is always one admin left."""
    checked = _checked_changes(changes)
    if agent_id == actor.agent_id and (checked.get("role") == "agent" or checked.get("active") is False):
        raise Forbidden("you cannot demote or deactivate yourself", code="not_yourself")

    def work(tx: Tx) -> AgentView:
        agent = tx.session.get(Agent, agent_id)
        if agent is None:
            raise NotFound.of("agent")
        if agent.active and checked.get("active") is False:
            agent.session_version += 1  # signs them out everywhere, their open streams too
            end_sessions_in(tx, agent.id)
        for key, value in checked.items():
            setattr(agent, key, value)
        tx.audit("agent.update", f"agent:{agent.id}", checked)
        pending = tx.session.scalar(select(invited_never_signed_in(Agent.id, Agent.password_hash)).where(Agent.id == agent.id))
        return agent_view(agent, signed_in=not pending)

    return await perform(ctx.db, ctx.bus, actor, work)


def _own_id(actor: Actor) -> int:
    if actor.agent_id is None:
        raise Invalid("only a signed-in agent has their own settings")
    return actor.agent_id


async def set_language(ctx: Context, actor: Actor, language: str | None) -> None:
    """The acting agent's UI language; None follows the browser."""
    agent_id = _own_id(actor)
    if language is not None:
        _checked_choice("language", language, LANGUAGES)
    await perform(ctx.db, ctx.bus, actor, lambda tx: tx.conn.execute(update(Agent).where(Agent.id == agent_id).values(language=language)))


async def set_availability(ctx: Context, actor: Actor, availability: str) -> None:
    """Online, away or offline: automatic assignment skips agents who are not online."""
    agent_id = _own_id(actor)
    _checked_choice("availability", availability, AVAILABILITIES)
    await perform(
        ctx.db, ctx.bus, actor, lambda tx: tx.conn.execute(update(Agent).where(Agent.id == agent_id).values(availability=availability))
    )


LOGIN_LINK = Actor.system("login-link")


async def redeem_login(ctx: Context, token: str) -> tuple[int, int] | None:
    """Use a one-time sign-in link: (agent id, session version) of the agent it signs in,
    or None when the link is unknown, used, expired or its agent deactivated."""

    def work(tx: Tx) -> tuple[int, int] | None:
        agent_id = redeem_login_link(tx.conn, token)
        if agent_id is None:
            return None
        version = tx.conn.scalar(select(Agent.session_version).where(Agent.id == agent_id))
        return agent_id, int(version or 1)

    return await perform(ctx.db, ctx.bus, LOGIN_LINK, work)
