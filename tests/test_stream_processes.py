"""Two `luister serve` processes on one PostgreSQL database: the live stream across processes.

A client on process A resumes with Last-Event-ID after changes made through process B and
misses nothing; an open stream does not keep A from shutting down.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from listener import migrate
from listener.db import make_engine
from listener.models import IntegrationEvent
from tests.conftest import fresh_database
from tests.connectors.servers import free_port
from tests.listener.test_stream import read_messages
from tests.test_processes import Process, _base_env, _seed, _wait_until_healthy, running

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


async def _event_ids_after(database_url: str, after: int) -> list[int]:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                select(IntegrationEvent.id).where(IntegrationEvent.id > after).order_by("id")
            )
            return list(found.scalars())
    finally:
        await engine.dispose()


def test_a_client_on_one_process_resumes_after_changes_made_through_another(
    tmp_path: Path,
) -> None:
    database_url = fresh_database("postgresql", tmp_path, "stream_processes")
    migrate.upgrade(database_url)
    token = asyncio.run(_seed(database_url))
    env = _base_env(tmp_path, database_url) | {"LUISTER_RUN_JOBS": "false"}
    port_a, port_b = free_port(), free_port()
    bearer = {"Authorization": f"Bearer {token}"}
    with (
        running("serve", "--host", "127.0.0.1", "--port", str(port_a), env=env, cwd=tmp_path) as a,
        running("serve", "--host", "127.0.0.1", "--port", str(port_b), env=env, cwd=tmp_path) as b,
    ):
        base_a, base_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        _wait_until_healthy(a, f"{base_a}/healthz")
        _wait_until_healthy(b, f"{base_b}/healthz")
        asyncio.run(_exercise(database_url, bearer, base_a, base_b, a))
        assert b.stop() == 0, b.output()
        assert "Traceback" not in "".join(a.stderr), a.output()


async def _exercise(
    database_url: str, bearer: dict[str, str], base_a: str, base_b: str, a: Process
) -> None:
    async with (
        httpx.AsyncClient(base_url=base_a, headers=bearer, timeout=30) as on_a,
        httpx.AsyncClient(base_url=base_b, headers=bearer, timeout=30) as on_b,
    ):
        [item] = (await on_b.get("/api/v1/mentions")).json()["items"]
        mention_id, version = item["id"], item["queue"]["version"]

        async def move(status: str) -> None:
            nonlocal version
            answer = await on_b.post(
                f"/api/v1/mentions/{mention_id}/status",
                json={"status": status, "version": version},
            )
            assert answer.status_code == 200, answer.text
            version = answer.json()["version"]

        # Live on A: a change through B arrives.
        async with on_a.stream("GET", "/api/v1/events/stream") as stream:
            assert stream.status_code == 200
            await asyncio.sleep(1)
            await move("open")
            [first] = await read_messages(stream, 1)
        assert first.event == "mention.updated"
        assert first.data["payload"]["mention"]["status"] == "open"

        # Disconnected: three changes through B, then resume on A from the last id seen.
        for status in ("escalated", "open", "resolved"):
            await move(status)
        missed = await _event_ids_after(database_url, first.id)
        assert len(missed) == 3
        resume = {"Last-Event-ID": str(first.id)}
        async with on_a.stream("GET", "/api/v1/events/stream", headers=resume) as stream:
            got = await read_messages(stream, 3)
            assert [m.id for m in got] == missed
            statuses = [m.data["payload"]["mention"]["status"] for m in got]
            assert statuses == ["escalated", "open", "resolved"]
            # Still live after the catch-up, and the open stream does not stop a shutdown.
            await move("open")
            [live] = await read_messages(stream, 1)
            assert live.id > missed[-1]
            assert a.stop() == 0, a.output()
