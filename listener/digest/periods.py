"""Reporting periods: ISO weeks and date ranges in a time zone, as UTC instants for queries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_DAYS = 92
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


class PeriodError(ValueError):
    """The week, dates or time zone given do not make a usable period."""


def zone(name: str) -> ZoneInfo:
    """The time zone called `name`, or a PeriodError saying it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PeriodError(f"unknown time zone {name!r} (try Europe/Amsterdam)") from exc


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins in `tz` (correct across DST changes)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """Whole local days from `first_day` to `last_day` inclusive, in time zone `timezone`."""

    first_day: date
    last_day: date
    timezone: str
    is_week: bool = False

    @classmethod
    def week(cls, text: str, timezone: str) -> Period:
        """The ISO week written as 2026-W47 (Monday to Sunday in `timezone`)."""
        match = _WEEK.match(text.strip())
        if not match:
            raise PeriodError(f"{text!r} is not an ISO week; write it as 2026-W47")
        try:
            monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
            sunday = monday + timedelta(days=6)
        except (ValueError, OverflowError) as exc:  # 9999-W52's Sunday is past date.max
            raise PeriodError(f"{text!r}: {exc}") from exc
        zone(timezone)
        return cls(monday, sunday, timezone, is_week=True)

    @classmethod
    def days(cls, first: date, last: date, timezone: str) -> Period:
        """The local days `first` to `last`, both included (a Monday-to-Sunday span is a week)."""
        if last < first:
            raise PeriodError(f"the range ends ({last}) before it starts ({first})")
        length = (last - first).days + 1
        if length > MAX_DAYS:
            raise PeriodError(f"a digest covers at most {MAX_DAYS} days, not {length}")
        zone(timezone)
        is_week = length == 7 and first.isoweekday() == 1
        return cls(first, last, timezone, is_week=is_week)

    @classmethod
    def last_complete_week(cls, now: datetime, timezone: str) -> Period:
        """The latest ISO week that had ended by `now` in `timezone`."""
        today = now.astimezone(zone(timezone)).date()
        monday = today - timedelta(days=today.weekday()) - timedelta(days=7)
        return cls(monday, monday + timedelta(days=6), timezone, is_week=True)

    @property
    def tz(self) -> ZoneInfo:
        """The period's time zone."""
        return zone(self.timezone)

    @property
    def length(self) -> int:
        """How many days the period spans."""
        return (self.last_day - self.first_day).days + 1

    @property
    def label(self) -> str:
        """2026-W47 for a week, else 2026-11-16..2026-11-20."""
        if self.is_week:
            year, week, _ = self.first_day.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"

    @property
    def start(self) -> datetime:
        """The first instant of the period, in UTC."""
        return local_midnight(self.first_day, self.tz)

    @property
    def end(self) -> datetime:
        """The instant just after the period, in UTC (exclusive bound)."""
        return local_midnight(self.last_day + timedelta(days=1), self.tz)

    def day_list(self) -> list[date]:
        """Every local day of the period."""
        return [self.first_day + timedelta(days=i) for i in range(self.length)]

    def day_starts(self) -> list[datetime]:
        """UTC boundaries of the local days: one more than there are days."""
        tz = self.tz
        return [
            local_midnight(self.first_day + timedelta(days=i), tz) for i in range(self.length + 1)
        ]

    def shifted(self, windows: int) -> Period:
        """The period `windows` lengths later (negative: earlier), same length and zone."""
        step = timedelta(days=self.length * windows)
        return Period(self.first_day + step, self.last_day + step, self.timezone, self.is_week)

    def window_starts(self, back: int) -> list[datetime]:
        """UTC boundaries of the `back` preceding windows and this one: back + 2 instants."""
        return [self.shifted(-k).start for k in range(back, 0, -1)] + [self.start, self.end]


def parse_period(
    *,
    week: str | None,
    first: date | None,
    last: date | None,
    timezone: str,
    now: datetime,
) -> Period:
    """The period a user asked for: a week, a date range, or by default the last full week."""
    if week and (first or last):
        raise PeriodError("give either a week or a date range, not both")
    if week:
        return Period.week(week, timezone)
    if first or last:
        if not (first and last):
            raise PeriodError("a date range needs both a first and a last day")
        return Period.days(first, last, timezone)
    return Period.last_complete_week(now, timezone)
