"""The status page's rule: severity from priority/impact, softened through dependencies; daily history."""

from __future__ import annotations

import datetime as dt

from routing.service_status import Interval, OpenIncident, daily_history, incident_severity, overall, service_states

CHECKOUT, SEARCH = ("service", 1), ("service", 2)
DB, CDN = ("config_item", 10), ("config_item", 11)
EDGES = [(CHECKOUT, DB), (SEARCH, CDN), (CDN, DB)]  # checkout → db; search → cdn → db


def test_severity_is_outage_for_p1_p2_or_high_impact_else_degraded() -> None:
    assert incident_severity("P1", "medium") == "outage"
    assert incident_severity("P2", None) == "outage"
    assert incident_severity("P4", "high") == "outage"
    assert incident_severity("P3", "medium") == "degraded"
    assert incident_severity(None, None) == "degraded"


def test_direct_hit_takes_the_severity_and_a_dependency_degrades() -> None:
    outage_on_db = OpenIncident(1, frozenset({DB}), "outage")
    states = service_states([CHECKOUT, SEARCH], EDGES, [outage_on_db])
    assert states == {CHECKOUT: "degraded", SEARCH: "degraded"}  # search reaches the db through the cdn
    direct = OpenIncident(2, frozenset({CHECKOUT}), "outage")
    states = service_states([CHECKOUT, SEARCH], EDGES, [outage_on_db, direct])
    assert states == {CHECKOUT: "outage", SEARCH: "degraded"}
    assert overall(states) == "outage"
    assert service_states([CHECKOUT, SEARCH], EDGES, []) == {CHECKOUT: "operational", SEARCH: "operational"}
    # Nothing reaches upwards: an incident on checkout leaves the db's dependents alone.
    assert service_states([SEARCH], EDGES, [direct]) == {SEARCH: "operational"}


def test_daily_history_marks_each_day_an_incident_was_open_with_the_worst_state() -> None:
    today = dt.date(2026, 12, 2)
    at = lambda d, h=12: dt.datetime(2026, 12, d, h, tzinfo=dt.UTC)  # noqa: E731
    history = daily_history(
        [
            Interval(at(1, 23), at(2, 1), "degraded"),  # spans midnight: two days
            Interval(at(2, 3), at(2, 4), "outage"),
            Interval(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), None, "degraded"),  # open since long ago: every day
        ],
        today,
        days=5,
    )
    assert [d for d, _ in history] == [dt.date(2026, 11, 28) + dt.timedelta(days=n) for n in range(5)]
    assert [s for _, s in history] == ["degraded", "degraded", "degraded", "degraded", "outage"]
    assert [s for _, s in daily_history([Interval(at(1), at(1, 13), "outage")], today, days=3)] == ["operational", "outage", "operational"]
