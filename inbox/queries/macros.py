"""Reading macros: which ones an actor may see and apply, and their API shape."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.store.models import Macro


def usable_by(agent_id: int | None) -> ColumnElement[bool]:
    """Its own macros and the shared ones; a system actor (no agent) sees them all."""
    if agent_id is None:
        return true()
    return or_(Macro.owner_id == agent_id, Macro.shared.is_(True))


def describe(macro: Macro) -> dict[str, Any]:
    return {
        "id": macro.id,
        "name": macro.name,
        "actions": macro.actions,
        "shared": macro.shared,
        "owner_id": macro.owner_id,
        "created_at": macro.created_at.isoformat(),
        "updated_at": macro.updated_at.isoformat(),
    }


async def list_macros(session: AsyncSession, agent_id: int | None) -> list[Macro]:
    return list((await session.scalars(select(Macro).where(usable_by(agent_id)).order_by(Macro.name, Macro.id))).all())


async def get_macro(session: AsyncSession, agent_id: int | None, macro_id: int) -> Macro | None:
    return await session.scalar(select(Macro).where(Macro.id == macro_id, usable_by(agent_id)))
