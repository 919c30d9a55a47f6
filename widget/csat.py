"""Satisfaction surveys in the widget: the `csat` frames, kept apart from the chat frames.

To the visitor: `{"type": "csat", "token", "question", "labels": [5]}` when their
conversation was resolved on a channel with `csat = true` (sent once a session joins, and
live when the survey goes out). From the visitor: `{"type": "csat", "token", "rating": 1-5,
"comment"?}`; answered with `{"type": "csat_done", "outcome": "rated" | "already_rated" |
"expired"}`; after a rating given without a comment, `{"type": "csat", "token", "comment"}`
adds one, answered `"commented"` (or `"has_comment"`, `"expired"`). The token is the survey's signed one (docs/csat.md): the visitor needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

MAX_COMMENT = 2000
MAX_TOKEN = 64
RATE_ACTION = "csat_rate_"  # the stars are buttons like Slack's and Telegram's (routing/csat.py)
COMMENT_ACTION = "csat_comment"  # the comment after a rating given alone


@dataclass(frozen=True, slots=True)
class SurveyOffer:
    token: str
    question: str
    labels: tuple[str, ...]


@runtime_checkable
class SurveyStore(Protocol):
    """The store's side of widget surveys (the inbox implements it with WidgetTranscripts)."""

    async def open_survey(self, channel: str, thread_key: str) -> SurveyOffer | None:
        """The conversation's survey if it waits for a rating."""
        ...

    async def surveys_since(self, after: int) -> tuple[int, list[tuple[str, str, SurveyOffer]]]:
        """Surveys asked after event seq `after` on widget channels: (newest seq read, [(channel, thread key, offer)])."""
        ...


def offer_frame(offer: SurveyOffer) -> dict[str, Any]:
    return {"type": "csat", "token": offer.token, "question": offer.question, "labels": list(offer.labels)}


class BadRating(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def read_rating(frame: dict[str, Any]) -> tuple[str, int | None, str | None]:
    """(token, rating, comment) of a visitor's `csat` frame; BadRating when it is not one.
    A frame without `rating` but with a comment is the comment after a rating given alone."""
    token, rating, comment = frame.get("token"), frame.get("rating"), frame.get("comment")
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN:
        raise BadRating("bad_token", f"token must be a string of 1 to {MAX_TOKEN} characters")
    if rating is None and isinstance(comment, str) and comment.strip():
        if len(comment) > MAX_COMMENT:
            raise BadRating("bad_comment", f"comment must be a string of at most {MAX_COMMENT} characters")
        return token, None, comment.strip()
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise BadRating("bad_rating", "rating must be an integer from 1 to 5")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise BadRating("bad_comment", f"comment must be a string of at most {MAX_COMMENT} characters")
    return token, rating, (comment or "").strip() or None
