"""The demo's sandbox: set it up with the demo database, start it with `luister serve`.

`luister demo` seeds a sandbox with the samples' Mastodon statuses, writes it next to the
database (`luister-demo.db.sandbox.json`: that file is how a database says it is the demo's)
and points the demo's Mastodon sources at it with an access token it accepts. Whenever the API
is served on that database, the sandbox is served too, on 127.0.0.1 at the port it had (or a
free one, and the sources are pointed there), and the guarded HTTP client admits exactly that
address and port. Replies, likes, boosts and questions then go out through the ordinary outbox
and come back through the ordinary thread follow-up, which the sandbox calls as soon as the
community has answered (instead of waiting for the minute's follow-up job).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.sandbox.server import SandboxServer, bind
from api.sandbox.state import SandboxState, read_jsonl
from api.wiring import session_factory
from connectors.mastodon import MastodonConfig
from listener.db import engine_from_settings
from listener.kit.http import make_client
from listener.models import OutboxMessage, OutboxStatus, Source
from listener.settings import Settings
from listener.sources.credentials import open_config, seal_config
from listener.sources.service import resume
from moderation.outbox.followup import follow_thread

log = logging.getLogger(__name__)

STATE_SUFFIX = ".sandbox.json"
# How long the community takes to answer a question of ours.
ANSWER_DELAY_SECONDS = 3.0
# What the demo's Mastodon sources listen to on the sandbox.
HASHTAG = "fietsbaan"
MENTIONS_QUERY = "@fietsbaan"


def state_path(database_url: str) -> Path | None:
    """Where a SQLite database's sandbox is kept (None for other databases)."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    database = Path(str(url.database))
    return database.with_name(database.name + STATE_SUFFIX)


def new_state(path: Path | None, samples: Path | None) -> SandboxState:
    """A fresh sandbox, seeded with the Mastodon statuses of `samples`, saved at `path`."""
    state = SandboxState.create(path)
    if samples is not None:
        state.seed(read_jsonl(samples))
    state.save()
    return state


def sandbox_config(source: Source, url: str, token: str) -> MastodonConfig:
    """What one of the demo's Mastodon sources is set to: a tag, or a search for us."""
    if "mention" in source.name:
        return MastodonConfig(instance_url=url, query=MENTIONS_QUERY, access_token=token)
    return MastodonConfig(instance_url=url, hashtag=HASHTAG, access_token=token)


async def configure_sources(
    session: AsyncSession, *, settings: Settings, state: SandboxState, url: str
) -> list[int]:
    """Point every Mastodon source at the sandbox with its token and resume them; the ids."""
    sources = (
        await session.scalars(select(Source).where(Source.kind == "mastodon").order_by(Source.id))
    ).all()
    for source in sources:
        config = sandbox_config(source, url, state.token)
        source.config = seal_config(config, key=settings.secret_bytes())
        source.cursor = {}
        resume(source)
    state.source_ids = [s.id for s in sources]
    state.save()
    return state.source_ids


async def repoint_sources(
    session: AsyncSession, *, settings: Settings, source_ids: Iterable[int], url: str
) -> int:
    """Move the sandbox's sources to a new address (the sandbox got another port)."""
    moved = 0
    for source_id in source_ids:
        source = await session.get(Source, source_id)
        if source is None or source.kind != "mastodon":
            continue
        try:
            config = open_config(MastodonConfig, source.config, key=settings.secret_bytes())
        except ValueError:
            continue  # staff changed it into something else: leave it
        assert isinstance(config, MastodonConfig)
        if not config.instance_url.startswith("http://127.0.0.1:"):
            continue  # pointed elsewhere by staff since
        moved_config = config.model_copy(update={"instance_url": url})
        source.config = seal_config(moved_config, key=settings.secret_bytes())
        moved += 1
    return moved


def free_port() -> int:
    """A port free on 127.0.0.1 now (recorded so the sandbox can try it first later)."""
    sock = bind(0)
    try:
        return int(sock.getsockname()[1])
    finally:
        sock.close()


async def _in_session(settings: Settings, work: Any) -> Any:
    engine = engine_from_settings(settings)
    try:
        sessions = session_factory(settings, engine)
        async with sessions() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def set_up(settings: Settings, *, samples: Path | None) -> SandboxState | None:
    """Seed a sandbox next to the (SQLite) demo database and point its Mastodon sources at it."""
    path = state_path(settings.database_url)
    if path is None:
        return None
    path.unlink(missing_ok=True)
    state = new_state(path, samples)
    state.port = free_port()
    url = f"http://127.0.0.1:{state.port}"

    async def _configure(session: AsyncSession) -> list[int]:
        return await configure_sources(session, settings=settings, state=state, url=url)

    asyncio.run(_in_session(settings, _configure))
    return state


class PromptFollowUp:
    """Reads the thread of our status as soon as the community answered it (on the sandbox's
    loop, with its own engine and guarded client)."""

    def __init__(self, settings: Settings, *, attempts: int = 20, pause: float = 0.5) -> None:
        self.settings = settings
        self.attempts = attempts
        self.pause = pause
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._client: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()

    async def __call__(self, status_uri: str) -> None:
        """Follow the sent row whose status is `status_uri` (it may still be being recorded)."""
        if self._sessions is None:
            self._engine = engine_from_settings(self.settings)
            self._sessions = session_factory(self.settings, self._engine)
            self._client = make_client(self.settings)
        assert self._sessions is not None and self._client is not None
        for _ in range(self.attempts):
            async with self._sessions() as session:
                outbox_id = await session.scalar(
                    select(OutboxMessage.id).where(
                        OutboxMessage.external_id == status_uri,
                        OutboxMessage.status == OutboxStatus.SENT.value,
                    )
                )
            if outbox_id is not None:
                await self._follow(outbox_id)
                return
            await asyncio.sleep(self.pause)
        log.warning("no sent reply or question has the sandbox status %s", status_uri)

    async def _follow(self, outbox_id: int) -> None:
        """One thread read at a time; SQLite may be busy with the API's own writes: try again."""
        assert self._sessions is not None and self._client is not None
        async with self._lock:
            for attempt in range(1, 4):
                try:
                    followed = await follow_thread(
                        self._sessions,
                        outbox_id=outbox_id,
                        settings=self.settings,
                        client=self._client,
                    )
                except OperationalError:
                    if attempt == 3:
                        raise
                    await asyncio.sleep(attempt)
                    continue
                log.info("sandbox answer heard: outbox %s, %s new", outbox_id, followed.new)
                return

    async def close(self) -> None:
        """Close the engine and client."""
        if self._client is not None:
            await self._client.aclose()
        if self._engine is not None:
            await self._engine.dispose()


def start(
    settings: Settings, *, answer_delay: float = ANSWER_DELAY_SECONDS
) -> tuple[SandboxServer, Settings] | None:
    """Serve the database's sandbox if it has one; the server and the settings to serve the
    API with (the guarded client admits the sandbox's address and port, nothing more)."""
    path = state_path(settings.database_url)
    if path is None or not path.is_file():
        return None
    state = SandboxState.load(path)
    follow_up = PromptFollowUp(settings)  # told the final settings below, before any answer
    server = SandboxServer(
        state,
        port=state.port or 0,
        answer_delay=answer_delay,
        on_answer=follow_up,
        on_close=follow_up.close,
    ).start()
    if server.port != state.port:

        async def _repoint(session: AsyncSession) -> int:
            return await repoint_sources(
                session, settings=settings, source_ids=state.source_ids, url=server.url
            )

        try:
            asyncio.run(_in_session(settings, _repoint))
        except Exception:
            server.stop()
            raise
        state.port = server.port
        state.save()
    allowed = [*settings.http_allow_hosts, server.allow_entry]
    served = settings.model_copy(update={"http_allow_hosts": allowed})
    follow_up.settings = served
    return server, served


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@contextlib.contextmanager
def attached(settings: Settings) -> Iterator[Settings]:
    """For a command that reaches the sources (`luister sources poll`): the settings that admit
    the demo's sandbox, serving it meanwhile unless `luister serve` already does."""
    path = state_path(settings.database_url)
    if path is None or not path.is_file():
        yield settings
        return
    state = SandboxState.load(path)
    if state.port is None:
        yield settings
        return
    allowed = settings.model_copy(
        update={"http_allow_hosts": [*settings.http_allow_hosts, f"127.0.0.1:{state.port}"]}
    )
    if _listening(state.port):
        yield allowed  # the sandbox of a running `luister serve`
        return
    server = SandboxServer(state, port=state.port).start()
    try:
        # Another port would need the sources repointed: only `luister serve` does that.
        yield allowed if server.port == state.port else settings
    finally:
        server.stop()
