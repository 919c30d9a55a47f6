"""Reading saved views: which ones an agent sees (their own and the shared ones), their JSON
shape, and the conversation filter a view stands for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from inbox.auth import Principal
from inbox.queries.conversations import ListFilter
from inbox.store.models import Agent, SavedView

FILTER_KEYS = ("status", "channel", "assignee", "team", "priority", "tag", "q", "waiting_minutes_over", "sla")


def seen_by(who: Principal) -> Any:
    return or_(SavedView.owner_id == who.agent_id, SavedView.shared.is_(True))


def may_change(who: Principal, view: SavedView) -> bool:
    """Only the owner or an admin changes or deletes a view, shared or not."""
    return who.is_admin or view.owner_id == who.agent_id


def find_view(session: Session, who: Principal, view_id: int) -> SavedView | None:
    return session.scalar(select(SavedView).where(SavedView.id == view_id, seen_by(who)))


async def get_view(session: AsyncSession, who: Principal, view_id: int) -> SavedView | None:
    return await session.run_sync(find_view, who, view_id)


async def list_views(session: AsyncSession, who: Principal) -> list[SavedView]:
    """Own views first, then the shared ones of others, each by name."""
    mine = (SavedView.owner_id != who.agent_id).label("others")
    query = select(SavedView).where(seen_by(who)).order_by(mine, SavedView.name, SavedView.id)
    return list((await session.scalars(query)).all())


async def describe_views(session: AsyncSession, who: Principal, views: list[SavedView]) -> list[dict[str, Any]]:
    owners = {v.owner_id for v in views}
    emails = {r.id: r.email for r in await session.execute(select(Agent.id, Agent.email).where(Agent.id.in_(owners)))} if owners else {}
    return [
        {
            "id": v.id,
            "name": v.name,
            "filters": dict(v.filters or {}),
            "shared": v.shared,
            "owner": emails.get(v.owner_id),
            "can_change": may_change(who, v),
            "created_at": v.created_at.isoformat(),
            "updated_at": v.updated_at.isoformat(),
        }
        for v in views
    ]


def list_filter_of(filters: Mapping[str, Any], **overrides: Any) -> ListFilter:
    """The conversation filter a view's (validated) filters stand for; `overrides` that are
    not None win over the view's own values."""
    values: dict[str, Any] = {k: filters.get(k) for k in FILTER_KEYS}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ListFilter(**values)
