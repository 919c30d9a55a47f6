"""The dashboard: open work by channel and SLA breaches now; for a date range (presets 7, 30,
90 and 365 days) the figures per team and per agent from `inbox.queries.reports` (the API's
`GET /api/v1/reports`), each linking to the CSV of the conversations behind it; volume per day
or week; satisfaction per team and agent.

The chart is an SVG drawn on the server: no script, nothing to load.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from inbox.auth import Principal
from inbox.errors import Invalid
from inbox.queries import csat as csat_queries
from inbox.queries import reports
from inbox.queries.conversations import visible_to
from inbox.store.models import Channel, Conversation, Ticket, utcnow
from inbox.web.ui.routes import AgentPage

PRESETS = (7, 30, 90, 365)
WEEKLY_AFTER = 62  # days: a longer range is charted by week


@dataclass(frozen=True, slots=True)
class Bar:
    day: dt.date
    count: int
    x: float
    y: float
    height: float
    label: bool  # its date is written under it


def chart(points: list[tuple[dt.date, int]], width: float = 560, height: float = 160) -> list[Bar]:
    """Bars of a fixed-size chart, the tallest filling the height; at most ~14 date labels."""
    if not points:
        return []
    top = max([n for _, n in points] + [1])
    slot = width / len(points)
    every = max(1, -(-len(points) // 14))
    bars = []
    for i, (day, n) in enumerate(points):
        h = (height - 38) * n / top  # room above the tallest bar for its label
        bars.append(Bar(day, n, i * slot + slot * 0.1, height - 18 - h, h, i % every == 0))
    return bars


def volume(days: list[reports.Day]) -> tuple[list[tuple[dt.date, int]], bool]:
    """Conversations per day, or per week (from each Monday) over a long range."""
    if len(days) <= WEEKLY_AFTER:
        return [(d.day, d.conversations) for d in days], False
    weeks: dict[dt.date, int] = {}
    for d in days:
        monday = d.day - dt.timedelta(days=d.day.weekday())
        weeks[monday] = weeks.get(monday, 0) + d.conversations
    return sorted(weeks.items()), True


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


def now_figures(session: Session, who: Principal, now: dt.datetime) -> dict[str, Any]:
    """Open conversations by channel and tickets past a due time, as of now."""
    visible = visible_to(session, who)
    open_by_channel = session.execute(
        select(Channel.name, Channel.type, func.count(Conversation.id))
        .join(Conversation, Conversation.channel_id == Channel.id)
        .where(Conversation.status == "open", visible)
        .group_by(Channel.name, Channel.type)
        .order_by(Channel.name)
    ).all()
    past_due = [
        Ticket.status.not_in(("resolved", "closed")),
        or_(and_(Ticket.first_response_at.is_(None), Ticket.first_response_due < now), Ticket.resolution_due < now),
    ]
    if not who.is_admin:  # an admin sees every ticket: no semi-join over every conversation
        past_due.append(Ticket.conversation_id.is_(None) | Ticket.conversation_id.in_(select(Conversation.id).where(visible)))
    breaches = session.scalar(select(func.count(Ticket.id)).where(*past_due))
    return {"open_by_channel": open_by_channel, "open_total": sum(row[2] for row in open_by_channel), "breaches": breaches or 0}


router = APIRouter(include_in_schema=False)

Param = Annotated[str, Query(max_length=320)]


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(
    page: AgentPage, from_: Annotated[str, Query(alias="from", max_length=40)] = "", to: Param = "", team: Param = "", agent: Param = ""
) -> Response:
    now = utcnow()
    today = now.date()
    error = ""
    try:
        start, end = reports.parse_range(from_, to, today)
    except Invalid as exc:
        error = page.t("report_range_bad") if exc.code == "range" else page.t("report_date_bad")
        start, end = reports.parse_range(None, None, today)

    def read(session: Session) -> dict[str, Any]:
        filters = reports.ReportFilter(start, end, reports.team_id(session, team or None), reports.agent_id(session, agent or None))
        return {
            **now_figures(session, page.agent, now),
            "report": reports.report(session, page.agent, filters, now).shape(),
            "csat": csat_queries.dashboard(session, page.agent, now),
        }

    data = await page.services.db.query(read)
    points, weekly = volume(
        [
            reports.Day(dt.date.fromisoformat(d["day"]), d["conversations"], d["resolved"], d["sla_breached"])
            for d in data["report"]["daily"]
        ]
    )
    base = {"from": start.isoformat(), "to": end.isoformat()} | ({"team": team} if team else {}) | ({"agent": agent} if agent else {})

    def csv_url(figure: str = "all", **narrow: str | None) -> str:
        """The CSV of the conversations behind a figure (the API, with the browser's session)."""
        params = {**base, **{k: v for k, v in narrow.items() if v}}
        if figure != "all":
            params["figure"] = figure
        return "/api/v1/reports/conversations.csv?" + urlencode(params)

    presets = [(n, {"from": (today - dt.timedelta(days=n - 1)).isoformat(), "to": today.isoformat()}) for n in PRESETS]
    return page.render(
        "ui/dashboard.html",
        422 if error else 200,
        **data,
        error=error,
        start=start,
        end=end,
        team=team,
        agent=agent,
        days=(end - start).days + 1,
        presets=[
            (
                n,
                "/dashboard?" + urlencode(p | ({"team": team} if team else {}) | ({"agent": agent} if agent else {})),
                p == {"from": base["from"], "to": base["to"]},
            )
            for n, p in presets
        ],
        bars=chart(points),
        weekly=weekly,
        human=human,
        csv_url=csv_url,
    )
