"""Every way in is built from one wiring: the same reactions and the same background jobs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.embedded import EmbeddedRunner
from api.http.app import create_app
from api.wiring import JOBS
from api.worker import worker_settings
from listener.kit.http import make_client
from listener.models import OutboxMessage, QuestionAnswer, Role
from listener.settings import Settings
from tests.conftest import MakeStaff
from tests.connectors.fake_platforms import FakeMastodon
from tests.connectors.servers import LoopbackServer
from tests.listener.conftest import luister
from tests.moderation.outbox_helpers import mastodon_source


def _arq_job_names(settings: Settings) -> tuple[set[str], set[str]]:
    redis = SecretStr("redis://127.0.0.1:1/0")  # never connected to: only the settings are read
    worker = worker_settings(settings.model_copy(update={"redis_url": redis}))
    functions = {f.name for f in worker.functions}
    crons = {c.coroutine.__name__ for c in worker.cron_jobs}
    return functions, crons


async def test_arq_and_the_embedded_runner_run_the_same_jobs(
    engine: AsyncEngine, settings: Settings
) -> None:
    functions, crons = _arq_job_names(settings)
    app = create_app(settings.model_copy(update={"run_jobs": True}), engine=engine)

    async with app.router.lifespan_context(app):
        runner: EmbeddedRunner = app.state.runner
        embedded_tasks = {t.name for t in runner.jobs.tasks}
        embedded_periodic = {p.name for p in runner.jobs.periodic}

    assert (functions, crons) == (embedded_tasks, embedded_periodic)
    assert "poll_source_job" in functions and "sweep_due_sources" in crons
    assert len(functions) + len(crons) == len(JOBS.names)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No undo window: a question leaves on the next sweep."""
    return settings.model_copy(update={"outbox_undo_seconds": 0})


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(settings) as client:
        yield client


async def test_a_reply_to_our_question_imported_through_the_cli_is_linked_as_an_answer(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    make_staff: MakeStaff,
    guarded: httpx.AsyncClient,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    mod = await make_staff(Role.MODERATOR)
    with LoopbackServer("127.0.0.1") as server:
        fake = FakeMastodon(server)
        source_id = await mastodon_source(sessions, settings, fake)
        asked = await client.post(
            "/api/v1/questions",
            json={"body": "What should we fix first?", "source_id": source_id},
            headers=mod.headers,
        )
        runner = EmbeddedRunner(sessions, settings, JOBS)
        runner.client = guarded
        assert await runner.run_now("sweep_outbox") == 1
    assert asked.status_code == 201, asked.text
    async with sessions() as session:
        ours = (await session.execute(select(OutboxMessage))).scalar_one()
    assert ours.external_id
    answer = {
        "platform": "mastodon",
        "source": "mastodon-org",
        "external_id": "https://mastodon.example/users/anna/statuses/9001",
        "text": "A night mode, please",
        "created_at": "2026-11-30T10:00:00+00:00",
        "author": {"platform_id": "anna", "handle": "@anna@mastodon.example"},
        "reply_to_external_id": ours.external_id,
    }
    path = tmp_path / "answers.jsonl"
    path.write_text(json.dumps(answer) + "\n")

    imported = luister("import", str(path), "--json", env=cli_env)

    assert imported.returncode == 0, imported.stderr
    async with sessions() as session:
        linked = (await session.execute(select(QuestionAnswer))).scalars().all()
    assert [a.question_id for a in linked] == [asked.json()["question"]["id"]]
