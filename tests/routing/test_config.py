"""The routing sections of the config file: teams, business hours, SLA policies."""

import datetime as dt
import tomllib

import pytest
from pydantic import TypeAdapter, ValidationError

from routing.business_hours import BusinessHours
from routing.config import (
    BusinessHoursConfig,
    SLAConfig,
    TeamConfig,
    calendars,
    check_routing,
    default_calendar,
    parse_duration,
    sla_policies,
)

EXAMPLE = tomllib.loads(
    """
[[teams]]
name = "billing"
members = ["ana@example.com", "bob@example.com"]
assignment = "least_open"

[business_hours.default]
timezone = "Europe/Madrid"
mon = ["09:00-14:00", "15:00-18:00"]
tue = ["09:00-14:00", "15:00-18:00"]
fri = ["09:00-14:00"]
holidays = [2026-12-25, "2027-01-01"]

[[sla]]
priority = "P1"
first_response = "1h"
resolution = "8h"
business_hours = "default"

[[sla]]
priority = "P3"
first_response = 240
resolution = "2h30m"
"""
)

teams_adapter = TypeAdapter(list[TeamConfig])
hours_adapter = TypeAdapter(dict[str, BusinessHoursConfig])
sla_adapter = TypeAdapter(list[SLAConfig])


def test_the_documented_example_parses_and_builds_policies():
    teams = teams_adapter.validate_python(EXAMPLE["teams"])
    hours = hours_adapter.validate_python(EXAMPLE["business_hours"])
    with pytest.raises(ValidationError, match="resolution must not be shorter"):
        sla_adapter.validate_python(EXAMPLE["sla"])
    sla = sla_adapter.validate_python([EXAMPLE["sla"][0], {**EXAMPLE["sla"][1], "resolution": "24h"}])
    assert teams[0].assignment == "least_open" and teams[0].sticky
    assert hours["default"].holidays == [dt.date(2026, 12, 25), dt.date(2027, 1, 1)]
    assert check_routing(teams=teams, sla=sla, business_hours=hours) == []
    policies = sla_policies(sla, hours)
    assert policies["P1"].first_response_minutes == 60 and policies["P1"].resolution_minutes == 480
    assert policies["P1"].business_hours == hours["default"].to_business_hours()
    assert policies["P3"].business_hours == BusinessHours.always()
    assert policies["P3"].first_response_minutes == 240


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("30m", 30), ("4h", 240), ("1h30m", 90), ("1h 30m", 90), ("45min", 45), (15, 15)],
)
def test_durations(text, minutes):
    assert parse_duration(text) == minutes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2d", "days are ambiguous"),
        ("soon", "expected a duration"),
        ("", "expected a duration"),
        (0, "more than zero"),
        (True, "expected a duration"),
        ("0h", "more than zero"),
    ],
)
def test_bad_durations_say_what_is_expected(text, message):
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_business_hours_errors_name_the_key():
    with pytest.raises(ValidationError) as info:
        BusinessHoursConfig.model_validate({"timezone": "Mars/Olympus", "mon": ["9-5"], "tuesday": ["09:00-17:00"]})
    errors = {e["loc"][0]: e["msg"] for e in info.value.errors()}
    assert "not a known time zone" in errors["timezone"]
    assert "not a time of day" in errors["mon"]
    assert errors["tuesday"] == "Extra inputs are not permitted"


def test_business_hours_that_never_open_are_rejected():
    with pytest.raises(ValidationError, match="never open"):
        BusinessHoursConfig.model_validate({"timezone": "UTC"})


def test_teams_reject_unknown_strategies_and_non_email_members():
    with pytest.raises(ValidationError, match="round_robin"):
        TeamConfig.model_validate({"name": "t", "assignment": "random"})
    with pytest.raises(ValidationError, match="email addresses"):
        TeamConfig.model_validate({"name": "t", "members": ["ana"]})


def test_check_routing_reports_problems_across_sections():
    teams = teams_adapter.validate_python([{"name": "billing", "members": ["ghost@example.com"]}, {"name": "billing"}])
    sla = sla_adapter.validate_python(
        [
            {
                "priority": "P1",
                "first_response": "1h",
                "resolution": "4h",
                "business_hours": "office",
            },
            {"priority": "P1", "first_response": "1h", "resolution": "4h"},
        ]
    )
    rules = [{"name": "r", "if": {"text_matches": "("}, "then": {"assign_team": "sales"}}]
    problems = check_routing(teams=teams, rules=rules, sla=sla, business_hours={}, agents=["ana@example.com"])
    assert problems == [
        "teams: the name 'billing' is used twice",
        "teams[0].members: no agent with email 'ghost@example.com'",
        "rules[0].if.text_matches: not a valid regular expression: missing ), unterminated subpattern at position 0",
        "rules[0].then.assign_team: no team named 'sales'",
        "sla[0].business_hours: no [business_hours.office]; known: 24x7",
        "sla[1].priority: P1 already has a policy",
    ]


def test_default_calendar_is_always_open_without_one():
    assert default_calendar({}) == BusinessHours.always()
    hours = hours_adapter.validate_python(EXAMPLE["business_hours"])
    assert default_calendar(hours).timezone == "Europe/Madrid"
    assert set(calendars(hours)) == {"default", "24x7"}
