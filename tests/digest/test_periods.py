"""Weeks and date ranges become the right UTC instants in any time zone, DST included."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from listener.digest.periods import Period, PeriodError, parse_period
from listener.digest.schedule import due_week
from listener.settings import Settings

AMS = "Europe/Amsterdam"


def test_an_iso_week_runs_from_local_monday_midnight_to_the_next() -> None:
    week = Period.week("2026-W47", AMS)
    assert (week.first_day, week.last_day) == (date(2026, 11, 16), date(2026, 11, 22))
    assert week.start == datetime(2026, 11, 15, 23, tzinfo=UTC)
    assert week.end == datetime(2026, 11, 22, 23, tzinfo=UTC)
    assert week.label == "2026-W47"
    assert week.shifted(-1).label == "2026-W46"


def test_the_week_of_the_dst_change_has_a_25_hour_sunday() -> None:
    week = Period.week("2026-W43", AMS)
    starts = week.day_starts()
    assert week.start == datetime(2026, 10, 18, 22, tzinfo=UTC)  # CEST, UTC+2
    assert week.end == datetime(2026, 10, 25, 23, tzinfo=UTC)  # CET, UTC+1
    assert (starts[-1] - starts[-2]).total_seconds() == 25 * 3600


def test_week_53_exists_only_in_long_years() -> None:
    assert Period.week("2026W53", AMS).first_day == date(2026, 12, 28)
    with pytest.raises(PeriodError, match="2027-W53"):
        Period.week("2027-W53", AMS)


@pytest.mark.parametrize("text", ["2026-47", "W47", "2026-W", "last week"])
def test_malformed_weeks_are_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(PeriodError, match="2026-W47"):
        Period.week(text, AMS)


def test_a_date_range_counts_whole_local_days_and_names_itself() -> None:
    span = Period.days(date(2026, 11, 16), date(2026, 11, 18), AMS)
    assert span.label == "2026-11-16..2026-11-18"
    assert span.length == 3
    assert span.shifted(-1).first_day == date(2026, 11, 13)
    assert Period.days(date(2026, 11, 16), date(2026, 11, 22), AMS).label == "2026-W47"


def test_bad_ranges_and_zones_are_refused() -> None:
    with pytest.raises(PeriodError, match="before it starts"):
        Period.days(date(2026, 11, 18), date(2026, 11, 16), AMS)
    with pytest.raises(PeriodError, match="at most"):
        Period.days(date(2026, 1, 1), date(2026, 12, 31), AMS)
    with pytest.raises(PeriodError, match="unknown time zone"):
        Period.week("2026-W47", "Mars/Olympus")
    with pytest.raises(PeriodError, match="not both"):
        parse_period(week="2026-W47", first=date(2026, 11, 1), last=None, timezone=AMS, now=NOW)


NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)


def test_without_a_period_the_last_full_week_is_meant() -> None:
    period = parse_period(week=None, first=None, last=None, timezone=AMS, now=NOW)
    assert period.label == "2026-W47"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 23, 6, 59, tzinfo=UTC), None),  # 07:59 in Amsterdam: not yet
        (datetime(2026, 11, 23, 7, 0, tzinfo=UTC), "2026-W47"),  # 08:00 local
        (datetime(2026, 11, 24, 6, 59, tzinfo=UTC), "2026-W47"),  # a worker that was down
        (datetime(2026, 11, 24, 7, 1, tzinfo=UTC), None),  # more than a day late: skip
    ],
)
def test_the_weekly_schedule_is_monday_eight_local_time(now: datetime, expected: str) -> None:
    week = due_week(now, settings=Settings(digest_timezone=AMS))
    assert (week.label if week else None) == expected


def test_the_schedule_day_and_hour_are_settings() -> None:
    friday = Settings(digest_timezone="America/New_York", digest_weekday=4, digest_hour=17)
    week = due_week(datetime(2026, 11, 27, 22, 30, tzinfo=UTC), settings=friday)  # 17:30 EST
    assert week is not None and week.label == "2026-W47"
    assert week.start == datetime(2026, 11, 16, 5, tzinfo=UTC)


def test_a_week_at_the_end_of_the_calendar_is_refused_not_a_crash() -> None:
    # 9999-W52 runs into year 10000, past what a date can hold.
    with pytest.raises(PeriodError, match="9999-W52"):
        Period.week("9999-W52", "Europe/Amsterdam")
