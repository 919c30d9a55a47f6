"""Incident priority from the ITIL impact × urgency matrix.

HH=P1, HM=MH=P2, HL=MM=LH=P3, ML=LM=P4, LL=P5: each step down in impact or urgency
lowers the priority by one.
"""

from __future__ import annotations

from routing.vocabulary import LEVELS, PRIORITIES, Level, Priority

__all__ = ["LEVELS", "PRIORITIES", "Level", "Priority", "incident_priority"]

_RANK: dict[Level, int] = {"high": 0, "medium": 1, "low": 2}


def incident_priority(impact: Level, urgency: Level) -> Priority:
    """The priority of an incident with this impact and urgency."""
    try:
        return PRIORITIES[_RANK[impact] + _RANK[urgency]]
    except KeyError as exc:
        raise ValueError(f"expected high, medium or low, got {exc.args[0]!r}") from None
