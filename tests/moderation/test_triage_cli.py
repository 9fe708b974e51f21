"""`luister import` scores what it stores; `luister triage …` rescoring, sweep and audit CSV."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener.models import QueueItem
from tests.conftest import TEST_SECRET
from tests.factories import mention
from tests.listener.conftest import luister


@pytest.fixture
def env(database_url: str, engine: AsyncEngine, tmp_path: Path) -> dict[str, str]:
    """A `luister` process environment on the (emptied) test database."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    return clean | {
        "LUISTER_DATABASE_URL": database_url,
        "LUISTER_DATA_DIR": str(tmp_path / "data"),
        "LUISTER_SECRET_KEY": TEST_SECRET,
    }


# Processes are slow to start; the same code runs in-process on PostgreSQL.
@pytest.mark.slow
@pytest.mark.backend("sqlite")
async def test_imported_mentions_are_scored_and_can_be_rescored_and_audited(
    env: dict[str, str], sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    lines = "\n".join(json.dumps(mention(n, text=f"Is the app down? #{n}")) for n in range(3))
    imported = luister("import", "-", "--json", env=env, stdin=lines + "\n")
    assert imported.returncode == 0, imported.stderr
    async with sessions() as session:
        explained = (await session.execute(select(QueueItem.priority_explain))).scalars().all()
    assert len(explained) == 3
    assert all('"down"' in e["reason"] for e in explained if e)

    rescored = luister("triage", "rescore", "--all", "--json", env=env)
    assert rescored.returncode == 0, rescored.stderr
    assert json.loads(rescored.stdout) == {"rescored": 3}

    exported = luister("triage", "audit", "--since", "2026-01-01", env=env)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.splitlines() == [
        "id,created_at,actor,actor_user_id,action,entity,entity_id,mention_id,before,after"
    ]
