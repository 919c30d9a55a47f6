"""SLA due times in business hours, pauses while pending, and the state of a target."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.business_hours import BusinessHours
from routing.sla import DueTimes, SLAPolicy, due_at, due_times, sla_event, sla_state

MADRID = ZoneInfo("Europe/Madrid")
UTC = dt.UTC
OFFICE = BusinessHours(
    "Europe/Madrid",
    {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    [dt.date(2026, 12, 8)],
)


def madrid(*args):
    return dt.datetime(*args, tzinfo=MADRID)


P1 = SLAPolicy("P1", first_response_minutes=60, resolution_minutes=8 * 60, business_hours=OFFICE)


def test_due_times_in_business_hours_on_a_weekday():
    assert due_times(madrid(2026, 11, 30, 10, 0), P1) == DueTimes(madrid(2026, 11, 30, 11, 0), madrid(2026, 12, 1, 10, 0))


def test_a_ticket_opened_on_friday_evening_is_due_on_monday():
    due = due_times(madrid(2026, 12, 4, 16, 30), P1)
    assert due.first_response_due == madrid(2026, 12, 7, 9, 30)
    assert due.resolution_due == madrid(2026, 12, 7, 16, 30)


def test_holidays_do_not_count():
    # Monday Dec 7 16:30: 30 min Monday, Tuesday is a holiday, 30 min Wednesday.
    assert due_times(madrid(2026, 12, 7, 16, 30), P1).first_response_due == madrid(2026, 12, 9, 9, 30)


def test_a_24x7_policy_is_plain_elapsed_time_by_default():
    policy = SLAPolicy("P2", first_response_minutes=30, resolution_minutes=240)
    created = dt.datetime(2026, 12, 5, 23, 50, tzinfo=UTC)
    due = due_times(created, policy)
    assert due.first_response_due == created + dt.timedelta(minutes=30)
    assert due.resolution_due == created + dt.timedelta(hours=4)


def test_due_times_come_back_in_the_creation_time_zone():
    created = madrid(2026, 11, 30, 10, 0).astimezone(UTC)
    due = due_times(created, P1)
    assert due.first_response_due.tzinfo is UTC
    assert due.first_response_due == madrid(2026, 11, 30, 11, 0)


def test_pending_time_does_not_count():
    created = madrid(2026, 11, 30, 9, 0)
    pauses = [(madrid(2026, 11, 30, 10, 0), madrid(2026, 11, 30, 13, 0))]
    assert due_at(created, 8 * 60, OFFICE, pauses) == madrid(2026, 12, 1, 12, 0)


def test_pauses_outside_business_hours_change_nothing():
    created = madrid(2026, 11, 30, 9, 0)
    night = [(madrid(2026, 11, 30, 18, 0), madrid(2026, 12, 1, 8, 0))]
    assert due_at(created, 8 * 60 + 60, OFFICE, night) == due_at(created, 8 * 60 + 60, OFFICE)


def test_overlapping_and_unordered_pauses_count_once():
    created = madrid(2026, 11, 30, 9, 0)
    pauses = [
        (madrid(2026, 11, 30, 11, 0), madrid(2026, 11, 30, 12, 0)),
        (madrid(2026, 11, 30, 10, 0), madrid(2026, 11, 30, 11, 30)),
        (madrid(2026, 11, 30, 11, 15), madrid(2026, 11, 30, 11, 45)),
    ]
    # Paused 10:00-12:00: two of the first four hours.
    assert due_at(created, 4 * 60, OFFICE, pauses) == madrid(2026, 11, 30, 15, 0)


def test_empty_or_backwards_pauses_are_ignored():
    created = madrid(2026, 11, 30, 9, 0)
    odd = [
        (madrid(2026, 11, 30, 10, 0), madrid(2026, 11, 30, 10, 0)),
        (madrid(2026, 11, 30, 12, 0), madrid(2026, 11, 30, 11, 0)),
    ]
    assert due_at(created, 60, OFFICE, odd) == madrid(2026, 11, 30, 10, 0)


def test_a_pause_that_started_before_creation_only_counts_from_creation():
    created = madrid(2026, 11, 30, 10, 0)
    pauses = [(madrid(2026, 11, 30, 9, 0), madrid(2026, 11, 30, 10, 30))]
    assert due_at(created, 60, OFFICE, pauses) == madrid(2026, 11, 30, 11, 30)


def test_an_open_ended_pause_stops_the_clock_so_there_is_no_due_time():
    created = madrid(2026, 11, 30, 9, 0)
    waiting = [(madrid(2026, 11, 30, 9, 30), None)]
    due = due_times(created, P1, waiting)
    assert due == DueTimes(None, None)


def test_a_target_reached_before_an_open_ended_pause_keeps_its_due_time():
    created = madrid(2026, 11, 30, 9, 0)
    waiting = [(madrid(2026, 11, 30, 14, 0), None)]
    due = due_times(created, P1, waiting)
    assert due.first_response_due == madrid(2026, 11, 30, 10, 0)
    assert due.resolution_due is None


def test_an_open_ended_pause_swallows_later_pauses():
    created = madrid(2026, 11, 30, 9, 0)
    pauses = [
        (madrid(2026, 11, 30, 9, 30), None),
        (madrid(2026, 11, 30, 10, 0), madrid(2026, 11, 30, 11, 0)),
    ]
    assert due_at(created, 60, OFFICE, pauses) is None


def test_a_pause_running_past_closing_resumes_next_morning():
    created = madrid(2026, 11, 30, 9, 0)
    pauses = [(madrid(2026, 11, 30, 16, 0), madrid(2026, 12, 1, 10, 0))]
    # 7h Monday until the pause, then 1h from 10:00 Tuesday.
    assert due_at(created, 8 * 60, OFFICE, pauses) == madrid(2026, 12, 1, 11, 0)


def test_policy_rejects_non_positive_targets():
    with pytest.raises(ValueError, match="positive"):
        SLAPolicy("P3", first_response_minutes=0, resolution_minutes=60)


# --- state ---------------------------------------------------------------------------

DUE = dt.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "met_at", "expected"),
    [
        (DUE - dt.timedelta(hours=2), None, "ok"),
        (DUE - dt.timedelta(minutes=30), None, "due_soon"),
        (DUE - dt.timedelta(minutes=1), None, "due_soon"),
        (DUE, None, "breached"),
        (DUE + dt.timedelta(days=3), None, "breached"),
        (DUE + dt.timedelta(days=3), DUE - dt.timedelta(minutes=5), "met"),
        (DUE + dt.timedelta(days=3), DUE, "met"),
        (DUE + dt.timedelta(days=3), DUE + dt.timedelta(seconds=1), "breached"),
    ],
)
def test_sla_state_at_each_moment(now, met_at, expected):
    assert sla_state(now, DUE, met_at) == expected


def test_due_soon_threshold_is_configurable():
    now = DUE - dt.timedelta(minutes=50)
    assert sla_state(now, DUE) == "ok"
    assert sla_state(now, DUE, due_soon=dt.timedelta(hours=1)) == "due_soon"
    assert sla_state(now, DUE, due_soon=SLAPolicy("P1", 60, 60, due_soon_minutes=60).due_soon) == "due_soon"


def test_without_a_due_time_nothing_is_late():
    assert sla_state(DUE, None) == "ok"
    assert sla_state(DUE, None, met_at=DUE) == "met"


@pytest.mark.parametrize(
    ("previous", "current", "event"),
    [
        ("ok", "due_soon", "sla.due_soon"),
        ("ok", "breached", "sla.breached"),
        ("due_soon", "breached", "sla.breached"),
        ("due_soon", "due_soon", None),
        ("breached", "breached", None),
        ("ok", "met", None),
        ("due_soon", "met", None),
        ("breached", "met", None),
        ("met", "breached", None),
        ("ok", "ok", None),
    ],
)
def test_each_state_change_publishes_at_most_one_event(previous, current, event):
    assert sla_event(previous, current) == event


# --- properties --------------------------------------------------------------------

moments = st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2026, 12, 31), timezones=st.just(UTC))


@st.composite
def pause_lists(draw, start):
    pauses = []
    for _ in range(draw(st.integers(0, 4))):
        begin = start + dt.timedelta(minutes=draw(st.integers(-600, 20_000)))
        pauses.append((begin, begin + dt.timedelta(minutes=draw(st.integers(0, 5_000)))))
    return pauses


@settings(max_examples=150, deadline=None)
@given(moments, st.integers(1, 5_000), st.data())
def test_pauses_only_ever_push_a_due_time_later(created, minutes, data):
    pauses = data.draw(pause_lists(created))
    plain = due_at(created, minutes, OFFICE)
    paused = due_at(created, minutes, OFFICE, pauses)
    assert paused is not None and paused >= plain


@settings(max_examples=150, deadline=None)
@given(moments, st.integers(1, 5_000), st.data())
def test_running_time_to_the_due_time_is_the_target(created, minutes, data):
    pauses = data.draw(pause_lists(created))
    due = due_at(created, minutes, OFFICE, pauses)
    paused = sum(
        (OFFICE.business_time_between(max(s, created), min(e, due)) for s, e in pauses if min(e, due) > max(s, created)),
        dt.timedelta(0),
    )
    # Overlapping pauses would be counted twice by this simple sum: only check disjoint ones.
    ordered = sorted(pauses)
    disjoint = all(a[1] <= b[0] for a, b in zip(ordered, ordered[1:], strict=False))
    if disjoint:
        assert OFFICE.business_time_between(created, due) - paused == dt.timedelta(minutes=minutes)


def test_due_times_unpack_as_a_pair():
    first, resolution = due_times(madrid(2026, 11, 30, 10, 0), P1)
    assert (first, resolution) == (madrid(2026, 11, 30, 11, 0), madrid(2026, 12, 1, 10, 0))
