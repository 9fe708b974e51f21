"""The kernel's input types: one reading of dates and times, and text a database can store."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError

from listener.kit.datetimes import Instant, IsoWeek, LocalDay, local_zone_as, to_instant
from listener.kit.strings import CleanStr, bad_character, find_bad_text


class _In(BaseModel):
    at: Instant | None = None
    day: LocalDay | None = None
    week: IsoWeek | None = None
    text: CleanStr | None = None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-11-20", datetime(2026, 11, 19, 23, 0, tzinfo=UTC)),  # winter: UTC+1
        ("2026-07-20", datetime(2026, 7, 19, 22, 0, tzinfo=UTC)),  # summer: UTC+2
        ("2026-07-20T10:00", datetime(2026, 7, 20, 8, 0, tzinfo=UTC)),
        ("2026-07-20T10:00:00+00:00", datetime(2026, 7, 20, 10, 0, tzinfo=UTC)),
        ("2026-07-20T10:00:00-05:00", datetime(2026, 7, 20, 15, 0, tzinfo=UTC)),
        (1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ],
)
def test_dates_and_naive_times_are_local_and_come_back_in_utc(
    given: str | int, expected: datetime
) -> None:
    with local_zone_as("Europe/Amsterdam"):
        at = _In(at=given).at
    assert at == expected and at is not None and at.tzinfo == UTC


def test_the_zone_is_the_requests() -> None:
    with local_zone_as("America/New_York"):
        assert _In(at="2026-11-20").at == datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
    assert to_instant(date(2026, 11, 20), ZoneInfo("Asia/Tokyo")) == datetime(
        2026, 11, 19, 15, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "field",
    [
        {"at": "0001-01-01"},
        {"at": "0001-01-01T00:00:00+05:00"},
        {"at": "9999-12-31T23:59:59-05:00"},
        {"at": "3000-01-01T00:00:00Z"},
        {"day": "9999-12-31"},
        {"day": "1899-12-31"},
        {"week": "9999-W52"},
        {"week": "2999-W53"},  # 2999 has 52 ISO weeks
        {"week": "2026-W00"},
        {"week": "soon"},
    ],
)
def test_out_of_range_moments_days_and_weeks_are_validation_errors(field: dict[str, str]) -> None:
    with local_zone_as("Europe/Amsterdam"), pytest.raises(ValidationError) as caught:
        _In.model_validate(field)
    assert caught.value.errors()[0]["loc"] == (next(iter(field)),)


def test_the_edges_of_the_range_are_accepted() -> None:
    with local_zone_as("UTC"):
        edges = _In(at="1900-01-01", day="2999-12-31", week="2999-W52")
    assert edges.at == datetime(1900, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a\x00b", "NUL"),
        ("a\ud800b", "surrogate"),
        ("\udfff", "surrogate"),
        ("fine \U0001f600 é", None),
        ("C:\\u0000", None),
    ],
)
def test_text_with_nul_or_lone_surrogates_is_refused(text: str, problem: str | None) -> None:
    found = bad_character(text)
    assert (found is None) if problem is None else (problem in (found or ""))
    if problem is None:
        assert _In(text=text).text == text
    else:
        with pytest.raises(ValidationError, match=problem):
            _In(text=text)


def test_bad_text_is_found_anywhere_in_a_document_and_named_safely() -> None:
    deep: object = "ok"
    for _ in range(5000):  # deeper than any recursion limit
        deep = [deep]
    assert find_bad_text({"a": deep, "b": [{"c": 1}, {"d\x00": 2}]}) == (
        "b.1.d\\x00",
        "a NUL character (U+0000) in a key",
    )
    assert find_bad_text({"config": {"url": "x\ud800"}}) == (
        "config.url",
        "a lone surrogate (U+D800 to U+DFFF)",
    )
    assert find_bad_text({"a": ["b", 1, None, {"c": "d"}]}) is None
