"""The write runner: every action's transaction, audit entries and events, in one place.

An action is a plain function that takes the acting `Actor` and plain arguments, and hands
its synchronous work to `perform`. The work gets a `Tx`: the connection (SQLAlchemy Core),
an ORM `Session` on the same transaction when it wants one, and two notebooks — `audit()`
and `event()`. `perform` writes both in the same transaction, commits, and only then wakes
the bus, so a listener never hears of a change that could still roll back.

On SQLite the whole transaction runs in the single writer thread (one hop); on PostgreSQL
in SQLAlchemy's greenlet bridge, and it takes the writers' lock first, as the ingest does:
events' `seq` order is then their commit order, and no two writers ever wait for each
other's rows while holding the lock the other wants (a deadlock under load).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from inbox import events
from inbox.auth import Principal
from inbox.config import WebhooksConfig
from inbox.events import Bus
from inbox.pipeline.tickets import TicketPolicy
from inbox.store import audit
from inbox.store.db import Database
from inbox.store.models import utcnow
from inbox.store.secrets import SecretBox

T = TypeVar("T")

# What `event()` notes: (type, payload, conversation id); the ingest's `Feed` has this shape.
EventRow = tuple[str, dict[str, Any], int | None]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change: an agent (through the API or the UI), or the system itself
    (the CLI run by an operator, a rule, the SLA watch). System actors see everything."""

    agent_id: int | None
    name: str  # the agent's email, or "cli", "rule:NAME", "sla", "system"
    is_admin: bool
    principal: Principal | None = None

    @classmethod
    def of(cls, who: Principal) -> Actor:
        return cls(who.agent_id, who.email, who.is_admin, who)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(None, name, True)

    def sees_everything(self) -> bool:
        return self.principal is None or self.principal.is_admin


CLI = Actor.system("cli")


@dataclass(frozen=True, slots=True)
class Context:
    """What actions need of a running node. Built once by `Services` and passed in, so
    actions import nothing of the web or the runtime."""

    db: Database
    bus: Bus
    policy: TicketPolicy
    secrets: SecretBox
    public_url: str
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)


class Tx:
    """One open write transaction, as an action's work sees it."""

    def __init__(self, conn: Connection, actor: Actor) -> None:
        self.conn = conn
        self.actor = actor
        self.now = utcnow()
        self.feed: list[EventRow] = []
        self._audits: list[audit.Entry] = []
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """An ORM session joined to this transaction (flushed before the runner writes)."""
        if self._session is None:
            self._session = Session(bind=self.conn, expire_on_commit=False, autoflush=True)
        return self._session

    def audit(self, action: str, target: str, details: Mapping[str, Any] | None = None) -> None:
        """Note an audit entry (`action` like "token.create", `target` like "agent:7")."""
        self._audits.append(audit.Entry(self.actor.agent_id, action, target, dict(details or {})))

    def event(self, type_: str, payload: dict[str, Any], conversation_id: int | None = None) -> None:
        self.feed.append((type_, payload, conversation_id))

    def finish(self) -> int:
        """Write what the work noted; returns the newest event seq (0 when none)."""
        if self._session is not None:
            self._session.flush()
        audit.insert_entries(self.conn, self._audits, self.now)
        if not self.feed:
            return 0
        return max(events.insert_events(self.conn, self.feed))


async def perform(db: Database, bus: Bus, actor: Actor, work: Callable[[Tx], T]) -> T:
    """Run `work` as one write transaction with its audit entries and events, then wake
    the bus. A `DomainError` (or any error) raised by `work` rolls everything back."""

    def in_transaction(conn: Connection) -> tuple[T, int]:
        events.lock_writers(conn)
        tx = Tx(conn, actor)
        result = work(tx)
        return result, tx.finish()

    result, seq = await db.run(in_transaction)
    if seq:
        await bus.publish(seq)
    return result
