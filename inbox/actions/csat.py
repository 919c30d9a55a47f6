"""Satisfaction surveys: the customer's rating, once per survey, before it expires.

The survey itself is written when the conversation is resolved (inbox/pipeline/csat.py);
here is the one write that follows: a rating 1-5 with an optional comment, from the web
page a link leads to, the widget's stars, a Telegram button or a Slack button. The first
rating wins: a second one is refused (`already_rated`), as is one after `expires_at`.
"""

from __future__ import annotations

from sqlalchemy import update

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Invalid, NotFound
from inbox.pipeline.csat import MAX_COMMENT
from inbox.store.models import CsatSurvey
from routing.csat import RATINGS
from routing.vocabulary import CSAT_VIAS

CUSTOMER = Actor.system("csat")


def check_rating(rating: object, comment: str | None) -> tuple[int, str | None]:
    if not isinstance(rating, int) or isinstance(rating, bool) or rating not in RATINGS:
        raise Invalid("rating must be 1, 2, 3, 4 or 5", code="rating")
    comment = (comment or "").replace("\x00", "").strip() or None  # PostgreSQL stores no NUL
    if comment is not None and len(comment) > MAX_COMMENT:
        raise Invalid(f"a comment is at most {MAX_COMMENT} characters", code="comment")
    return rating, comment


async def rate(ctx: Context, survey_id: int, rating: int, comment: str | None = None, *, via: str) -> int:
    """Record the rating of survey `survey_id` (its token already checked by the caller).
    NotFound: no such survey; Conflict `already_rated` / `expired`. Returns the conversation id."""
    rating, comment = check_rating(rating, comment)
    if via not in CSAT_VIAS:
        raise Invalid(f"via must be one of {', '.join(CSAT_VIAS)}", code="via")

    def work(tx: Tx) -> int:
        survey = tx.session.get(CsatSurvey, survey_id)
        if survey is None:
            raise NotFound.of("survey")
        done = tx.conn.execute(
            update(CsatSurvey)
            .where(CsatSurvey.id == survey_id, CsatSurvey.rated_at.is_(None), CsatSurvey.expires_at > tx.now)
            .values(rating=rating, comment=comment, rated_at=tx.now, rated_via=via)
            .returning(CsatSurvey.id)
        ).first()
        if done is None:
            if survey.rated_at is not None:
                raise Conflict("this survey was already answered", code="already_rated")
            raise Conflict("this survey has expired", code="expired")
        payload = {"conversation_id": survey.conversation_id, "survey_id": survey_id, "rating": rating, "comment": comment is not None}
        tx.event("csat.rated", {**payload, "via": via}, survey.conversation_id)
        tx.audit("csat.rate", f"conversation:{survey.conversation_id}", {"rating": rating, "via": via})
        return int(survey.conversation_id)

    return await perform(ctx.db, ctx.bus, CUSTOMER, work)


async def add_comment(ctx: Context, survey_id: int, comment: str, *, via: str) -> int:
    """A comment after the rating, for a rating given without one (a Telegram or Slack
    button: the press is the rating, the comment follows; or the web page opened later).
    Once, before the survey expires. Conflict `not_rated` / `has_comment` / `expired`;
    Invalid `comment` (empty or over MAX_COMMENT). Returns the conversation id."""
    _, text = check_rating(1, comment)
    if text is None:
        raise Invalid("the comment is empty", code="comment")
    if via not in CSAT_VIAS:
        raise Invalid(f"via must be one of {', '.join(CSAT_VIAS)}", code="via")

    def work(tx: Tx) -> int:
        survey = tx.session.get(CsatSurvey, survey_id)
        if survey is None:
            raise NotFound.of("survey")
        done = tx.conn.execute(
            update(CsatSurvey)
            .where(
                CsatSurvey.id == survey_id,
                CsatSurvey.rated_at.is_not(None),
                CsatSurvey.comment.is_(None),
                CsatSurvey.expires_at > tx.now,
            )
            .values(comment=text)
            .returning(CsatSurvey.id)
        ).first()
        if done is None:
            if survey.rated_at is None:
                raise Conflict("this survey has no rating yet", code="not_rated")
            if survey.comment is not None:
                raise Conflict("this rating already has a comment", code="has_comment")
            raise Conflict("this survey has expired", code="expired")
        payload = {"conversation_id": survey.conversation_id, "survey_id": survey_id, "rating": survey.rating, "via": via}
        tx.event("csat.commented", payload, survey.conversation_id)
        tx.audit("csat.comment", f"conversation:{survey.conversation_id}", {"via": via})
        return int(survey.conversation_id)

    return await perform(ctx.db, ctx.bus, CUSTOMER, work)
