"""Business hours: when a team is at work, and time arithmetic that counts only that.

A calendar is a time zone, the open spans of each weekday in local wall time, and
holidays (local dates, closed all day). All arithmetic is done on real elapsed time in
UTC, so nights, weekends, holidays and daylight-saving changes all come out right: an
open span is the real time between its local start and end on that date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)

UTC = dt.UTC
_DAY_MINUTES = 24 * 60
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")

# A span as given: "09:00-17:00", ("09:00", "17:00") or (time(9), time(17)).
SpanInput = str | tuple[str | dt.time, str | dt.time]
# A segment of open time in real (UTC) time: [start, end).
Segment = tuple[dt.datetime, dt.datetime]


class InvalidBusinessHours(ValueError):
    """The calendar cannot be built; the message says which part is wrong."""


def parse_clock(value: str | dt.time, *, allow_24: bool) -> int:
    """Minutes since local midnight for "HH:MM" ("24:00" allowed as an end)."""
    if isinstance(value, dt.time):
        return value.hour * 60 + value.minute
    match = _CLOCK.match(value.strip())
    if not match:
        raise InvalidBusinessHours(f"{value!r} is not a time of day; expected HH:MM, e.g. 09:00")
    minutes = int(match[1]) * 60 + int(match[2])
    if minutes > _DAY_MINUTES or (minutes == _DAY_MINUTES and not allow_24):
        raise InvalidBusinessHours(f"{value!r}: only an end time may be 24:00")
    return minutes


def parse_span(value: SpanInput) -> tuple[int, int]:
    """("09:00", "17:00") or "09:00-17:00" as (start, end) minutes since midnight."""
    if isinstance(value, str):
        start_text, sep, end_text = value.partition("-")
        if not sep:
            raise InvalidBusinessHours(f"{value!r} is not a span; expected HH:MM-HH:MM, e.g. 09:00-17:00")
        start_value: str | dt.time = start_text
        end_value: str | dt.time = end_text
    else:
        start_value, end_value = value
    start = parse_clock(start_value, allow_24=False)
    end = parse_clock(end_value, allow_24=True)
    if end <= start:
        raise InvalidBusinessHours(
            f"{value!r}: a span must end after it starts; split a night shift at midnight "
            '(e.g. "22:00-24:00" and "00:00-06:00" on the next day)'
        )
    return start, end


def _merge(spans: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def zone(name: str) -> ZoneInfo:
    """The time zone called `name`; InvalidBusinessHours if there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidBusinessHours(f"{name!r} is not a known time zone (e.g. Europe/Madrid, UTC)") from None


def _aware(value: dt.datetime, what: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


class BusinessHours:
    """A weekly calendar of open time in one time zone, minus holidays."""

    __slots__ = ("timezone", "weekly", "holidays", "_zone")

    def __init__(
        self,
        timezone: str,
        weekly: Mapping[Weekday, Sequence[SpanInput]],
        holidays: Iterable[dt.date] = (),
    ) -> None:
        unknown = sorted(set(weekly) - set(WEEKDAYS))
        if unknown:
            raise InvalidBusinessHours(f"unknown weekday {unknown[0]!r}; expected one of {', '.join(WEEKDAYS)}")
        self.timezone = timezone
        self._zone = zone(timezone)
        # Index 0 is Monday, as in date.weekday().
        self.weekly: tuple[tuple[tuple[int, int], ...], ...] = tuple(_merge(parse_span(s) for s in weekly.get(day, ())) for day in WEEKDAYS)
        self.holidays: frozenset[dt.date] = frozenset(holidays)
        if not any(self.weekly):
            raise InvalidBusinessHours("business hours are never open; give at least one span")

    @classmethod
    def always(cls, timezone: str = "UTC") -> BusinessHours:
        """Open around the clock, every day (the calendar of a 24x7 SLA)."""
        return cls(timezone, {day: [("00:00", "24:00")] for day in WEEKDAYS})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessHours):
            return NotImplemented
        return (self.timezone, self.weekly, self.holidays) == (
            other.timezone,
            other.weekly,
            other.holidays,
        )

    def __hash__(self) -> int:
        return hash((self.timezone, self.weekly, self.holidays))

    def __repr__(self) -> str:
        return f"BusinessHours({self.timezone!r}, weekly={self.weekly!r}, holidays={sorted(self.holidays)!r})"

    # --- the calendar ---------------------------------------------------------------

    def _day_segments(self, day: dt.date) -> list[Segment]:
        if day in self.holidays:
            return []
        segments = []
        for start, end in self.weekly[day.weekday()]:
            seg_start = self._local(day, start)
            seg_end = self._local(day, end)
            if seg_end > seg_start:
                segments.append((seg_start, seg_end))
        return segments

    def _local(self, day: dt.date, minutes: int) -> dt.datetime:
        day = day + dt.timedelta(days=minutes // _DAY_MINUTES)
        minutes %= _DAY_MINUTES
        wall = dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=self._zone)
        return wall.astimezone(UTC)

    def open_segments(self, start: dt.datetime) -> Iterator[Segment]:
        """Open time from `start` on, as consecutive UTC [start, end) segments, forever."""
        start = _aware(start, "start")
        day = start.astimezone(self._zone).date() - dt.timedelta(days=1)
        # A local time inside a skipped DST hour moves forward with the clocks (as
        # zoneinfo's fold=0 does), which can make two spans overlap in real time; each
        # segment starts where the last one ended, so no moment counts twice.
        done = start
        while True:
            for seg_start, seg_end in self._day_segments(day):
                if seg_end > done:
                    yield max(seg_start, done), seg_end
                    done = seg_end
            day += dt.timedelta(days=1)

    def is_open(self, at: dt.datetime) -> bool:
        """Whether `at` falls in open time (a span's start is open, its end is not)."""
        at = _aware(at, "at")
        local_day = at.astimezone(self._zone).date()
        for day in (local_day - dt.timedelta(days=1), local_day):
            if any(s <= at < e for s, e in self._day_segments(day)):
                return True
        return False

    def to_local(self, at: dt.datetime) -> dt.datetime:
        """`at` in the calendar's time zone (to show customers and agents)."""
        return _aware(at, "at").astimezone(self._zone)

    def next_open(self, at: dt.datetime) -> dt.datetime:
        """`at` itself when open, else the moment business hours next open."""
        return next(self.open_segments(at))[0].astimezone(at.tzinfo)

    def add_business_time(self, start: dt.datetime, minutes: float | dt.timedelta) -> dt.datetime:
        """The moment `minutes` of open time after `start` (in `start`'s time zone)."""
        amount = minutes if isinstance(minutes, dt.timedelta) else dt.timedelta(minutes=minutes)
        if amount < dt.timedelta(0):
            raise ValueError("cannot add a negative amount of business time")
        if amount == dt.timedelta(0):
            return start
        reached = advance(self.open_segments(start), amount)
        assert reached is not None  # open_segments never ends
        return reached.astimezone(start.tzinfo)

    def business_time_between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Open time elapsed from `start` to `end` (zero when end is not after start)."""
        end = _aware(end, "end")
        total = dt.timedelta(0)
        for seg_start, seg_end in self.open_segments(start):
            if seg_start >= end:
                break
            total += min(seg_end, end) - seg_start
        return total


def advance(segments: Iterable[Segment], amount: dt.timedelta) -> dt.datetime | None:
    """Walk `amount` of time through ordered segments; None if they run out first."""
    remaining = amount
    for seg_start, seg_end in segments:
        available = seg_end - seg_start
        if remaining <= available:
            return seg_start + remaining
        remaining -= available
    return None
