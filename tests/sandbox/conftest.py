"""The demo set up as `luister demo` sets it up, on the test database, with its sandbox served.

Part of the samples (Anna's thread on the Fietsbaan tag, two mentions of Fietsbaan, a Bluesky
post) is imported; the sandbox is seeded with the same file and the Mastodon sources point at
it. The guarded client admits the sandbox's address and port and nothing else on loopback.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.sandbox.demo import PromptFollowUp, configure_sources, new_state
from api.sandbox.server import SandboxServer
from api.sandbox.state import Status
from listener.models import Mention, Role, Source
from listener.settings import Settings
from listener.sources.importer import import_lines
from tests.conftest import TEST_SECRET, MakeStaff, Staff

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "mentions.jsonl"
ANNA_POST = "117449107046449748"  # Anna's post on the Fietsbaan tag, with two replies below
JOOST_POST = "117457002168344005"  # Joost's flat tyre, heard by the mentions search
CHRIS_POST = "117474154905663281"  # Chris asks for help with the app (English)


def sample_subset() -> list[bytes]:
    """Anna's thread, Joost's and Chris's mentions and the first Bluesky post of the samples."""
    wanted = {ANNA_POST, JOOST_POST, CHRIS_POST}
    lines: list[bytes] = []
    bluesky = False
    for line in SAMPLES.read_bytes().splitlines(keepends=True):
        item = json.loads(line)
        if item["platform"] == "mastodon" and (
            item["external_id"] in wanted or item.get("thread_external_id") == ANNA_POST
        ):
            lines.append(line)
        elif item["platform"] == "bluesky" and not bluesky:
            lines.append(line)
            bluesky = True
    return lines


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    """The sandbox platform on a free loopback port, seeded with the subset; quick answers."""
    samples = tmp_path / "samples.jsonl"
    samples.write_bytes(b"".join(sample_subset()))
    server = SandboxServer(new_state(None, samples), answer_delay=0.2).start()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, sandbox: SandboxServer) -> Settings:
    """The test settings, admitting exactly the sandbox; replies leave without an undo wait."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        redis_url=None,
        run_jobs=False,
        http_allow_hosts=[sandbox.allow_entry],
        rate_limit_requests=1_000_000,
        outbox_undo_seconds=0,
    )


@dataclass(frozen=True)
class Demo:
    """What the demo set-up made: mention ids by platform id, the sources by name."""

    mentions: dict[str, int]
    sources: dict[str, int]
    sandbox: SandboxServer

    def statuses_by_us(self) -> list[Status]:
        """What Fietsbaan posted in the sandbox, oldest first."""
        return self.sandbox.state.by(self.sandbox.state.me)


@pytest.fixture
async def demo(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, sandbox: SandboxServer
) -> Demo:
    """The samples imported and the Mastodon sources configured, as `luister demo` does."""
    report = await import_lines(sessions, sample_subset())
    assert not report.errors
    async with sessions() as session, session.begin():
        await configure_sources(session, settings=settings, state=sandbox.state, url=sandbox.url)
        # The test calls the jobs itself: nothing polls meanwhile.
        for source in (await session.scalars(select(Source))).all():
            source.enabled = False
    async with sessions() as session:
        rows = await session.execute(select(Mention.external_id, Mention.id))
        mentions = {external_id: mention_id for external_id, mention_id in rows}
        rows = await session.execute(select(Source.name, Source.id))
        sources = {name: source_id for name, source_id in rows}
    return Demo(mentions=mentions, sources=sources, sandbox=sandbox)


@pytest.fixture
async def prompt_follow_up(
    sandbox: SandboxServer, settings: Settings
) -> AsyncIterator[PromptFollowUp]:
    """The demo's hook: the sandbox reads the thread as soon as the community answered."""
    hook = PromptFollowUp(settings)
    sandbox.platform.on_answer = hook
    yield hook
    sandbox.platform.on_answer = None
    sandbox.run_coroutine(hook.close())


@pytest.fixture
async def mod(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.MODERATOR, username="mod")


async def eventually(check: Callable[[], object], *, within: float = 10.0) -> None:
    """Wait until `check()` (or what it awaits to) is truthy: the sandbox answers on its own
    thread."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s")
        await asyncio.sleep(0.05)
