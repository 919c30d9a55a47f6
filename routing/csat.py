"""Satisfaction surveys, the pure part: the question in each language, the e-mail's text
with its five rating links, and the score of a set of ratings.

The score: CSAT % is the share of ratings that are 4 or 5 (satisfied), rounded to one
decimal; the average is the mean rating (two decimals); both None without ratings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

RATINGS = (1, 2, 3, 4, 5)

QUESTION = {
    "en": "How did we do? Rate our help from 1 (bad) to 5 (excellent).",
    "es": "¿Qué tal le atendimos? Valore nuestra ayuda de 1 (mal) a 5 (excelente).",
}
LABELS = {
    "en": ("1 Bad", "2 Poor", "3 OK", "4 Good", "5 Excellent"),
    "es": ("1 Mal", "2 Regular", "3 Aceptable", "4 Bien", "5 Excelente"),
}
# The survey's buttons on chat channels (Slack block actions, Telegram callback queries, the
# widget's stars): `csat_rate_N` with the survey's token as the value; a comment typed after
# the rating comes back as `csat_comment` with the token and the text.
RATE_ACTION = "csat_rate_"
COMMENT_ACTION = "csat_comment"
ANSWERS = {
    "en": {
        "rated": "Thank you for your rating!",
        "already_rated": "You already rated this. Thank you!",
        "expired": "This survey has expired.",
        "commented": "Thank you, your comment is added to your rating.",
        "has_comment": "Your rating already has a comment. Thank you!",
        "bad_comment": "A comment is at most 2000 characters.",
    },
    "es": {
        "rated": "¡Gracias por su valoración!",
        "already_rated": "Ya la valoró. ¡Gracias!",
        "expired": "Esta encuesta ha caducado.",
        "commented": "Gracias, su comentario se ha añadido a su valoración.",
        "has_comment": "Su valoración ya tiene un comentario. ¡Gracias!",
        "bad_comment": "Un comentario tiene como máximo 2000 caracteres.",
    },
}
COMMENT_PROMPT = {
    "en": "Thank you for your rating! Reply to this message to add a comment, if you like.",
    "es": "¡Gracias por su valoración! Responda a este mensaje para añadir un comentario, si quiere.",
}
COMMENT_LINK = {"en": "Add a comment", "es": "Añadir un comentario"}


def rating_of(action_id: str) -> int | None:
    """The rating a `csat_rate_N` button gives, or None."""
    rest = action_id.removeprefix(RATE_ACTION) if action_id.startswith(RATE_ACTION) else ""
    return int(rest) if rest in ("1", "2", "3", "4", "5") else None


_EMAIL = {
    "en": ("Your request is resolved. How did we do? Choose a rating (the link works once, for 7 days):", "Thank you!"),
    "es": (
        "Su solicitud está resuelta. ¿Qué tal le atendimos? Elija una valoración (el enlace sirve una vez, durante 7 días):",
        "¡Gracias!",
    ),
}


def email_text(language: str, url: str) -> str:
    intro, thanks = _EMAIL.get(language, _EMAIL["en"])
    labels = LABELS.get(language, LABELS["en"])
    lines = [intro, ""]
    lines += [f"{label}: {url}?rating={n}" for n, label in zip(RATINGS, labels, strict=True)]
    return "\n".join([*lines, "", thanks, ""])


@dataclass(frozen=True, slots=True)
class Score:
    count: int
    satisfied: int
    csat: float | None  # percent of 4-5
    average: float | None


def score(ratings: Iterable[int]) -> Score:
    values = [r for r in ratings if r in RATINGS]
    if not values:
        return Score(0, 0, None, None)
    satisfied = sum(1 for r in values if r >= 4)
    return Score(len(values), satisfied, round(100 * satisfied / len(values), 1), round(sum(values) / len(values), 2))
