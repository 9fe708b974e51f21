"""Small portable SQL pieces that differ between PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, literal_column, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.functions import func


def dialect_of(session: AsyncSession) -> str:
    """'postgresql' or 'sqlite'."""
    return session.get_bind().dialect.name


def upsert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that can take ON CONFLICT; both dialects spell it the same way."""
    return (postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert)(table)


def json_array_contains(dialect: str, column: Any, value: str) -> ColumnElement[bool]:
    """Whether a JSON array column holds `value` (JSONB @> on PostgreSQL, json_each on SQLite)."""
    if dialect == "postgresql":
        return type_coerce(column, JSONB).contains([value])
    each = func.json_each(column).table_valued("value")
    return exists(select(literal_column("1")).select_from(each).where(each.c.value == value))
