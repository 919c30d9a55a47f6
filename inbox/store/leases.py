"""Channel receiver leases: each channel's receiver runs on exactly one node at a time.

A node holds a channel by renewing a row in `channel_lease` before it expires. When the
holder dies, the lease expires and another node takes it over, incrementing `token`.
Every ingest by a lease-bound receiver checks (holder, token) in its own transaction
(fencing), so a node that lost its lease — paused, partitioned — can no longer commit
messages or move the channel's cursor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Connection, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from inbox.store.models import ChannelLease, utcnow

leases_t = cast(Table, ChannelLease.__table__)


class LeaseLost(RuntimeError):
    """The node no longer holds the channel's lease; its receiver must stop."""


@dataclass(frozen=True, slots=True)
class Fence:
    channel_id: int
    holder: str
    token: int

    def check(self, conn: Connection) -> None:
        """Raise LeaseLost unless this node still holds the lease (inside the caller's transaction)."""
        row = conn.execute(select(leases_t.c.holder, leases_t.c.token).where(leases_t.c.channel_id == self.channel_id)).first()
        if row is None or (row.holder, row.token) != (self.holder, self.token):
            raise LeaseLost(f"channel {self.channel_id}: lease now held by {row.holder if row else 'nobody'}")


def acquire(conn: Connection, channel_id: int, holder: str, ttl: float, now: dt.datetime | None = None) -> Fence | None:
    """Take or renew the lease; None when another live node holds it."""
    now = now or utcnow()
    expires = now + dt.timedelta(seconds=ttl)
    query = select(leases_t).where(leases_t.c.channel_id == channel_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(leases_t).values(channel_id=channel_id, holder=holder, token=1, expires_at=expires))
        except IntegrityError:  # another node inserted it first
            return None
        return Fence(channel_id, holder, 1)
    if row.holder == holder and row.expires_at > now:
        conn.execute(update(leases_t).where(leases_t.c.channel_id == channel_id).values(expires_at=expires))
        return Fence(channel_id, holder, row.token)
    if row.expires_at <= now:
        token = row.token + 1
        conn.execute(
            update(leases_t)
            .where(leases_t.c.channel_id == channel_id, leases_t.c.token == row.token)
            .values(holder=holder, token=token, expires_at=expires)
        )
        return Fence(channel_id, holder, token)
    return None


def release(conn: Connection, fence: Fence) -> None:
    """Give the lease up at once (clean shutdown), so another node need not wait."""
    conn.execute(
        delete(leases_t).where(
            leases_t.c.channel_id == fence.channel_id, leases_t.c.holder == fence.holder, leases_t.c.token == fence.token
        )
    )
