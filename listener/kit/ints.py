"""The range of the integer columns (ids, versions) on every backend."""

from __future__ import annotations

from typing import Any

# PostgreSQL's `integer`; SQLite takes more, but an id beyond this can never exist.
MAX_DB_INT = 2**31 - 1


def is_db_int(value: Any, *, minimum: int = 0) -> bool:
    """Whether `value` is an int (not a bool) that fits an integer column."""
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= MAX_DB_INT
