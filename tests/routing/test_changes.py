"""routing/changes.py: the lifecycle table, the approvals' outcome and the risk formula."""

from __future__ import annotations

import datetime as dt

from routing import changes as rules


def test_lifecycle_allows_the_contract_path_and_refuses_shortcuts() -> None:
    path = ["draft", "assessment", "approval"]
    for a, b in zip(path, path[1:], strict=False):
        assert rules.next_status(a, b, "normal", True) is None  # type: ignore[arg-type]
    for a, b in [("scheduled", "implementing"), ("implementing", "review"), ("review", "closed"), ("implementing", "failed")]:
        assert rules.next_status(a, b, "normal", True) is None  # type: ignore[arg-type]
    assert "cannot go from draft to scheduled" in (rules.next_status("draft", "scheduled", "normal", True) or "")
    assert "approvers approve" in (rules.next_status("assessment", "scheduled", "normal", True) or "")
    assert rules.next_status("assessment", "scheduled", "standard", False) is None  # standard skips approval
    assert "needs no approval" in (rules.next_status("assessment", "approval", "standard", True) or "")
    assert "at least one approver" in (rules.next_status("assessment", "approval", "normal", False) or "")
    assert "scheduled when every approver" in (rules.next_status("approval", "scheduled", "normal", True) or "")
    assert "rejected by one of its approvers" in (rules.next_status("approval", "rejected", "normal", True) or "")
    assert "final" in (rules.next_status("closed", "draft", "normal", True) or "")
    assert "already" in (rules.next_status("draft", "draft", "normal", True) or "")
    assert rules.FINAL == {"closed", "cancelled", "failed"}


def test_approval_outcome() -> None:
    assert rules.approval_outcome(["approve", None]) is None
    assert rules.approval_outcome(["approve", "approve"]) == "scheduled"
    assert rules.approval_outcome(["approve", "reject", None]) == "rejected"
    assert rules.approval_outcome([]) is None


def test_risk_formula() -> None:
    low = rules.assess_risk("standard", {"wiki": "low"}, 0)
    assert (low.level, low.score) == ("low", 1)
    medium = rules.assess_risk("normal", {"db": "low", "Checkout": "medium"}, 0)
    assert (medium.level, medium.score) == ("medium", 3)
    assert medium.reasons[0].text == "touches Checkout (medium criticality): +2"
    high = rules.assess_risk("emergency", {"Checkout": "high"}, 0)
    assert (high.level, high.score) == ("high", 5)
    # failed history raises risk, capped at +2
    history = rules.assess_risk("normal", {"db": "low"}, 5)
    assert (history.level, history.score) == ("medium", 4)
    assert any("5 failed change(s)" in r.text for r in history.reasons)
    wide = rules.assess_risk("standard", {f"n{i}": "medium" for i in range(6)}, 0)
    assert (wide.level, wide.score) == ("medium", 3)
    nothing = rules.assess_risk("normal", {}, 0)
    assert (nothing.level, nothing.reasons[0].text) == ("low", "touches nothing known: +1")


def test_overlaps_is_half_open() -> None:
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    h = dt.timedelta(hours=1)
    assert rules.overlaps(t, t + h, t + h / 2, t + 2 * h)
    assert not rules.overlaps(t, t + h, t + h, t + 2 * h)
