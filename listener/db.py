"""The async engine and sessions; one session per unit of work, the caller commits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from listener.kit.stems import sqlite_stems
from listener.reactions import SESSION_KEY, Reactions
from listener.settings import Settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a poll writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
    # The search index's triggers stem each mention's words with this (listener/kit/stems.py).
    dbapi_connection.create_function("luister_stems", 3, sqlite_stems, deterministic=True)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an engine for `url`, with SQLite tuned for a concurrent reader and writer."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def engine_from_settings(settings: Settings) -> AsyncEngine:
    """The engine for the configured database."""
    return make_engine(settings.database_url)


def make_sessionmaker(
    engine: AsyncEngine,
    *,
    reactions: Reactions | None = None,
    info: Mapping[str, object] | None = None,
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit and carry `reactions`.

    Ingest and re-tagging run the reactions of the session they are given; a factory built
    without them stores mentions and nothing else happens (migrations, benchmarks of storage).
    `info` carries the rest of what the wiring configured for every unit of work.
    """
    carried: dict[str, object] = dict(info or {})
    if reactions is not None:
        carried[SESSION_KEY] = reactions
    return async_sessionmaker(engine, expire_on_commit=False, info=carried)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that commits when the block ends and rolls back when it raises."""
    async with sessions() as session, session.begin():
        yield session
