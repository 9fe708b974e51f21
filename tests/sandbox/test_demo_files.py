"""The demo database's sandbox file: `luister serve` finds it, moves to a free port when its own
is taken, and `luister sources poll` serves it for its own duration."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.cli.main import app
from api.sandbox import demo
from api.sandbox.state import SandboxState
from connectors.mastodon import MastodonConfig
from listener import migrate
from listener.db import make_engine
from listener.models import Source
from listener.settings import Settings, get_settings
from listener.sources.credentials import open_config
from listener.sources.importer import import_lines
from tests.conftest import TEST_SECRET
from tests.sandbox.conftest import sample_subset

runner = CliRunner()


@pytest.fixture
def demo_settings(tmp_path: Path) -> Settings:
    """A migrated SQLite database with the sample subset imported and its sandbox set up."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'luister-demo.db'}"
    migrate.upgrade(url)
    settings = Settings(
        database_url=url,
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        redis_url=None,
        run_jobs=False,
    )

    async def _import() -> None:
        from api.wiring import session_factory

        engine = make_engine(url)
        try:
            await import_lines(session_factory(settings, engine), sample_subset())
        finally:
            await engine.dispose()

    asyncio.run(_import())
    samples = tmp_path / "samples.jsonl"
    samples.write_bytes(b"".join(sample_subset()))
    assert demo.set_up(settings, samples=samples) is not None
    return settings


def _instance_urls(settings: Settings) -> dict[str, str]:
    async def _read() -> dict[str, str]:
        engine = make_engine(settings.database_url)
        try:
            async with engine.connect() as connection:
                rows = (
                    await connection.execute(
                        select(Source.name, Source.config).where(Source.kind == "mastodon")
                    )
                ).all()
        finally:
            await engine.dispose()
        found = {}
        for name, stored in rows:
            config = open_config(MastodonConfig, stored, key=settings.secret_bytes())
            assert isinstance(config, MastodonConfig) and config.access_token is not None
            found[name] = config.instance_url
        return found

    return asyncio.run(_read())


def test_the_demo_file_names_the_port_and_the_sources_point_there(demo_settings: Settings) -> None:
    path = demo.state_path(demo_settings.database_url)
    assert path is not None and path.name == "luister-demo.db.sandbox.json"
    state = SandboxState.load(path)

    urls = _instance_urls(demo_settings)

    assert set(urls) == {"mastodon-fietsbaan-tag", "mastodon-mentions"}
    assert set(urls.values()) == {f"http://127.0.0.1:{state.port}"}
    assert json.loads(path.read_text())["token"] == state.token


def test_serve_moves_the_sandbox_and_its_sources_when_the_port_is_taken(
    demo_settings: Settings,
) -> None:
    path = demo.state_path(demo_settings.database_url)
    assert path is not None
    recorded = SandboxState.load(path).port
    assert recorded is not None
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", recorded))
        squatter.listen()
        started = demo.start(demo_settings, answer_delay=0.1)
    assert started is not None
    server, served = started
    try:
        assert server.port != recorded
        assert set(_instance_urls(demo_settings).values()) == {server.url}
        assert SandboxState.load(path).port == server.port
        assert served.http_allow_hosts == [f"127.0.0.1:{server.port}"]
    finally:
        server.stop()


@pytest.fixture
def cli_on(demo_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LUISTER_DATABASE_URL", demo_settings.database_url)
    monkeypatch.setenv("LUISTER_DATA_DIR", str(demo_settings.data_dir))
    monkeypatch.setenv("LUISTER_SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_poll_from_the_command_line_reaches_the_sandbox_without_serve(
    demo_settings: Settings, cli_on: None
) -> None:
    async def _tag_source() -> int:
        engine = make_engine(demo_settings.database_url)
        try:
            async with engine.connect() as connection:
                found = await connection.scalar(
                    select(Source.id).where(Source.name == "mastodon-fietsbaan-tag")
                )
        finally:
            await engine.dispose()
        assert isinstance(found, int)
        return found

    result = runner.invoke(app, ["sources", "poll", str(asyncio.run(_tag_source()))])

    assert result.exit_code == 0, result.output
    assert '{"new": 0, "updated": 0, "unchanged": 0, "rejected": 0}' in result.output
