"""`column IN (ids)` for a batch of ids, spelled so a large batch stays cheap.

On PostgreSQL the ids travel as one array parameter (`column = ANY($1::BIGINT[])`): one
statement text whatever the batch size, so it is compiled and prepared once. An expanding
`IN (...)` renders one bound parameter per id on every execution (SQLAlchemy's post-compile
step costs about as much as the query for a batch of a thousand) and makes a new prepared
statement for every count of ids. SQLite keeps `IN (...)`, which it handles well.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, all_, any_, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession


def ids_in(session: AsyncSession, column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """`column` is one of `ids` (integers), as the session's database does it best."""
    values = list(ids)
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, values, type_=postgresql.ARRAY(BigInteger))
        return column == any_(array)  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def ids_not_in(session: AsyncSession, column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """`column` is none of `ids` (integers); see `ids_in`."""
    values = list(ids)
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, values, type_=postgresql.ARRAY(BigInteger))
        return column != all_(array)  # type: ignore[no-any-return]
    return column.not_in(values)  # type: ignore[no-any-return]
