"""Reports, read: the figures of the conversations created in a date range (volume by
channel, first response and resolution times, SLA compliance, resolved, CSAT) in total, per
team, per agent and per day; and the conversations behind any figure, in keyset-paginated
chunks for a streamed CSV. One reading for the API (`GET /api/v1/reports`) and the dashboard.

A conversation counts on the day (UTC) it was created; merged-away conversations do not
count. Everything is read over the covering index `ix_conversation_report` (created_at, id,
team, assignee, channel, first response, resolution, merge): one range scan, no table rows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, Date, and_, case, cast, func, literal, or_, select, true, tuple_
from sqlalchemy.orm import Session

from inbox.auth import Principal
from inbox.errors import Invalid
from inbox.queries.conversations import visible_to
from inbox.store.models import Agent, Channel, Contact, Conversation, CsatSurvey, Team, Ticket
from routing.csat import Score

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366  # a range longer than three years is refused
CHUNK = 1000  # rows per chunk of the CSV export
Figure = Literal["all", "resolved", "breached", "first_response"]
FIGURES: tuple[Figure, ...] = ("all", "resolved", "breached", "first_response")


@dataclass(frozen=True, slots=True)
class ReportFilter:
    start: dt.date  # first day, inclusive (UTC)
    end: dt.date  # last day, inclusive (UTC)
    team_id: int | None = None  # -1 matches nothing (an unknown name)
    agent_id: int | None = None
    channel_id: int | None = None

    @property
    def since(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)

    @property
    def until(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def parse_range(start: str | None, end: str | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """`from` and `to` as YYYY-MM-DD, both inclusive; the last 30 days (today included) by default."""

    def day(value: str | None, name: str) -> dt.date | None:
        if value is None or value.strip() == "":
            return None
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise Invalid(f"{name} must be a date (YYYY-MM-DD)", code=name) from None

    last = day(end, "to") or today
    if last >= dt.date.max:  # its next midnight bounds the range
        raise Invalid("to is beyond the calendar", code="to")
    first = day(start, "from") or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise Invalid("from is after to", code="range")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid(f"the range is longer than {MAX_DAYS} days", code="range")
    return first, last


def team_id(session: Session, name: str | None) -> int | None:
    """The team's id; -1 (matching nothing) for a name no team has."""
    if not name:
        return None
    found = session.scalar(select(Team.id).where(Team.name == name)) if "\x00" not in name else None
    return found if found is not None else -1


def agent_id(session: Session, email: str | None) -> int | None:
    if not email:
        return None
    found = session.scalar(select(Agent.id).where(Agent.email == email.strip().lower())) if "\x00" not in email else None
    return found if found is not None else -1


def channel_id(session: Session, name: str | None) -> int | None:
    if not name:
        return None
    found = session.scalar(select(Channel.id).where(Channel.name == name)) if "\x00" not in name else None
    return found if found is not None else -1


# --- the figures -------------------------------------------------------------------------


@dataclass(slots=True)
class Figures:
    """The figures of a set of conversations. Times are in seconds."""

    conversations: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    sla_met: int = 0
    sla_breached: int = 0
    ratings: list[int] = field(default_factory=lambda: [0, 0, 0])  # rated, satisfied (4-5), sum of ratings

    @property
    def csat(self) -> Score:
        count, satisfied, total = self.ratings
        if not count:
            return Score(0, 0, None, None)
        return Score(count, satisfied, round(100 * satisfied / count, 1), round(total / count, 2))

    @property
    def resolved(self) -> int:
        return len(self.resolution)

    @property
    def sla_percent(self) -> float | None:
        decided = self.sla_met + self.sla_breached
        return round(100 * self.sla_met / decided, 1) if decided else None

    def shape(self) -> dict[str, Any]:
        firsts, resolutions = sorted(self.first_response), sorted(self.resolution)
        return {
            "conversations": self.conversations,
            "by_channel": dict(sorted(self.by_channel.items())),
            "first_response_seconds": {"median": _median(firsts), "p90": _rank(firsts, 0.9), "count": len(firsts)},
            "resolution_seconds": {"median": _median(resolutions), "p90": _rank(resolutions, 0.9)},
            "resolved": self.resolved,
            "sla": {"met": self.sla_met, "breached": self.sla_breached, "percent": self.sla_percent},
            "csat": {
                "count": self.csat.count,
                "satisfied": self.csat.satisfied,
                "csat_percent": self.csat.csat,
                "average": self.csat.average,
            },
        }


def _median(ordered: list[float]) -> int | None:
    if not ordered:
        return None
    mid = len(ordered) // 2
    value = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return round(value)


def _rank(ordered: list[float], share: float) -> int | None:
    """The nearest-rank percentile."""
    if not ordered:
        return None
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)])


@dataclass(frozen=True, slots=True)
class Group:
    key: str | None  # the team's name or the agent's e-mail; None: no team, unassigned
    name: str | None  # the agent's display name
    figures: Figures


@dataclass(frozen=True, slots=True)
class Day:
    day: dt.date
    conversations: int
    resolved: int
    sla_breached: int


@dataclass(frozen=True, slots=True)
class Report:
    start: dt.date
    end: dt.date
    total: Figures
    teams: list[Group]
    agents: list[Group]
    days: list[Day]

    def shape(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "totals": self.total.shape(),
            "teams": [{"team": g.key, **g.figures.shape()} for g in self.teams],
            "agents": [{"agent": g.key, "name": g.name, **g.figures.shape()} for g in self.agents],
            "daily": [
                {"day": d.day.isoformat(), "conversations": d.conversations, "resolved": d.resolved, "sla_breached": d.sla_breached}
                for d in self.days
            ],
        }


def _seconds(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.date_part("epoch", later - earlier)  # a float (EXTRACT answers a slower numeric)


def _day(session: Session, column: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(column, 1, 10)  # stored as 'YYYY-MM-DD HH:MM:SS', UTC: the day as text
    return cast(func.timezone("UTC", column), Date)  # the day as a date


def _late(now: dt.datetime) -> ColumnElement[bool]:
    """A ticket's target is breached: its first response or resolution due time passed
    unmet, or was met late. The first response is the ticket's or its conversation's."""
    first_met = func.coalesce(Ticket.first_response_at, Conversation.first_response_at)
    return or_(
        and_(
            Ticket.first_response_due.is_not(None),
            or_(and_(first_met.is_(None), Ticket.first_response_due <= now), first_met > Ticket.first_response_due),
        ),
        and_(
            Ticket.resolution_due.is_not(None),
            or_(and_(Ticket.resolved_at.is_(None), Ticket.resolution_due <= now), Ticket.resolved_at > Ticket.resolution_due),
        ),
    )


def _open(now: dt.datetime) -> ColumnElement[bool]:
    """A ticket's target not met yet whose due time is still ahead."""
    first_met = func.coalesce(Ticket.first_response_at, Conversation.first_response_at)
    return or_(
        and_(Ticket.first_response_due > now, first_met.is_(None)),
        and_(Ticket.resolution_due > now, Ticket.resolved_at.is_(None)),
    )


TARGETED = or_(Ticket.first_response_due.is_not(None), Ticket.resolution_due.is_not(None))
MET, PENDING, BREACHED = 1, 2, 3  # a conversation's SLA state: the worst of its tickets'


def _sla_state(now: dt.datetime) -> ColumnElement[int]:
    """The SLA state of a conversation, as a correlated subquery (one conversation at a time)."""
    return (
        select(func.max(case((_late(now), BREACHED), (_open(now), PENDING), else_=MET)))
        .where(Ticket.conversation_id == Conversation.id, TARGETED)
        .scalar_subquery()
    )


def _where(session: Session, who: Principal | None, filters: ReportFilter) -> list[ColumnElement[bool]]:
    where = [
        Conversation.created_at >= filters.since,
        Conversation.created_at < filters.until,
        Conversation.merged_into_id.is_(None),
        visible_to(session, who),
    ]
    for column, value in ((Conversation.team_id, filters.team_id), (Conversation.assignee_id, filters.agent_id)):
        if value is not None:
            where.append(column == value)
    if filters.channel_id is not None:
        where.append(Conversation.channel_id == filters.channel_id)
    return where


@dataclass(slots=True)
class _Cell:
    """The conversations of one team and one assignee, as read."""

    by_channel: dict[int, int] = field(default_factory=dict)
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    sla_met: int = 0
    sla_breached: int = 0
    ratings: list[int] = field(default_factory=lambda: [0, 0, 0])

    def into(self, figures: Figures, channels: dict[int, str]) -> None:
        for channel, n in self.by_channel.items():
            name = channels.get(channel, str(channel))
            figures.by_channel[name] = figures.by_channel.get(name, 0) + n
            figures.conversations += n
        figures.first_response += self.first_response
        figures.resolution += self.resolution
        figures.sla_met += self.sla_met
        figures.sla_breached += self.sla_breached
        for i in range(3):
            figures.ratings[i] += self.ratings[i]


def report(session: Session, who: Principal | None, filters: ReportFilter, now: dt.datetime) -> Report:
    """The figures of the conversations created from `start` to `end` (inclusive) that `who` may see.

    Two range scans: the conversations over their covering index, and the SLA state of
    those with a ticket target (tickets joined by conversation, grouped); the ratings since
    the range began (over their rated_at index: a conversation is rated after it is
    created); then one pass in Python that files each conversation under its (team,
    assignee) cell."""
    where = _where(session, who, filters)
    conn = session.connection()  # Core rows: no ORM bookkeeping per row
    sla: dict[int, int] = dict(
        conn.execute(
            select(Conversation.id, func.max(case((_late(now), BREACHED), (_open(now), PENDING), else_=MET)))
            .join(Ticket, Ticket.conversation_id == Conversation.id)
            .where(*where, TARGETED)
            .group_by(Conversation.id)
        ).all()
    )
    ratings: dict[int, int | None] = dict(
        conn.execute(
            select(CsatSurvey.conversation_id, CsatSurvey.rating).where(
                CsatSurvey.rated_at >= filters.since, CsatSurvey.rating.is_not(None)
            )
        ).all()
    )
    rows = conn.execute(
        select(
            Conversation.id,
            _day(session, Conversation.created_at),
            Conversation.team_id,
            Conversation.assignee_id,
            Conversation.channel_id,
            _seconds(session, Conversation.first_response_at, Conversation.created_at),
            _seconds(session, Conversation.resolved_at, Conversation.created_at),
        ).where(*where)
    ).all()  # one fetch: iterating fetches row by row, slower

    cells: dict[tuple[int | None, int | None], _Cell] = {}
    days: dict[Any, list[int]] = {}  # by the day, as text (SQLite) or a date (PostgreSQL)
    for cid, day, team, agent, channel, first, resolution in rows:
        cell = cells.get((team, agent))
        if cell is None:
            cell = cells[(team, agent)] = _Cell()
        cell.by_channel[channel] = cell.by_channel.get(channel, 0) + 1
        tally = days.get(day)
        if tally is None:
            tally = days[day] = [0, 0, 0]
        tally[0] += 1
        if first is not None:
            cell.first_response.append(first if first > 0 else 0.0)
        if resolution is not None:
            cell.resolution.append(resolution if resolution > 0 else 0.0)
            tally[1] += 1
        rating = ratings.get(cid)
        if rating is not None:
            cell.ratings[0] += 1
            cell.ratings[1] += rating >= 4
            cell.ratings[2] += rating
        state = sla.get(cid)
        if state == MET:
            cell.sla_met += 1
        elif state == BREACHED:
            cell.sla_breached += 1
            tally[2] += 1

    channels = dict(session.execute(select(Channel.id, Channel.name)).all())
    total = Figures()
    teams: dict[int | None, Figures] = {}
    agents: dict[int | None, Figures] = {}
    for (team, agent), cell in cells.items():
        for figures in (total, teams.setdefault(team, Figures()), agents.setdefault(agent, Figures())):
            cell.into(figures, channels)

    team_names = dict(session.execute(select(Team.id, Team.name).where(Team.id.in_([t for t in teams if t is not None]))).all())
    agent_rows = session.execute(select(Agent.id, Agent.email, Agent.name).where(Agent.id.in_([a for a in agents if a is not None]))).all()
    agent_names = {a.id: (a.email, a.name) for a in agent_rows}
    team_groups = sorted((Group(team_names.get(t) if t is not None else None, None, f) for t, f in teams.items()), key=_order)
    nobody: tuple[str | None, str | None] = (None, None)
    agent_groups = []
    for a, f in agents.items():
        email, name = agent_names.get(a, nobody) if a is not None else nobody
        agent_groups.append(Group(email, name, f))
    agent_groups.sort(key=_order)
    days = {(d if isinstance(d, str) else d.isoformat()): tally for d, tally in days.items()}
    trend = []
    for n in range((filters.end - filters.start).days + 1):
        day = filters.start + dt.timedelta(days=n)
        c, r, b = days.get(day.isoformat(), (0, 0, 0))
        trend.append(Day(day, c, r, b))
    return Report(filters.start, filters.end, total, team_groups, agent_groups, trend)


def _order(group: Group) -> tuple[bool, str]:
    return (group.key is None, (group.key or "").lower())


# --- the conversations behind a figure ----------------------------------------------------

CSV_COLUMNS = (
    "id",
    "subject",
    "channel",
    "status",
    "team",
    "assignee",
    "contact",
    "created",
    "first_response_seconds",
    "resolved",
    "sla",
    "tags",
)


def figure_where(figure: Figure, now: dt.datetime) -> ColumnElement[bool]:
    if figure == "resolved":
        return Conversation.resolved_at.is_not(None)
    if figure == "first_response":
        return Conversation.first_response_at.is_not(None)
    if figure == "breached":
        return _sla_state(now) == BREACHED
    return true()


def conversations_chunk(
    session: Session,
    who: Principal | None,
    filters: ReportFilter,
    figure: Figure,
    now: dt.datetime,
    after: tuple[dt.datetime, int] | None,
    limit: int = CHUNK,
) -> list[tuple[Any, ...]]:
    """One chunk of the conversations behind `figure`, oldest first, after the keyset
    (created_at, id) `after`: rows in the order of `CSV_COLUMNS`, then the created_at key."""
    state = _sla_state(now)
    sla = case(
        (state == BREACHED, literal("breached")), (state == PENDING, literal("pending")), (state == MET, literal("met")), else_=literal("")
    )
    where = [*_where(session, who, filters), figure_where(figure, now)]
    if after is not None:
        where.append(tuple_(Conversation.created_at, Conversation.id) > tuple_(literal(after[0], Conversation.created_at.type), after[1]))
    query = (
        select(
            Conversation.id,
            Conversation.subject,
            Channel.name,
            Conversation.status,
            Team.name,
            Agent.email,
            func.coalesce(Contact.email, Contact.name),
            Conversation.created_at,
            _seconds(session, Conversation.first_response_at, Conversation.created_at),
            Conversation.resolved_at,
            sla,
            Conversation.tags,
        )
        .join(Channel, Channel.id == Conversation.channel_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(Team, Team.id == Conversation.team_id)
        .outerjoin(Agent, Agent.id == Conversation.assignee_id)
        .where(*where)
        .order_by(Conversation.created_at, Conversation.id)
        .limit(limit)
    )
    return [tuple(r) for r in session.execute(query)]


def csv_cells(row: tuple[Any, ...]) -> list[str]:
    """A chunk's row as CSV cells."""
    cid, subject, channel, status, team, assignee, contact, created, first, resolved, sla, tags = row
    return [
        str(cid),
        _safe(subject or ""),
        _safe(channel or ""),
        status,
        _safe(team or ""),
        assignee or "",
        _safe(contact or ""),
        created.isoformat(),
        "" if first is None else str(max(0, round(float(first)))),
        resolved.isoformat() if resolved is not None else "",
        sla,
        _safe(" ".join(tags or [])),
    ]


def _safe(text: str) -> str:
    """A cell a spreadsheet would run as a formula (=, +, -, @) starts with a quote instead."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def conversations(
    session: Session, who: Principal | None, filters: ReportFilter, figure: Figure, now: dt.datetime, chunk: int = CHUNK
) -> Iterator[tuple[Any, ...]]:
    """Every conversation behind `figure`, chunk by chunk on one session (tests and tools;
    the HTTP export reads each chunk in its own short read)."""
    after: tuple[dt.datetime, int] | None = None
    while True:
        rows = conversations_chunk(session, who, filters, figure, now, after, chunk)
        yield from rows
        if len(rows) < chunk:
            return
        after = (rows[-1][7], rows[-1][0])
