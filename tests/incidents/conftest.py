"""The demo samples loaded once per module and backend, with incidents detected on them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.cli.accounts import add_own_accounts
from api.cli.main import DEMO_OWN_ACCOUNTS
from api.wiring import session_factory
from listener.accounts.service import create_token, create_user
from listener.db import make_engine
from listener.models import Incident, Role
from listener.settings import Settings
from listener.sources.importer import import_lines
from moderation.incidents.service import detect_incidents
from tests.conftest import TEST_SECRET
from tests.conftest import _empty_tables as empty_tables

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "mentions.jsonl"


@dataclass
class Demo:
    """The loaded demo: its sessions, settings, an API client and a moderator's token."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    api: httpx.AsyncClient
    headers: dict[str, str]
    moderator_id: int

    async def outage(self) -> Incident:
        """The incident that holds the 18 November outage."""
        async with self.sessions() as session:
            rows = (await session.execute(select(Incident))).scalars().all()
        found = [i for i in rows if i.started_at.date().isoformat() == "2026-11-18"]
        assert len(found) == 1, [(i.title, i.started_at) for i in rows]
        return found[0]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    """The samples imported as `luister demo` imports them, then one detection run."""
    from api.http.app import create_app

    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("incidents"),
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        redis_url=None,
        run_jobs=False,
        http_allow_hosts=["127.0.0.1"],
        rate_limit_requests=1_000_000,
        outbox_undo_seconds=0,
    )
    engine = make_engine(database_url)
    await empty_tables(engine)
    sessions = session_factory(settings, engine)
    async with sessions() as session, session.begin():
        await add_own_accounts(session, settings=settings, accounts=DEMO_OWN_ACCOUNTS)
        user = await create_user(
            session, username="mod", password="correct horse", role=Role.MODERATOR
        )
        issued = await create_token(session, user=user, name="t", key=settings.secret_bytes())
    report = await import_lines(sessions, SAMPLES.read_bytes().splitlines())
    assert not report.errors
    async with sessions() as session, session.begin():
        await detect_incidents(session)
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://luister.test") as api:
        yield Demo(
            engine=engine,
            sessions=sessions,
            settings=settings,
            api=api,
            headers={"Authorization": f"Bearer {issued.token}"},
            moderator_id=user.id,
        )
    await empty_tables(engine)
    await engine.dispose()
