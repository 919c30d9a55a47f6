"""The audit log: one writer, with redaction, used by every action (`Tx.audit`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, insert

from inbox.store.models import AuditEntry

audit_t = cast(Table, AuditEntry.__table__)
INSERT_ENTRIES = insert(audit_t)  # built once: every action writes one

# A detail whose key contains one of these (or is "key" / ends in "_key") is never
# written, whatever the action.
_SECRET_WORDS = ("password", "secret", "token", "hmac")


@dataclass(frozen=True, slots=True)
class Entry:
    agent_id: int | None
    action: str
    target: str
    details: dict[str, Any]


def redacted(details: dict[str, Any]) -> dict[str, Any]:
    """The details without anything secret, at any depth."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_WORDS) or lowered == "key" or lowered.endswith("_key"):
            continue
        out[key] = redacted(value) if isinstance(value, dict) else value
    return out


def insert_entries(conn: Connection, entries: Sequence[Entry], now: dt.datetime) -> None:
    if entries:
        conn.execute(
            INSERT_ENTRIES,
            [
                {"agent_id": e.agent_id, "action": e.action, "target": e.target, "details": redacted(e.details), "created_at": now}
                for e in entries
            ],
        )
