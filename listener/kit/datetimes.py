"""One way to read a moment or a day a user typed, in the organisation's time zone.

Every datetime a request carries goes through `Instant`: an aware time is taken as given, a
naive one (`2026-11-20T09:00`) is local time in the organisation's zone, a date alone
(`2026-11-20`) is the start of that day there. The result is an aware UTC datetime, as the
database stores them. Moments outside [`EARLIEST`, `LATEST`) are refused, so arithmetic on them
(a day later, a week of baseline before) can never leave the range Python and the databases hold.

The zone is `LUISTER_DIGEST_TIMEZONE`: the API sets it per request (`local_zone_as`); outside a
request (CLI, jobs) the process settings give it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # exclusive
FIRST_DAY = EARLIEST.date()
LAST_DAY = (LATEST - timedelta(days=1)).date()

_DATE_ONLY = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*$")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_zone: ContextVar[ZoneInfo | None] = ContextVar("luister_local_zone", default=None)


def local_zone() -> ZoneInfo:
    """The organisation's time zone: the request's, else the process settings'."""
    zone = _zone.get()
    if zone is not None:
        return zone
    from listener.settings import get_settings

    return ZoneInfo(get_settings().digest_timezone)


@contextmanager
def local_zone_as(zone: ZoneInfo | str) -> Iterator[None]:
    """Read naive times and dates in `zone` inside the block."""
    token = _zone.set(ZoneInfo(zone) if isinstance(zone, str) else zone)
    try:
        yield
    finally:
        _zone.reset(token)


def _out_of_range(what: str) -> PydanticCustomError:
    return PydanticCustomError(
        "datetime_range",
        "{what} must lie in the years {first} to {last}",
        {"what": what, "first": EARLIEST.year, "last": LATEST.year - 1},
    )


def to_instant(value: datetime | date, zone: ZoneInfo | None = None) -> datetime:
    """`value` as an aware UTC datetime; naive times and dates are local to `zone`.

    Raises PydanticCustomError (a ValueError) when the moment lies outside the accepted range.
    """
    zone = zone or local_zone()
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    try:
        moment = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise _out_of_range("the time") from exc
    if not EARLIEST <= moment < LATEST:
        raise _out_of_range("the time")
    return moment


def check_day(day: date) -> date:
    """`day` when it lies in the accepted years (so its start, end and neighbours exist)."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _out_of_range("the day")
    return day


def check_week(text: str) -> str:
    """`text` when it is an ISO week (2026-W47) whose days all fit the range."""
    match = _WEEK.match(text.strip())
    if not match:
        raise PydanticCustomError("iso_week", "write the week as 2026-W47")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as exc:
        detail = {"text": text, "error": str(exc)}
        raise PydanticCustomError("iso_week", "{text} is not a week: {error}", detail) from exc
    if not FIRST_DAY <= monday <= LAST_DAY - timedelta(days=6):
        raise _out_of_range("the week")
    return text


def _date_only(value: Any) -> Any:
    # "2026-11-20" means the start of that day locally, not midnight UTC.
    if isinstance(value, str) and (match := _DATE_ONLY.match(value)):
        try:
            return to_instant(date.fromisoformat(match[1]))
        except ValueError as exc:
            if isinstance(exc, PydanticCustomError):
                raise
            raise PydanticCustomError("date_from_datetime_parsing", str(exc)) from exc
    if isinstance(value, date) and not isinstance(value, datetime):
        return to_instant(value)
    return value


def _instant(value: datetime) -> datetime:
    # A wrapper: pydantic would take to_instant's second parameter for its validation info.
    return to_instant(value)


Instant = Annotated[datetime, BeforeValidator(_date_only), AfterValidator(_instant)]
"""A moment a user gives: aware UTC; naive times and bare dates are in the organisation's zone."""

LocalDay = Annotated[date, AfterValidator(check_day)]
"""A calendar day a user gives, within the range whose start and end instants exist."""

IsoWeek = Annotated[str, AfterValidator(check_week)]
"""An ISO week such as 2026-W47, within the range."""
