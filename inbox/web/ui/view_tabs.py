"""The inbox's saved-view tabs: each view the agent sees, its link and its live count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from inbox.auth import Principal
from inbox.queries import conversations as conv
from inbox.queries import views as queries


@dataclass(frozen=True, slots=True)
class ViewTab:
    id: int
    name: str
    shared: bool
    can_change: bool
    count: int
    href: str
    current: bool


def link_of(view_id: int, filters: dict[str, Any]) -> str:
    """The inbox URL showing a view: its filters as the form's fields, so the filter form
    shows what the view holds (no status filter is the "any" status)."""
    params = {
        "view": "all",
        "saved": str(view_id),
        "status": filters.get("status", "any"),
        "channel": filters.get("channel", ""),
        "assignee": filters.get("assignee", ""),
        "team": filters.get("team", ""),
        "priority": filters.get("priority", ""),
        "tag": filters.get("tag", ""),
        "q": filters.get("q", ""),
        "waiting": str(filters.get("waiting_minutes_over", "")),
        "sla": filters.get("sla", ""),
    }
    return "/?" + urlencode({k: v for k, v in params.items() if v})


async def view_tabs(session: AsyncSession, who: Principal, current: str) -> list[ViewTab]:
    """One count query per view, as `who` may see the conversations."""
    tabs = []
    for view in await queries.list_views(session, who):
        filters = dict(view.filters or {})
        count = await conv.count_conversations(session, who, queries.list_filter_of(filters))
        tabs.append(
            ViewTab(
                view.id,
                view.name,
                view.shared,
                queries.may_change(who, view),
                count,
                link_of(view.id, filters),
                current == str(view.id),
            )
        )
    return tabs
