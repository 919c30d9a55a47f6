"""Rules from a config file or the API: clear errors at config time."""

import tomllib

import pytest

from routing.rules import InvalidRule, Rule, validate_rule, validate_rules


def problems(data, **kw):
    with pytest.raises(InvalidRule) as info:
        validate_rules([data], **kw)
    return info.value.problems


def test_the_design_toml_rules_validate():
    raw = tomllib.loads(
        """
[[rules]]
name = "invoices to billing"
if = { channel_type = ["email", "widget"], text_matches = "(?i)invoice|factura" }
then = { assign_team = "billing", tag = ["billing"], priority = "P3" }

[[rules]]
name = "outages are incidents"
if = { text_matches = "(?i)outage|down|caído" }
then = { convert = "incident", impact = "high", urgency = "high" }
"""
    )
    rules = validate_rules(raw["rules"], teams=["billing"])
    assert [r.name for r in rules] == ["invoices to billing", "outages are incidents"]
    assert rules[0].if_.channel_type == ("email", "widget")


def test_a_single_string_is_taken_as_a_list_of_one():
    r = validate_rule({"name": "r", "if": {"channel": "support", "language": "es"}, "then": {"tag": "x"}})
    assert r.if_.channel == ("support",) and r.then.tag == ("x",)


def test_rules_serialise_with_the_if_key_and_read_back_the_same():
    r = validate_rule({"name": "r", "if": {"channel": "support"}, "then": {"convert": "ticket"}})
    data = r.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    assert data == {"name": "r", "if": {"channel": ["support"]}, "then": {"convert": "ticket"}}
    assert Rule.model_validate(data) == r


def test_unknown_keys_are_rejected_with_a_suggestion_and_the_known_keys():
    found = problems({"name": "r", "if": {"chanel": "x"}, "then": {"prority": "P1"}, "enabeld": True})
    by_key = {p.split(":")[0]: p for p in found}
    assert set(by_key) == {"rules[0].enabeld", "rules[0].if.chanel", "rules[0].then.prority"}
    assert "unknown key 'enabeld' (did you mean 'enabled'?)" in by_key["rules[0].enabeld"]
    assert "unknown key 'chanel' (did you mean 'channel'?)" in by_key["rules[0].if.chanel"]
    assert "expected one of: channel, channel_type" in by_key["rules[0].if.chanel"]
    assert "(did you mean 'priority'?)" in by_key["rules[0].then.prority"]


def test_bad_regexes_are_reported_at_config_time():
    found = problems({"name": "r", "if": {"subject_matches": "[", "text_matches": "(?<"}, "then": {"tag": "x"}})
    assert found[0].startswith("rules[0].if.subject_matches: not a valid regular expression")
    assert found[1].startswith("rules[0].if.text_matches: not a valid regular expression")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"if": {}, "then": {"tag": "x"}}, "rules[0].name: required key is missing"),
        (
            {"name": " ", "then": {"tag": "x"}},
            "rules[0].name: String should have at least 1 character",
        ),
        ({"name": "r"}, "rules[0].then: required key is missing"),
        ({"name": "r", "then": {}}, "rules[0].then: the rule has no action"),
        ({"name": "r", "then": {"stop": False}}, "rules[0].then: the rule has no action"),
        (
            {"name": "r", "if": {"channel": []}, "then": {"tag": "x"}},
            "rules[0].if.channel: expected at least one item (an empty list never matches)",
        ),
        (
            {"name": "r", "then": {"tag": ["ok", ""]}},
            "rules[0].then.tag[1]: String should have at least 1 character",
        ),
        (
            {"name": "r", "then": {"priority": "P0"}},
            "rules[0].then.priority: Input should be 'P1', 'P2', 'P3', 'P4' or 'P5'",
        ),
        (
            {"name": "r", "then": {"status": "snoozed"}},
            "rules[0].then.status: Input should be 'open', 'pending' or 'resolved'",
        ),
        (
            {"name": "r", "if": {"business_hours": "maybe"}, "then": {"tag": "x"}},
            "rules[0].if.business_hours: Input should be 'in' or 'out'",
        ),
        (
            {"name": "r", "if": {"conversation": "old"}, "then": {"tag": "x"}},
            "rules[0].if.conversation: Input should be 'new' or 'existing'",
        ),
        (
            {"name": "r", "then": {"assign_agent": "bob"}},
            "rules[0].then.assign_agent: expected an agent's email address, got 'bob'",
        ),
        (
            {"name": "r", "then": {"auto_reply": "../etc/passwd"}},
            "rules[0].then.auto_reply: expected a template name (a-z, 0-9, _), e.g. auto_reply; got '../etc/passwd'",
        ),
        (
            {"name": "r", "then": {"impact": "high"}},
            'rules[0].then: impact and urgency only go with convert = "incident"',
        ),
        (
            {"name": "r", "then": {"convert": "ticket", "urgency": "low"}},
            'rules[0].then: impact and urgency only go with convert = "incident"',
        ),
        (
            {"name": "r", "then": {"convert": "incident", "impact": "huge"}},
            "rules[0].then.impact: Input should be 'high', 'medium' or 'low'",
        ),
        ("not a table", "rules[0]: expected a table with name, if and then, got str"),
    ],
)
def test_each_invalid_rule_gets_a_message_naming_the_key(data, expected):
    assert expected in problems(data)


def test_priority_together_with_an_incident_is_rejected_with_the_reason():
    found = problems({"name": "r", "then": {"convert": "incident", "priority": "P1"}})
    assert found == ['rules[0].then: an incident\'s priority comes from its impact and urgency; give those instead of "priority"']


def test_references_are_checked_when_the_names_are_known():
    data = {
        "name": "r",
        "then": {"assign_team": "sales", "assign_agent": "x@y.z", "auto_reply": "welcome"},
    }
    found = problems(data, teams=["billing"], agents=["ana@example.com"], templates=["auto_reply"])
    assert found == [
        "rules[0].then.assign_team: no team named 'sales'",
        "rules[0].then.assign_agent: no agent with email 'x@y.z'",
        "rules[0].then.auto_reply: no auto-reply template named 'welcome'",
    ]
    # Unknown to the caller: not checked.
    assert validate_rule(data).then.assign_team == "sales"


def test_duplicate_rule_names_are_rejected():
    with pytest.raises(InvalidRule) as info:
        validate_rules([{"name": "r", "then": {"tag": "a"}}, {"name": "r", "then": {"tag": "b"}}])
    assert info.value.problems == ["rules: the rule name 'r' is used twice; names must be unique"]


def test_every_problem_of_every_rule_is_listed_with_its_index():
    with pytest.raises(InvalidRule) as info:
        validate_rules(
            [
                {"name": "ok", "then": {"tag": "a"}},
                {"name": "x", "then": {}},
                {"then": {"tag": "b"}},
            ]
        )
    assert info.value.problems == [
        "rules[1].then: the rule has no action",
        "rules[2].name: required key is missing",
    ]
    assert str(info.value) == "\n".join(info.value.problems)


def test_validate_rule_raises_with_details_as_key_and_message():
    with pytest.raises(InvalidRule) as info:
        validate_rule({"name": "r", "if": {"text_matches": "("}, "then": {"tag": "x"}})
    assert info.value.details[0][0] == "if.text_matches"


def test_ticket_is_another_name_for_request():
    r = validate_rule({"name": "r", "then": {"convert": "ticket"}})
    assert r.then.ticket_kind == "request"
    assert validate_rule({"name": "r", "then": {"tag": "x"}}).then.ticket_kind is None


def test_rules_are_immutable():
    r = validate_rule({"name": "r", "then": {"tag": "x"}})
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        r.name = "other"  # type: ignore[misc]
