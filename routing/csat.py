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
