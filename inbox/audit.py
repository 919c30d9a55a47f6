"""The audit log: one entry for every admin action, written in the action's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from inbox.models import AuditEntry


async def record(session: AsyncSession, agent_id: int | None, action: str, target: str, details: dict[str, Any]) -> None:
    safe = {k: v for k, v in details.items() if "password" not in k and "secret" not in k and "token" not in k}
    session.add(AuditEntry(agent_id=agent_id, action=action, target=target, details=safe))
