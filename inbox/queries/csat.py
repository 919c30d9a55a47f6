"""Satisfaction surveys, read: a survey for its public page, the ratings and the score
(`GET /csat`), a conversation's rating, and the dashboard's per team / per agent scores
with a weekly trend. The ratings an agent sees are those of the conversations they see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from inbox.auth import Principal
from inbox.queries.conversations import visible_to
from inbox.store.models import Agent, Channel, Conversation, CsatSurvey, OutboxItem, Team, utcnow
from routing.csat import Score, score


@dataclass(frozen=True, slots=True)
class SurveyView:
    id: int
    conversation_id: int
    subject: str | None
    language: str | None
    rating: int | None
    comment: str | None
    rated: bool
    expired: bool


def survey(session: Session, survey_id: int, now: dt.datetime) -> SurveyView | None:
    row = session.execute(
        select(CsatSurvey, Conversation.subject)
        .join(Conversation, Conversation.id == CsatSurvey.conversation_id)
        .where(CsatSurvey.id == survey_id)
    ).first()
    if row is None:
        return None
    s, subject = row
    return SurveyView(s.id, s.conversation_id, subject, s.language, s.rating, s.comment, s.rated_at is not None, s.expires_at <= now)


@dataclass(frozen=True, slots=True)
class CsatFilter:
    since: dt.datetime | None = None  # rated at or after
    until: dt.datetime | None = None  # rated before
    team_id: int | None = None
    agent_id: int | None = None


def team_id(session: Session, name: str) -> int | None:
    return session.scalar(select(Team.id).where(Team.name == name))


def agent_id(session: Session, email: str) -> int | None:
    return session.scalar(select(Agent.id).where(Agent.email == email.strip().lower()))


def _where(session: Session, who: Principal | None, filters: CsatFilter) -> list[ColumnElement[bool]]:
    where = [CsatSurvey.rated_at.is_not(None), visible_to(session, who)]
    if filters.since is not None:
        where.append(CsatSurvey.rated_at >= filters.since)
    if filters.until is not None:
        where.append(CsatSurvey.rated_at < filters.until)
    if filters.team_id is not None:
        where.append(CsatSurvey.team_id == filters.team_id)
    if filters.agent_id is not None:
        where.append(CsatSurvey.agent_id == filters.agent_id)
    return where


def _score(session: Session, where: list[ColumnElement[bool]]) -> Score:
    count, satisfied, average = session.execute(
        select(func.count(CsatSurvey.id), func.sum(case((CsatSurvey.rating >= 4, 1), else_=0)), func.avg(CsatSurvey.rating))
        .join(Conversation, Conversation.id == CsatSurvey.conversation_id)
        .where(*where)
    ).one()
    if not count:
        return Score(0, 0, None, None)
    return Score(int(count), int(satisfied or 0), round(100 * int(satisfied or 0) / int(count), 1), round(float(average), 2))


def score_shape(s: Score) -> dict[str, Any]:
    return {"count": s.count, "satisfied": s.satisfied, "csat_percent": s.csat, "average": s.average}


def ratings(
    session: Session, who: Principal | None, filters: CsatFilter, *, after: tuple[dt.datetime, int] | None, limit: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One page of ratings, newest first (keyset on rated_at, id), and the score of all that match."""
    where = _where(session, who, filters)
    page = (
        select(CsatSurvey, Team.name, Agent.email)
        .join(Conversation, Conversation.id == CsatSurvey.conversation_id)
        .outerjoin(Team, Team.id == CsatSurvey.team_id)
        .outerjoin(Agent, Agent.id == CsatSurvey.agent_id)
    )
    page = page.where(*where)
    if after is not None:
        stamp, last = after
        page = page.where(or_(CsatSurvey.rated_at < stamp, and_(CsatSurvey.rated_at == stamp, CsatSurvey.id < last)))
    rows = session.execute(page.order_by(CsatSurvey.rated_at.desc(), CsatSurvey.id.desc()).limit(limit)).all()
    items = [shape(s, team, agent) for s, team, agent in rows]
    return items, score_shape(_score(session, where))


def shape(s: CsatSurvey, team: str | None, agent: str | None) -> dict[str, Any]:
    return {
        "id": s.id,
        "conversation_id": s.conversation_id,
        "rating": s.rating,
        "comment": s.comment,
        "rated_at": _iso(s.rated_at),
        "rated_via": s.rated_via,
        "requested_at": _iso(s.requested_at),
        "team": team,
        "agent": agent,
    }


def of_conversation(session: Session, conversation_id: int) -> dict[str, Any] | None:
    """The conversation's survey (None: never asked, or withdrawn before it went out), as
    `GET /conversations/{id}` shows it in `csat` and the conversation page: its `state`
    (`queued`: waits its delay and may still be withdrawn; `asked`; `rated`; `expired`;
    `failed`: the question could not be sent), the rating and comment once answered."""
    row = session.execute(
        select(CsatSurvey, Channel.name, OutboxItem.status, OutboxItem.next_attempt_at, OutboxItem.sent_at, Team.name, Agent.email)
        .join(Channel, Channel.id == CsatSurvey.channel_id)
        .outerjoin(OutboxItem, OutboxItem.survey_id == CsatSurvey.id)
        .outerjoin(Team, Team.id == CsatSurvey.team_id)
        .outerjoin(Agent, Agent.id == CsatSurvey.agent_id)
        .where(CsatSurvey.conversation_id == conversation_id)
    ).first()
    if row is None:
        return None
    s, channel, status, due, sent_at, team, agent = row
    if s.rated_at is not None:
        state = "rated"
    elif s.expires_at <= utcnow():
        state = "expired"
    elif status == "failed":
        state = "failed"
    elif status in ("pending", "sending"):
        state = "queued"
    else:
        state = "asked"
    return {
        "state": state,
        "rating": s.rating,
        "comment": s.comment,
        "channel": channel,
        "via": s.rated_via,
        "rated_at": _iso(s.rated_at),
        "requested_at": _iso(s.requested_at),
        "asks_at": _iso(due) if state == "queued" else None,
        "sent_at": _iso(sent_at),
        "expires_at": _iso(s.expires_at),
        "team": team,
        "agent": agent,
    }


def week_start(day: dt.datetime) -> dt.date:
    date = day.date()
    return date - dt.timedelta(days=date.weekday())


def dashboard(session: Session, who: Principal | None, now: dt.datetime, weeks: int = 8) -> dict[str, Any]:
    """The last `weeks` weeks: the score overall, per team and per agent, and per week (oldest first)."""
    first = week_start(now) - dt.timedelta(weeks=weeks - 1)
    since = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    where = _where(session, who, CsatFilter(since=since))
    rows = session.execute(
        select(CsatSurvey.rating, CsatSurvey.rated_at, Team.name, Agent.email, Agent.name)
        .join(Conversation, Conversation.id == CsatSurvey.conversation_id)
        .outerjoin(Team, Team.id == CsatSurvey.team_id)
        .outerjoin(Agent, Agent.id == CsatSurvey.agent_id)
        .where(*where)
    ).all()

    by_team: dict[str, list[int]] = {}
    by_agent: dict[str, tuple[str, list[int]]] = {}
    by_week: dict[dt.date, list[int]] = {first + dt.timedelta(weeks=n): [] for n in range(weeks)}
    for rating, rated_at, team, email, name in rows:
        if rating is None or rated_at is None:  # only rated surveys match `where`
            continue
        by_team.setdefault(team or "", []).append(rating)
        by_agent.setdefault(email or "", (name or email or "", []))[1].append(rating)
        by_week.setdefault(week_start(rated_at), []).append(rating)
    return {
        "since": since.date().isoformat(),
        "overall": score_shape(score(r for rs in by_team.values() for r in rs)),
        "teams": [{"team": t or None, **score_shape(score(rs))} for t, rs in sorted(by_team.items())],
        "agents": [{"agent": e or None, "name": n or None, **score_shape(score(rs))} for e, (n, rs) in sorted(by_agent.items())],
        "weeks": [{"week": w.isoformat(), **score_shape(score(rs))} for w, rs in sorted(by_week.items())],
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
