"""The dashboard: open work by channel, response and resolution times, SLA breaches, 14-day volume.

The chart is an SVG drawn on the server: no script, nothing to load.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.auth import Principal
from inbox.queries import conversations as conv
from inbox.queries import csat as csat_queries
from inbox.store.models import Channel, Conversation, Ticket, utcnow
from inbox.web.ui.routes import AgentPage

DAYS = 14


@dataclass(frozen=True, slots=True)
class Bar:
    day: dt.date
    count: int
    x: float
    y: float
    height: float


def chart(counts: dict[dt.date, int], today: dt.date, width: float = 560, height: float = 160) -> list[Bar]:
    """Bars of a fixed-size chart, the tallest filling the height."""
    days = [today - dt.timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    top = max([counts.get(d, 0) for d in days] + [1])
    slot = width / DAYS
    bars = []
    for i, day in enumerate(days):
        n = counts.get(day, 0)
        h = (height - 38) * n / top  # room above the tallest bar for its label
        bars.append(Bar(day, n, i * slot + 4, height - 18 - h, h))
    return bars


def human(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} d {hours % 24} h"


async def figures(session: AsyncSession, who: Principal) -> dict[str, Any]:
    now = utcnow()
    since = now - dt.timedelta(days=DAYS)
    visible = await conv.visibility(session, who)
    open_by_channel = (
        await session.execute(
            select(Channel.name, Channel.type, func.count(Conversation.id))
            .join(Conversation, Conversation.channel_id == Channel.id)
            .where(Conversation.status == "open", visible)
            .group_by(Channel.name, Channel.type)
            .order_by(Channel.name)
        )
    ).all()
    recent = (
        await session.execute(
            select(Conversation.created_at, Conversation.first_response_at, Conversation.resolved_at).where(
                Conversation.created_at >= since, visible
            )
        )
    ).all()
    first = [(r.first_response_at - r.created_at).total_seconds() for r in recent if r.first_response_at]
    resolution = [(r.resolved_at - r.created_at).total_seconds() for r in recent if r.resolved_at]
    counts: dict[dt.date, int] = {}
    for r in recent:
        day = r.created_at.astimezone(dt.UTC).date()
        counts[day] = counts.get(day, 0) + 1
    visible_ids = select(Conversation.id).where(visible)
    breaches = await session.scalar(
        select(func.count(Ticket.id)).where(
            Ticket.status.not_in(("resolved", "closed")),
            Ticket.conversation_id.is_(None) | Ticket.conversation_id.in_(visible_ids),
            or_(
                and_(Ticket.first_response_at.is_(None), Ticket.first_response_due < now),
                Ticket.resolution_due < now,
            ),
        )
    )
    return {
        "open_by_channel": open_by_channel,
        "open_total": sum(row[2] for row in open_by_channel),
        "first_response": human(statistics.median(first) if first else None),
        "resolution": human(statistics.median(resolution) if resolution else None),
        "breaches": breaches or 0,
        "bars": chart(counts, now.date()),
    }


router = APIRouter(include_in_schema=False)


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(page: AgentPage) -> Response:
    async with page.services.db.read() as session:
        data = await figures(session, page.agent)
        data["csat"] = await session.run_sync(csat_queries.dashboard, page.agent, utcnow())
    return page.render("ui/dashboard.html", **data)
