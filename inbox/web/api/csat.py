"""Satisfaction ratings and their score: `GET /api/v1/csat?from=&to=&team=&agent=`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query

from inbox.errors import Invalid
from inbox.queries import csat as queries
from inbox.web import pagination
from inbox.web.api.deps import Svc, Who

router = APIRouter(prefix="/api/v1", tags=["csat"])

Limit = Annotated[int, Query(ge=1, le=200)]
Text = Annotated[str | None, Query(max_length=320)]


def parse_time(value: str | None, name: str) -> dt.datetime | None:
    """An ISO 8601 date (its midnight, UTC) or date-time (UTC when it names no offset)."""
    if value is None or value == "":
        return None
    try:
        stamp = dt.datetime.fromisoformat(value.strip())
        stamp = stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp
        return stamp.astimezone(dt.UTC)  # an offset at the edge of the calendar overflows here, not in the database
    except (ValueError, OverflowError):
        raise Invalid(f"{name} must be an ISO 8601 date or date-time", code=name) from None


@router.get("/csat")
async def list_csat(
    svc: Svc,
    who: Who,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None,
    team: Text = None,
    agent: Text = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Ratings newest first (keyset paginated) and the score of every rating that matches:
    `csat_percent` (share of 4 and 5), `average`, `count`. An unknown team or agent matches nothing."""
    since, until = parse_time(from_, "from"), parse_time(to, "to")
    after = pagination.decode(cursor, 2)
    after_key = (parse_time(after[0], "cursor") or dt.datetime.now(dt.UTC), int(after[1])) if after is not None else None

    def read(session: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        team_id = agent_id = None
        # A name no team or agent can have (a NUL byte, which PostgreSQL refuses) matches nothing.
        if team:
            team_id = (queries.team_id(session, team) if "\x00" not in team else None) or -1
        if agent:
            agent_id = (queries.agent_id(session, agent) if "\x00" not in agent else None) or -1
        filters = queries.CsatFilter(since=since, until=until, team_id=team_id, agent_id=agent_id)
        return queries.ratings(session, who, filters, after=after_key, limit=limit)

    items, score = await svc.db.query(read)
    last = [items[-1]["rated_at"], items[-1]["id"]] if items else None
    return {**pagination.page(items, limit, last), "score": score}
