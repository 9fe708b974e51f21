"""`luister backup` and `luister restore`: a backup restored into an empty database gives the
same mentions, queue and audit chain, on SQLite (online backup API) and PostgreSQL (pg_dump)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener.db import make_engine
from listener.models import AuditEntry, Mention, QueueItem
from listener.sources.ingest import ingest_mentions
from tests.conftest import fresh_database
from tests.factories import mention
from tests.listener.conftest import luister

pytestmark = pytest.mark.slow


async def _snapshot(engine: AsyncEngine) -> dict[str, list[Any]]:
    async with engine.connect() as conn:
        mentions = await conn.execute(
            select(Mention.id, Mention.external_id, Mention.text, Mention.created_at).order_by(
                Mention.id
            )
        )
        queue = await conn.execute(
            select(QueueItem.mention_id, QueueItem.status, QueueItem.version).order_by(
                QueueItem.mention_id
            )
        )
        audit = await conn.execute(
            select(AuditEntry.id, AuditEntry.seq, AuditEntry.hash, AuditEntry.after).order_by(
                AuditEntry.id
            )
        )
        return {
            "mentions": [tuple(r) for r in mentions],
            "queue": [tuple(r) for r in queue],
            "audit": [tuple(r) for r in audit],
        }


@pytest.fixture
async def history(sessions: async_sessionmaker[AsyncSession]) -> None:
    items = [mention(n, text=f"Post {n}: de fietsenstalling is vol ✓") for n in range(6)]
    async with sessions() as session, session.begin():
        ids = (await ingest_mentions(session, items, tag=False)).new_mention_ids
        await session.execute(
            update(QueueItem).where(QueueItem.mention_id == ids[0]).values(status="open", version=2)
        )
    for n in range(3):
        async with sessions() as session, session.begin():
            session.add(
                AuditEntry(
                    mention_id=ids[n],
                    entity="mention",
                    entity_id=str(ids[n]),
                    action="status",
                    actor="anna",
                    after={"status": "open"},
                )
            )


async def test_backup_then_restore_into_an_empty_database_gives_the_same_data(
    database_url: str,
    engine: AsyncEngine,
    history: None,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    original = await _snapshot(engine)
    assert len(original["mentions"]) == 6 and len(original["audit"]) == 3
    backup = tmp_path / "luister.backup"

    made = luister("backup", str(backup), "--json", env=cli_env)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["backend"] == kind
    again = luister("backup", str(backup), env=cli_env)
    assert again.returncode == 2 and "--force" in again.stderr

    # A new, empty database (on PostgreSQL named after the run, beside the test database).
    empty = await asyncio.to_thread(fresh_database, kind, tmp_path, "restored")
    into_empty = cli_env | {"LUISTER_DATABASE_URL": empty}
    unconfirmed = luister("restore", str(backup), env=into_empty)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello")
    refused = luister("restore", str(not_a_backup), "--yes", env=into_empty)
    assert refused.returncode == 2

    restored = luister("restore", str(backup), "--yes", "--json", env=into_empty)

    assert restored.returncode == 0, restored.stderr
    copy = make_engine(empty)
    try:
        assert await _snapshot(copy) == original
    finally:
        await copy.dispose()
    verified = luister("audit", "verify", env=into_empty)
    assert verified.returncode == 0, verified.stderr


@pytest.mark.backend("postgresql")
async def test_a_missing_pg_dump_is_a_clear_error(
    database_url: str, engine: AsyncEngine, cli_env: dict[str, str], tmp_path: Path
) -> None:
    done = luister("backup", str(tmp_path / "x.dump"), env=cli_env | {"PATH": str(tmp_path)})
    assert done.returncode == 1
    assert "pg_dump not found on PATH" in done.stderr
