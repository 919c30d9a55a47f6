"""routing.change_rules: the pure conditions over a change, the walk, and the checks."""

from __future__ import annotations

import pytest

from inbox.config import RuleConfig, check_change_rules
from routing.change_rules import ChangeSnapshot, evaluate_change, is_change_rule, split_trigger, stored_conditions, validate_change_rule
from routing.rules import InvalidRule

CHANGE = ChangeSnapshot(1, 7, "Upgrade pg", "normal", "high", "scheduled", "approval", frozenset({"pg-main", "Checkout"}))


def rule(name: str, conditions: dict[str, object], **then: object) -> object:
    return validate_change_rule({"name": name, "on": "change", "if": conditions, "then": then or {"notify_team": "ops"}}, teams=["ops"])


def test_conditions_all_hold_lists_mean_any() -> None:
    rules = [
        rule("risk", {"risk": ["high", "medium"], "status": "scheduled"}),
        rule("items", {"items": ["checkout"], "previous": "approval", "type": "normal"}, notify_email="a@example.com"),
        rule("type", {"type": "emergency"}),
        rule("nothing", {}),
    ]
    decision = evaluate_change(rules, CHANGE, teams=["ops"])  # type: ignore[arg-type]
    assert [(n.rule, n.team, n.emails) for n in decision.notify] == [
        ("risk", "ops", ()),
        ("items", None, ("a@example.com",)),
        ("nothing", "ops", ()),
    ]
    assert decision.trace[2] == ("type", "no_match", "type: type 'normal' is not one of emergency")
    created = ChangeSnapshot(1, 7, "x", "normal", "low", "draft", None, frozenset())
    assert [n.rule for n in evaluate_change(rules, created).notify] == ["nothing"]  # type: ignore[arg-type]
    gone = evaluate_change(rules[:1], CHANGE, teams=[])  # type: ignore[arg-type]
    assert gone.notify == () and gone.trace[0][1] == "failed"


def test_validation_and_storage() -> None:
    with pytest.raises(InvalidRule) as bad:
        validate_change_rule({"name": "x", "on": "change", "if": {"risk": "huge", "colour": "red"}, "then": {}}, teams=["ops"])
    problems = dict(bad.value.details)
    assert set(problems) == {"if.risk[0]", "if.colour", "then"}, problems
    assert problems["if.colour"].startswith("unknown key 'colour'; expected one of: type, risk, status, previous, items")
    assert "notify_slack" in problems["then"]
    with pytest.raises(InvalidRule, match="notify_slack"):
        validate_change_rule({"name": "x", "on": "change", "then": {"notify_slack": "#ops"}})
    assert validate_change_rule({"name": "x", "on": "change", "then": {"notify_slack": "C0OPS"}}).then.notify_slack == ("C0OPS",)
    with pytest.raises(InvalidRule, match="no team named 'sales'"):
        validate_change_rule({"name": "x", "on": "change", "then": {"notify_team": "sales"}}, teams=["ops"])
    stored = {"name": "x", "if": stored_conditions({"risk": "high"}), "then": {"notify_email": "a@example.com"}, "enabled": True}
    assert is_change_rule(stored) and not is_change_rule({"name": "m", "if": {"channel": "mail"}})
    assert split_trigger(stored)["if"] == {"risk": "high"}
    configured = [
        RuleConfig.model_validate({"name": "m", "if": {"channel": "mail"}, "then": {"tag": "x"}}),
        RuleConfig.model_validate({"name": "m", "on": "change", "if": {"risk": "high"}, "then": {"notify_team": "ops"}}),
        RuleConfig.model_validate({"name": "c", "on": "change", "if": {"stauts": "draft"}, "then": {"notify_team": "ops"}}),
    ]
    problems = check_change_rules(configured, ["ops"])
    assert any(p.startswith("rules[2].if.stauts: unknown key") for p in problems), problems
    assert "rules: the rule name 'm' is used twice; names must be unique" in problems
