"""Business hours: open or not, and adding open time across nights, weekends, holidays,
daylight-saving changes and time zones."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.business_hours import WEEKDAYS, BusinessHours, InvalidBusinessHours, parse_span

MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
UTC = dt.UTC

OFFICE = BusinessHours(
    "Europe/Madrid",
    {d: ["09:00-14:00", "15:00-18:00"] for d in ("mon", "tue", "wed", "thu")} | {"fri": ["09:00-14:00"]},
    holidays=[dt.date(2026, 12, 8), dt.date(2026, 12, 25)],
)


def madrid(*args):
    return dt.datetime(*args, tzinfo=MADRID)


# 2026-11-30 is a Monday.


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (madrid(2026, 11, 30, 8, 59), False),
        (madrid(2026, 11, 30, 9, 0), True),  # a span's start is open
        (madrid(2026, 11, 30, 13, 59), True),
        (madrid(2026, 11, 30, 14, 0), False),  # its end is not
        (madrid(2026, 11, 30, 14, 30), False),  # lunch
        (madrid(2026, 11, 30, 17, 59, 59), True),
        (madrid(2026, 11, 30, 18, 0), False),
        (madrid(2026, 12, 4, 13, 0), True),  # Friday morning
        (madrid(2026, 12, 4, 15, 0), False),  # Friday afternoon
        (madrid(2026, 12, 5, 10, 0), False),  # Saturday
        (madrid(2026, 12, 6, 10, 0), False),  # Sunday
        (madrid(2026, 12, 8, 10, 0), False),  # a holiday on a Tuesday
        (madrid(2026, 12, 9, 10, 0), True),
    ],
)
def test_is_open_follows_spans_weekends_and_holidays(at, open_):
    assert OFFICE.is_open(at) is open_


def test_is_open_judges_the_instant_whatever_time_zone_it_is_given_in():
    at = madrid(2026, 11, 30, 9, 30)
    assert OFFICE.is_open(at.astimezone(UTC))
    assert OFFICE.is_open(at.astimezone(TOKYO))  # already Monday evening in Tokyo
    assert not OFFICE.is_open(madrid(2026, 11, 30, 8, 30).astimezone(TOKYO))


def test_holidays_are_local_dates_of_the_calendar():
    # 23:30 UTC on Dec 7 is already Dec 8 (a holiday) in Madrid; 08:30 UTC Dec 8 is 09:30 there.
    assert not OFFICE.is_open(dt.datetime(2026, 12, 8, 8, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (madrid(2026, 11, 30, 10, 0), 60, madrid(2026, 11, 30, 11, 0)),  # same span
        (madrid(2026, 11, 30, 13, 30), 60, madrid(2026, 11, 30, 15, 30)),  # over lunch
        (madrid(2026, 11, 30, 17, 30), 60, madrid(2026, 12, 1, 9, 30)),  # overnight
        (madrid(2026, 11, 30, 7, 0), 30, madrid(2026, 11, 30, 9, 30)),  # before opening
        (madrid(2026, 11, 30, 20, 0), 30, madrid(2026, 12, 1, 9, 30)),  # after closing
        (
            madrid(2026, 11, 30, 9, 0),
            8 * 60,
            madrid(2026, 11, 30, 18, 0),
        ),  # a full day ends at close
        (madrid(2026, 11, 30, 9, 0), 8 * 60 + 1, madrid(2026, 12, 1, 9, 1)),
        (madrid(2026, 12, 5, 12, 0), 1, madrid(2026, 12, 7, 9, 1)),  # from Saturday
        (madrid(2026, 12, 24, 17, 0), 120, madrid(2026, 12, 28, 10, 0)),  # over Christmas Day (Fri)
    ],
)
def test_add_business_time_counts_only_open_time(start, minutes, expected):
    assert OFFICE.add_business_time(start, minutes) == expected


def test_add_business_time_skips_a_midweek_holiday():
    # Monday Dec 7 17:00 + 2h: 1h on Monday, Tuesday Dec 8 is a holiday, 1h on Wednesday.
    assert OFFICE.add_business_time(madrid(2026, 12, 7, 17, 0), 120) == madrid(2026, 12, 9, 10, 0)


def test_friday_afternoon_plus_two_hours_lands_on_monday():
    # Dec 4 (Fri) 13:00 +2h: 1h until 14:00, then Monday Dec 7 09:00-10:00.
    assert OFFICE.add_business_time(madrid(2026, 12, 4, 13, 0), 120) == madrid(2026, 12, 7, 10, 0)


def test_add_business_time_accepts_a_timedelta_and_multi_week_spans():
    week = 4 * 8 * 60 + 5 * 60  # one working week in minutes
    start = madrid(2026, 11, 16, 9, 0)
    assert OFFICE.add_business_time(start, dt.timedelta(minutes=3 * week)) == madrid(2026, 12, 4, 14, 0)


def test_add_business_time_answers_in_the_time_zone_it_was_given():
    start = madrid(2026, 11, 30, 17, 30).astimezone(TOKYO)
    result = OFFICE.add_business_time(start, 60)
    assert result.tzinfo is TOKYO
    assert result == madrid(2026, 12, 1, 9, 30)


def test_adding_zero_is_the_start_itself_even_when_closed():
    start = madrid(2026, 12, 5, 12, 0)
    assert OFFICE.add_business_time(start, 0) == start


def test_negative_amounts_and_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="negative"):
        OFFICE.add_business_time(madrid(2026, 11, 30, 10, 0), -1)
    with pytest.raises(ValueError, match="timezone-aware"):
        OFFICE.add_business_time(dt.datetime(2026, 11, 30, 10, 0), 5)
    with pytest.raises(ValueError, match="timezone-aware"):
        OFFICE.is_open(dt.datetime(2026, 11, 30, 10, 0))


def test_next_open_is_now_when_open_and_the_next_opening_when_closed():
    assert OFFICE.next_open(madrid(2026, 11, 30, 10, 0)) == madrid(2026, 11, 30, 10, 0)
    assert OFFICE.next_open(madrid(2026, 11, 30, 14, 10)) == madrid(2026, 11, 30, 15, 0)
    assert OFFICE.next_open(madrid(2026, 12, 4, 14, 0)) == madrid(2026, 12, 7, 9, 0)
    local = OFFICE.to_local(OFFICE.next_open(dt.datetime(2026, 12, 7, 23, 0, tzinfo=UTC)))
    assert (local.date(), local.hour, local.tzinfo) == (dt.date(2026, 12, 9), 9, MADRID)


def test_business_time_between_counts_open_time_only():
    assert OFFICE.business_time_between(madrid(2026, 11, 30, 8, 0), madrid(2026, 12, 1, 10, 0)) == dt.timedelta(hours=9)
    assert OFFICE.business_time_between(madrid(2026, 12, 1, 10, 0), madrid(2026, 11, 30, 8, 0)) == dt.timedelta(0)


# --- daylight saving ----------------------------------------------------------------


def test_an_always_open_calendar_counts_real_time_across_the_spring_change():
    always = BusinessHours.always("Europe/Madrid")
    start = madrid(2026, 3, 29, 1, 30)  # clocks jump 02:00 -> 03:00
    assert always.add_business_time(start, 60) == madrid(2026, 3, 29, 3, 30)
    assert always.business_time_between(madrid(2026, 3, 29, 0, 0), madrid(2026, 3, 30, 0, 0)) == dt.timedelta(hours=23)


def test_an_always_open_calendar_counts_the_repeated_hour_in_autumn():
    always = BusinessHours.always("America/New_York")
    day = always.business_time_between(
        dt.datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK),
        dt.datetime(2026, 11, 2, 0, 0, tzinfo=NEW_YORK),
    )
    assert day == dt.timedelta(hours=25)


def test_office_hours_keep_their_local_times_across_a_dst_weekend():
    # Friday Mar 27 13:30 +1h: 30 min Friday, 30 min Monday Mar 30 (now UTC+2, not +1).
    result = OFFICE.add_business_time(madrid(2026, 3, 27, 13, 30), 60)
    assert result == madrid(2026, 3, 30, 9, 30)
    assert result.utcoffset() == dt.timedelta(hours=2)
    assert result.astimezone(UTC).hour == 7


def test_a_span_on_a_dst_day_is_its_real_length():
    nights = BusinessHours("Europe/Madrid", {"sun": ["00:00-06:00"]})
    # On Mar 29 00:00-06:00 local holds only 5 real hours.
    assert nights.business_time_between(madrid(2026, 3, 29, 0, 0), madrid(2026, 3, 29, 12, 0)) == dt.timedelta(hours=5)


def test_a_span_inside_the_skipped_hour_moves_forward_with_the_clocks():
    odd = BusinessHours("Europe/Madrid", {"sun": ["02:00-02:30", "10:00-11:00"]})
    # 02:00-02:30 does not exist on Mar 29; like the clocks, it happens at 03:00-03:30.
    assert odd.add_business_time(madrid(2026, 3, 29, 0, 0), 30) == madrid(2026, 3, 29, 3, 30)


def test_spans_made_to_overlap_by_the_skipped_hour_count_once():
    odd = BusinessHours("Europe/Madrid", {"sun": ["01:00-02:30", "03:00-04:00"]})
    # Real time: 01:00-03:30 CEST-shifted and 03:00-04:00 overlap; open 01:00 CET to 04:00 CEST = 2h.
    total = odd.business_time_between(madrid(2026, 3, 29, 0, 0), madrid(2026, 3, 29, 12, 0))
    assert total == dt.timedelta(hours=2)


# --- time zones and night shifts -------------------------------------------------------


def test_a_calendar_in_another_zone_opens_at_its_own_local_time():
    tokyo = BusinessHours("Asia/Tokyo", {d: ["09:00-18:00"] for d in WEEKDAYS[:5]})
    # Monday 09:00 in Tokyo is Monday 00:00 UTC.
    assert tokyo.next_open(dt.datetime(2026, 11, 29, 12, 0, tzinfo=UTC)) == dt.datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def test_a_night_shift_split_at_midnight_runs_through_the_night():
    nights = BusinessHours("UTC", {"mon": ["22:00-24:00"], "tue": ["00:00-06:00"]})
    start = dt.datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert nights.is_open(start)
    assert nights.is_open(dt.datetime(2026, 12, 1, 5, 59, tzinfo=UTC))
    assert nights.add_business_time(start, 120) == dt.datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def test_overlapping_spans_are_merged():
    bh = BusinessHours("UTC", {"mon": ["09:00-12:00", "11:00-13:00", ("13:00", "14:00")]})
    assert bh.weekly[0] == ((9 * 60, 14 * 60),)


def test_spans_accept_time_objects():
    assert parse_span((dt.time(9), dt.time(17, 30))) == (540, 1050)


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        (["9-17"], "not a time of day"),
        (["09:00"], "not a span"),
        (["17:00-09:00"], "must end after it starts"),
        (["24:00-24:00"], "only an end time may be 24:00"),
        (["09:00-25:00"], "not a time of day"),
        (["09:60-10:00"], "not a time of day"),
    ],
)
def test_bad_spans_are_rejected_with_a_reason(spans, message):
    with pytest.raises(InvalidBusinessHours, match=message):
        BusinessHours("UTC", {"mon": spans})


def test_bad_calendars_are_rejected_with_a_reason():
    with pytest.raises(InvalidBusinessHours, match="not a known time zone"):
        BusinessHours("Mars/Olympus", {"mon": ["09:00-17:00"]})
    with pytest.raises(InvalidBusinessHours, match="never open"):
        BusinessHours("UTC", {})
    with pytest.raises(InvalidBusinessHours, match="unknown weekday 'monday'"):
        BusinessHours("UTC", {"monday": ["09:00-17:00"]})  # type: ignore[dict-item]


def test_calendars_compare_by_value():
    assert BusinessHours.always() == BusinessHours("UTC", {d: ["00:00-24:00"] for d in WEEKDAYS})
    assert len({BusinessHours.always(), BusinessHours.always()}) == 1
    assert BusinessHours.always() != OFFICE


# --- properties ------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Madrid",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
]


@st.composite
def calendars(draw):
    weekly = {}
    for day in WEEKDAYS:
        edges = sorted(draw(st.sets(st.integers(0, 48), max_size=4)))
        spans = [
            (f"{a // 2:02d}:{a % 2 * 30:02d}", f"{b // 2:02d}:{b % 2 * 30:02d}")
            for a, b in zip(edges[::2], edges[1::2], strict=False)
            if b > a
        ]
        weekly[day] = spans
    if not any(weekly.values()):
        weekly["wed"] = [("10:00", "11:00")]
    holidays = draw(st.sets(st.dates(dt.date(2026, 1, 1), dt.date(2027, 12, 31)), max_size=20))
    return BusinessHours(draw(st.sampled_from(ZONES)), weekly, holidays)


starts = st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2027, 12, 31), timezones=st.just(UTC))
amounts = st.integers(1, 20_000)


@settings(max_examples=200, deadline=None)
@given(calendars(), starts, amounts)
def test_the_open_time_between_start_and_result_is_exactly_what_was_added(bh, start, minutes):
    end = bh.add_business_time(start, minutes)
    assert end > start
    assert bh.business_time_between(start, end) == dt.timedelta(minutes=minutes)


@settings(max_examples=200, deadline=None)
@given(calendars(), starts, amounts, amounts)
def test_adding_in_two_steps_equals_adding_at_once(bh, start, a, b):
    assert bh.add_business_time(bh.add_business_time(start, a), b) == bh.add_business_time(start, a + b)


@settings(max_examples=200, deadline=None)
@given(calendars(), starts, amounts)
def test_the_last_moment_before_the_result_is_open_time(bh, start, minutes):
    end = bh.add_business_time(start, minutes)
    assert bh.is_open(end - dt.timedelta(microseconds=1))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(ZONES), starts, amounts)
def test_an_always_open_calendar_adds_plain_elapsed_time(zone, start, minutes):
    assert BusinessHours.always(zone).add_business_time(start, minutes) == start + dt.timedelta(minutes=minutes)
