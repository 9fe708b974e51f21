"""The audit log as a hash chain: sealed at commit, never forked by concurrent writers, and any
edited, inserted or removed entry is named by `luister audit verify`."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener import migrate
from listener.db import make_engine, make_sessionmaker
from listener.models import AuditChain, AuditEntry
from listener.models.audit_chain import entry_hash
from moderation.privacy.chain import prune_audit, verify_chain
from tests.conftest import TEST_SECRET, fresh_database
from tests.listener.conftest import luister

REVISION = "2c1041d476b7"


@pytest.fixture
def cli_env(database_url: str, engine: AsyncEngine, tmp_path: Path) -> dict[str, str]:
    """A `luister` process environment on the (emptied) test database."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    return clean | {
        "LUISTER_DATABASE_URL": database_url,
        "LUISTER_DATA_DIR": str(tmp_path / "data"),
        "LUISTER_SECRET_KEY": TEST_SECRET,
    }


def _entry(n: int, **values: object) -> AuditEntry:
    fields: dict[str, object] = {
        "entity": "mention",
        "entity_id": str(n),
        "mention_id": n,
        "action": "status",
        "actor": "anna",
        "before": {"status": "new", "score": 0.1 + 0.2},
        "after": {"status": "open", "reason": "Zoë's “quote”"},
    }
    return AuditEntry(**(fields | values))


async def _write(sessions: async_sessionmaker[AsyncSession], count: int) -> list[int]:
    """`count` entries, each committed on its own; their ids."""
    ids = []
    for n in range(count):
        async with sessions() as session, session.begin():
            entry = _entry(n)
            session.add(entry)
            await session.flush()
            ids.append(entry.id)
    return ids


def _stamp(engine: AsyncEngine, moment: datetime) -> datetime:
    """A timestamp as the models store it (SQLite keeps naive UTC)."""
    return moment if engine.dialect.name == "postgresql" else moment.replace(tzinfo=None)


async def _verify(sessions: async_sessionmaker[AsyncSession]) -> dict[str, object]:
    async with sessions() as session:
        return (await verify_chain(session)).as_dict()


async def test_entries_are_sealed_at_commit_in_one_unforked_chain_under_concurrency(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def writer(k: int) -> None:
        async with sessions() as session, session.begin():
            for n in range(5):
                session.add(_entry(100 * k + n))
                await session.flush()
                await asyncio.sleep(0.005)  # interleave with the other writers

    async with sessions() as session, session.begin():
        session.add(_entry(0))
    async with sessions() as session:
        await session.begin()
        session.add(_entry(1))
        await session.flush()
        await session.rollback()  # a rolled-back entry leaves no trace and no hole
    await asyncio.gather(*(writer(k) for k in range(1, 7)))

    async with sessions() as session:
        rows = (await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars().all()
        head = (await session.execute(select(AuditChain))).scalar_one()
    assert [r.seq for r in rows] == list(range(1, 32))
    assert all(r.hash and r.prev_hash for r in rows)
    assert [r.prev_id for r in rows[1:]] == [r.id for r in rows[:-1]]
    assert (head.head_seq, head.head_id, head.head_hash) == (31, rows[-1].id, rows[-1].hash)
    # Each writer's five entries are consecutive: the chain follows the order of commits.
    for k in range(1, 7):
        positions = [r.seq for r in rows if r.mention_id is not None and r.mention_id // 100 == k]
        assert positions == list(range(positions[0], positions[0] + 5))
    report = await _verify(sessions)
    assert report["ok"] is True and report["entries"] == 31


@pytest.mark.slow
@pytest.mark.parametrize("tampering", ["edit", "delete", "insert"])
async def test_audit_verify_names_the_edited_removed_or_inserted_entry(
    tampering: str,
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    cli_env: dict[str, str],
) -> None:
    ids = await _write(sessions, 5)
    intact = luister("audit", "verify", "--json", env=cli_env)
    assert intact.returncode == 0, intact.stderr
    assert json.loads(intact.stdout)["entries"] == 5

    async with engine.begin() as conn:
        if tampering == "edit":
            await conn.execute(
                text("UPDATE audit_log SET actor = 'mallory' WHERE id = :id"), {"id": ids[2]}
            )
            named = ids[2]
        elif tampering == "delete":
            await conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[1]})
            named = ids[1]
        else:
            await conn.execute(
                text(
                    "INSERT INTO audit_log (id, entity, entity_id, action, actor, created_at) "
                    "VALUES (:id, 'mention', '1', 'status', 'mallory', :at)"
                ),
                {"id": ids[-1] + 100, "at": _stamp(engine, datetime(2026, 1, 1, tzinfo=UTC))},
            )
            named = ids[-1] + 100
    broken = luister("audit", "verify", "--json", env=cli_env)

    assert broken.returncode == 1, broken.stderr
    problem = json.loads(broken.stdout)["problem"]
    kind = {"edit": "edited", "delete": "removed", "insert": "inserted"}[tampering]
    assert (problem["kind"], problem["entry_id"]) == (kind, named)
    assert f"#{named}" in broken.stderr


async def test_subtler_tampering_is_named_too(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    ids = await _write(sessions, 4)
    async with sessions() as session:
        rows = {r.id: r for r in (await session.execute(select(AuditEntry))).scalars()}
    # Edited and re-hashed: the next entry's link gives it away.
    second = rows[ids[1]]
    forged = entry_hash(
        _entry(99, id=second.id, created_at=second.created_at),
        seq=second.seq or 0,
        prev_id=second.prev_id,
        prev_hash=second.prev_hash or "",
    )
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE audit_log SET entity_id = '99', mention_id = 99, hash = :h WHERE id = :id"
            ),
            {"h": forged, "id": second.id},
        )
    problem = (await _verify(sessions))["problem"]
    assert isinstance(problem, dict)
    assert (problem["kind"], problem["entry_id"]) == ("edited", second.id)

    async with engine.begin() as conn:  # put it back, then remove the newest entry
        await conn.execute(
            text("UPDATE audit_log SET entity_id = '1', mention_id = 1, hash = :h WHERE id = :id"),
            {"h": second.hash, "id": second.id},
        )
    assert (await _verify(sessions))["ok"] is True
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[-1]})
    problem = (await _verify(sessions))["problem"]
    assert isinstance(problem, dict)
    assert (problem["kind"], problem["entry_id"]) == ("removed", ids[-1])


async def test_cutting_old_entries_keeps_the_rest_verifiable_and_the_checkpoint_guarded(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    async with sessions() as session, session.begin():
        for n, age in enumerate((1000, 900, 10, 5)):
            session.add(_entry(n, created_at=now - timedelta(days=age)))
    async with sessions() as session, session.begin():
        cut = await prune_audit(session, before=now - timedelta(days=365))
    assert (cut.deleted, cut.base_seq) == (2, 3)
    report = await _verify(sessions)
    assert report["ok"] is True and report["entries"] == 3  # two kept and the cut itself

    async with engine.begin() as conn:
        await conn.execute(text("UPDATE audit_chain SET base_seq = 4"))
    problem = (await _verify(sessions))["problem"]
    assert isinstance(problem, dict) and problem["kind"] in ("inserted", "head")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_migration_chains_the_entries_already_there(kind: str, tmp_path: Path) -> None:
    url = fresh_database(kind, tmp_path, "chain_backfill")
    config = migrate.alembic_config(url)
    before = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision
    assert isinstance(before, str)
    migrate.upgrade(url, before)

    async def _go() -> dict[str, object]:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                for n in range(3):
                    await conn.execute(
                        text(
                            "INSERT INTO audit_log (entity, entity_id, action, actor, before, "
                            "after, created_at) VALUES ('mention', :e, 'status', 'anna', "
                            ":b, :a, :at)"
                        ),
                        {
                            "e": str(n),
                            "b": json.dumps({"status": "new", "score": 0.30000000000000004}),
                            "a": json.dumps({"status": "open", "by": "Zoë"}),
                            "at": _stamp(engine, datetime(2026, 11, 20, 9, n, 0, 1234, tzinfo=UTC)),
                        },
                    )
            await asyncio.to_thread(migrate.upgrade, url)
            sessions = make_sessionmaker(engine)
            async with sessions() as session, session.begin():
                session.add(_entry(7))
            async with sessions() as session:
                return (await verify_chain(session)).as_dict()
        finally:
            await engine.dispose()

    report = asyncio.run(_go())
    assert report["ok"] is True, report
    assert report["entries"] == 4
