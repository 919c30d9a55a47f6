"""Reports: `GET /api/v1/reports` (the dashboard's figures of a date range per team, per
agent and per day) and `GET /api/v1/reports/conversations.csv` (the conversations behind any
figure, streamed in keyset chunks: memory stays constant whatever the number of rows)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from inbox.auth import Principal
from inbox.queries import reports as queries
from inbox.runtime.services import Services
from inbox.store.models import utcnow
from inbox.web.api.deps import Svc, Who

router = APIRouter(prefix="/api/v1", tags=["reports"])

Day = Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD, inclusive")]
Text = Annotated[str | None, Query(max_length=320)]


@dataclass(frozen=True, slots=True)
class Asked:
    """The range and filters of a report's request (one reading for the figures and their CSV)."""

    start: dt.date
    end: dt.date
    team: str | None
    agent: str | None
    channel: str | None
    now: dt.datetime

    def filter(self, session: Session) -> queries.ReportFilter:
        return queries.ReportFilter(
            self.start,
            self.end,
            queries.team_id(session, self.team),
            queries.agent_id(session, self.agent),
            queries.channel_id(session, self.channel),
        )


def _asked(
    from_: Annotated[str | None, Query(alias="from", max_length=40, description="YYYY-MM-DD, inclusive")] = None,
    to: Day = None,
    team: Text = None,
    agent: Text = None,
    channel: Text = None,
) -> Asked:
    now = utcnow()
    start, end = queries.parse_range(from_, to, now.date())
    return Asked(start, end, team, agent, channel, now)


Range = Annotated[Asked, Depends(_asked)]


@router.get("/reports")
async def get_report(svc: Svc, who: Who, asked: Range) -> dict[str, Any]:
    """The conversations created from `from` to `to` (UTC days, inclusive; the last 30 days by
    default; at most three years): their number by channel, first response and resolution
    times (median and p90, seconds), SLA compliance, resolved count and CSAT, in total, per
    team and per agent, and per day. An unknown team, agent or channel matches nothing."""

    def read(session: Session) -> dict[str, Any]:
        return queries.report(session, who, asked.filter(session), asked.now).shape()

    return await svc.db.query(read)


def csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(cells)
    return out.getvalue()


async def csv_lines(
    svc: Services, who: Principal, filters: queries.ReportFilter, figure: queries.Figure, now: dt.datetime
) -> AsyncIterator[str]:
    """The header, then chunk after chunk, each read in its own short read transaction."""
    yield csv_line(list(queries.CSV_COLUMNS))
    after: tuple[dt.datetime, int] | None = None
    while True:
        rows = await svc.db.query(partial(queries.conversations_chunk, who=who, filters=filters, figure=figure, now=now, after=after))
        out = io.StringIO()
        writer = csv.writer(out)
        for row in rows:
            writer.writerow(queries.csv_cells(row))
        yield out.getvalue()
        if len(rows) < queries.CHUNK:
            return
        after = (rows[-1][7], rows[-1][0])


@router.get("/reports/conversations.csv", response_class=StreamingResponse)
async def conversations_csv(svc: Svc, who: Who, asked: Range, figure: queries.Figure = "all") -> StreamingResponse:
    """The conversations behind a figure of `GET /reports` (same range and filters): `all`,
    `resolved`, `breached` (an SLA target missed) or `first_response` (answered), oldest
    first, as CSV. Streamed: rows are read 1,000 at a time."""
    filters = await svc.db.query(asked.filter)
    name = f"conversations-{figure}-{asked.start.isoformat()}-{asked.end.isoformat()}.csv"
    return StreamingResponse(
        csv_lines(svc, who, filters, figure, asked.now),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
