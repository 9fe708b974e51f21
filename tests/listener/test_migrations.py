"""Migrations run up, down and up again on both backends, and agree with the models."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from listener import migrate
from listener.db import make_engine
from listener.models import UNMANAGED_SCHEMA_NAMES, Base
from tests.conftest import fresh_database


async def _tables_and_diff(url: str) -> tuple[set[str], list[object]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:

            def _inspect(sync_conn: object) -> tuple[set[str], list[object]]:
                # Search indexes (FTS5 tables, an expression index) are made outside the ORM.
                tables = set(inspect(sync_conn).get_table_names()) - {"alembic_version"}
                tables -= UNMANAGED_SCHEMA_NAMES
                opts = {
                    "compare_type": True,
                    "include_name": lambda name, *_: name not in UNMANAGED_SCHEMA_NAMES,
                }
                context = MigrationContext.configure(sync_conn, opts=opts)
                return tables, compare_metadata(context, Base.metadata)

            return await conn.run_sync(_inspect)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_downgrade_upgrade_and_no_pending_changes(kind: str, tmp_path: Path) -> None:
    url = fresh_database(kind, tmp_path, "migrations")

    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    tables, _ = asyncio.run(_tables_and_diff(url))
    assert tables == set()

    migrate.upgrade(url)
    tables, diff = asyncio.run(_tables_and_diff(url))
    assert tables == set(Base.metadata.tables)
    assert diff == [], f"models and migrations disagree: {diff}"
