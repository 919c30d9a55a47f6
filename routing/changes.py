"""Change management's pure rules: the lifecycle as a transition table, and the risk of a
change from what it touches, its type and the history of changes on those items.

Lifecycle (a standard change is pre-approved: it goes from assessment straight to scheduled):

    draft → assessment → approval → scheduled → implementing → review → closed
      │          │           │           │            │            └→ failed
      └──────────┴───────────┴───────────┴────────────┴→ cancelled
                             └→ rejected (one approver rejects)
                                                      implementing → failed

Risk: a score, then a level.
    score = touch + type + history
    touch   = the highest criticality among the items and everything that depends on them
              (through the graph): high 3, medium 2, low 1, nothing known 1;
              +1 when more than 5 services/items are reached in all
    type    = standard 0, normal 1, emergency 2
    history = +1 for each failed (or backed-out) change on the same items in the last 90 days, at most 2
    level: score ≤ 2 → low, 3–4 → medium, ≥ 5 → high
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from routing.vocabulary import ChangeStatus, ChangeType, Level

TRANSITIONS: Mapping[ChangeStatus, tuple[ChangeStatus, ...]] = {
    "draft": ("assessment", "cancelled"),
    "assessment": ("approval", "scheduled", "draft", "cancelled"),
    "approval": ("scheduled", "rejected", "cancelled"),
    "scheduled": ("implementing", "cancelled"),
    "implementing": ("review", "failed"),
    "review": ("closed", "failed"),
    "closed": (),
    "rejected": ("draft",),
    "cancelled": (),
    "failed": (),
}
# Reached only by the approvals themselves, never asked for directly.
BY_APPROVAL_ONLY: frozenset[ChangeStatus] = frozenset({"rejected"})
FINAL: frozenset[ChangeStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
# A change in one of these occupies its planned window on the calendar.
ACTIVE: frozenset[ChangeStatus] = frozenset({"draft", "assessment", "approval", "scheduled", "implementing", "review"})


def next_status(current: ChangeStatus, wanted: ChangeStatus, change_type: ChangeType, has_approvers: bool) -> str | None:
    """Why `current` → `wanted` is refused, or None when it is allowed."""
    if wanted == current:
        return f"the change is already {current}"
    if wanted not in TRANSITIONS[current]:
        allowed = ", ".join(TRANSITIONS[current]) or "nothing (it is final)"
        return f"a change cannot go from {current} to {wanted} (from {current}: {allowed})"
    if current == "assessment" and wanted == "scheduled" and change_type != "standard":
        return "a normal or emergency change is scheduled only when its approvers approve it"
    if current == "assessment" and wanted == "approval":
        if change_type == "standard":
            return "a standard change needs no approval: schedule it"
        if not has_approvers:
            return "a change needs at least one approver before approval"
    if current == "approval" and wanted == "scheduled":
        return "a change in approval is scheduled when every approver approves it"
    if wanted in BY_APPROVAL_ONLY:
        return "a change is rejected by one of its approvers"
    return None


def approval_outcome(decisions: Iterable[str | None]) -> ChangeStatus | None:
    """What the approvers' decisions so far mean: one reject rejects, all approve schedules,
    anything else (someone still to decide) leaves the change in approval (None)."""
    seen = list(decisions)
    if any(d == "reject" for d in seen):
        return "rejected"
    if seen and all(d == "approve" for d in seen):
        return "scheduled"
    return None


CRITICALITY_POINTS: Mapping[str, int] = {"high": 3, "medium": 2, "low": 1}
TYPE_POINTS: Mapping[str, int] = {"standard": 0, "normal": 1, "emergency": 2}
WIDE_REACH = 5
HISTORY_DAYS = 90
MAX_HISTORY_POINTS = 2


# Why a change scored what it did: one reason per term, by code (the UI words each code in
# its language; the API gives the code, its parameters and this English text).
RISK_REASON_TEXT: dict[str, str] = {
    "touches": "touches {name} ({criticality} criticality): +{points}",
    "touches_nothing": "touches nothing known: +{points}",
    "wide_reach": "reaches {count} services and items: +{points}",
    "type": "{type} change: +{points}",
    "history": "{count} failed change(s) on these items in {days} days: +{points}",
}


@dataclass(frozen=True)
class RiskReason:
    code: str  # a key of RISK_REASON_TEXT
    points: int
    params: tuple[tuple[str, str | int], ...] = ()

    @property
    def text(self) -> str:
        """The reason in English."""
        return RISK_REASON_TEXT[self.code].format(points=self.points, **dict(self.params))

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "points": self.points, "params": dict(self.params), "text": self.text}


@dataclass(frozen=True)
class Risk:
    level: Level
    score: int
    reasons: tuple[RiskReason, ...]


def assess_risk(
    change_type: ChangeType,
    touched: Mapping[str, str],
    failed_before: int,
) -> Risk:
    """The risk of a change. `touched`: name → criticality of every service/item the change
    touches or that depends on what it touches (CIs carry their service's criticality, or
    "low"); `failed_before`: failed changes on the same items within HISTORY_DAYS."""
    reasons: list[RiskReason] = []
    if touched:
        worst_name, worst = min(touched.items(), key=lambda kv: (-CRITICALITY_POINTS.get(kv[1], 1), kv[0]))
        touch = CRITICALITY_POINTS.get(worst, 1)
        reasons.append(RiskReason("touches", touch, (("name", worst_name), ("criticality", worst))))
    else:
        touch = 1
        reasons.append(RiskReason("touches_nothing", 1))
    if len(touched) > WIDE_REACH:
        touch += 1
        reasons.append(RiskReason("wide_reach", 1, (("count", len(touched)),)))
    kind = TYPE_POINTS[change_type]
    reasons.append(RiskReason("type", kind, (("type", change_type),)))
    history = min(max(failed_before, 0), MAX_HISTORY_POINTS)
    if history:
        reasons.append(RiskReason("history", history, (("count", failed_before), ("days", HISTORY_DAYS))))
    score = touch + kind + history
    level: Level = "low" if score <= 2 else "medium" if score <= 4 else "high"
    return Risk(level, score, tuple(reasons))


def overlaps(a_start: dt.datetime, a_end: dt.datetime, b_start: dt.datetime, b_end: dt.datetime) -> bool:
    """Half-open windows [start, end) overlap."""
    return a_start < b_end and b_start < a_end
