"""Passwords (argon2id), API tokens (random, stored as SHA-256) and one-time login links."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, select, update

from inbox.store.models import Agent, ApiToken, LoginLink, utcnow

_hasher = PasswordHasher()  # argon2id with the library's current defaults

TOKEN_PREFIX = "fd_"

# Every API request looks its token up: one statement built once (building and hashing
# it for SQLAlchemy's cache cost more than running it), by the indexed SHA-256 digest,
# on every request, so a revoked token or a deactivated agent is refused at once.
TOKEN_PRINCIPAL = (
    select(Agent.id, Agent.email, Agent.name, Agent.role, Agent.language)
    .join(ApiToken, ApiToken.agent_id == Agent.id)
    .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked.is_(False), Agent.active.is_(True))
)


class AuthError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an active agent, by token or session."""

    agent_id: int
    email: str
    name: str
    role: str
    language: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        _hasher.hash(password)  # same cost whether or not the agent exists
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def principal_of(agent: Agent) -> Principal:
    return Principal(agent.id, agent.email, agent.name, agent.role, agent.language)


def new_token(agent_id: int, name: str = "") -> tuple[str, ApiToken]:
    """A new API token: its clear value (shown once, never stored) and the row to store."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, ApiToken(agent_id=agent_id, name=name, token_hash=_digest(token), prefix=token[:10])


def token_principal(conn: Connection, token: str) -> Principal | None:
    """Who an API token speaks for: None if it is unknown, revoked or its agent inactive."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = conn.execute(TOKEN_PRINCIPAL, {"digest": _digest(token)}).first()
    return Principal(row.id, row.email, row.name, row.role, row.language) if row else None


def new_login_link(agent_id: int, *, hours: int = 24) -> tuple[str, LoginLink]:
    """A one-time login link: its clear token (shown once, never stored) and the row to store."""
    token = secrets.token_urlsafe(32)
    return token, LoginLink(agent_id=agent_id, token_hash=_digest(token), expires_at=utcnow() + dt.timedelta(hours=hours))


def redeem_login_link(conn: Connection, token: str) -> int | None:
    """Use a one-time link: valid once, before it expires, for an active agent. Returns
    the agent's id, or None (unknown, used, expired or deactivated: never told apart)."""
    now = utcnow()
    agent_id = conn.execute(
        update(LoginLink)
        .where(LoginLink.token_hash == _digest(token), LoginLink.used_at.is_(None), LoginLink.expires_at > now)
        .values(used_at=now)
        .returning(LoginLink.agent_id)
    ).scalar_one_or_none()
    if agent_id is None:
        return None
    active: int | None = conn.scalar(select(Agent.id).where(Agent.id == agent_id, Agent.active.is_(True)))
    return active
