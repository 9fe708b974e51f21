"""Shared fixtures: every database test runs on SQLite and on PostgreSQL, isolated per test."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener import migrate
from listener.db import make_engine
from listener.models import Base, Role, Scope
from listener.settings import Settings

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("LUISTER_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("LUISTER_TEST_REDIS_URL")
TEST_SECRET = "test-secret-that-is-long-enough-for-production-0123456789"


def _worker() -> str:
    # LUISTER_TEST_RUN_ID keeps two suites running at once on one server out of each other's way.
    run = re.sub(r"\W", "", os.environ.get("LUISTER_TEST_RUN_ID", ""))
    worker = re.sub(r"\W", "", os.environ.get("PYTEST_XDIST_WORKER", "main")) or "main"
    return f"{run}_{worker}" if run else worker


def _missing_service(name: str, variable: str) -> None:
    message = f"{name} not configured: set {variable}"
    if IN_CI:
        pytest.fail(f"{message} (under CI=true the {name} suites must run)")
    pytest.skip(message)


async def _recreate_pg_database(admin_url: str, name: str) -> str:
    """Create an empty database `name` next to the one in `admin_url`; return its URL."""
    url = make_url(admin_url)
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def fresh_database(kind: str, tmp_dir: Path, label: str) -> str:
    """The URL of a new, empty database of `kind` (sqlite or postgresql)."""
    if kind == "sqlite":
        path = tmp_dir / f"{label}.db"
        path.unlink(missing_ok=True)
        return f"sqlite+aiosqlite:///{path}"
    if not PG_URL:
        _missing_service("PostgreSQL", "LUISTER_TEST_DATABASE_URL")
    assert PG_URL is not None
    try:
        return asyncio.run(_recreate_pg_database(PG_URL, f"luister_{label}_{_worker()}"))
    except OSError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database per backend, shared by the session's tests (emptied between them)."""
    url = fresh_database(request.param, tmp_path_factory.mktemp("db"), "test")
    migrate.upgrade(url)
    return url


async def _empty_tables(engine: AsyncEngine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty, migrated database."""
    engine = make_engine(database_url)
    await _empty_tables(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine, settings: Settings) -> async_sessionmaker[AsyncSession]:
    """A session factory on the test database, wired as every way in wires it."""
    from api.wiring import session_factory

    return session_factory(settings, engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One session; the test commits what it wants others to see."""
    async with sessions() as session:
        yield session


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test database, with a fixed secret."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        redis_url=None,
        run_jobs=False,
        http_allow_hosts=["127.0.0.1"],
        rate_limit_requests=1_000_000,  # the limit runs (headers) but never refuses; see rate tests
    )


@dataclass(frozen=True)
class Staff:
    """A user created for a test, with a token to call the API as them."""

    id: int
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """Authorization headers for this user's token."""
        return {"Authorization": f"Bearer {self.token}"}


MakeStaff = Callable[..., Awaitable[Staff]]


@pytest.fixture
def make_staff(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> MakeStaff:
    """Create a user with `role` and a token (optionally narrowed to `scopes`)."""
    from listener.accounts.service import create_token, create_user

    async def _make(
        role: Role = Role.MODERATOR,
        *,
        username: str | None = None,
        scopes: list[Scope] | None = None,
    ) -> Staff:
        name = username or f"{role.value}-{os.urandom(3).hex()}"
        async with sessions() as session, session.begin():
            user = await create_user(session, username=name, password="correct horse", role=role)
            issued = await create_token(
                session, user=user, name="test", key=settings.secret_bytes(), scopes=scopes
            )
        return Staff(id=user.id, username=name, token=issued.token)

    return _make


@pytest.fixture
async def client(engine: AsyncEngine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the real ASGI app on the test database."""
    from api.http.app import create_app

    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://luister.test") as client:
        yield client


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis; under CI=true its absence fails the run."""
    if not REDIS_URL:
        _missing_service("Redis", "LUISTER_TEST_REDIS_URL")
    assert REDIS_URL is not None
    yield REDIS_URL


# -- backends: which suites ran, and under CI=true none may be skipped or empty ------------------

SERVICE_BACKENDS = ("postgresql", "redis")
BACKEND_PARAMS = ("database_url", "kind")


def backends_of(item: pytest.Item) -> list[str]:
    """The backends a test runs on: its database parameter, and redis when it needs Redis."""
    found: list[str] = []
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    for name in BACKEND_PARAMS:
        if params.get(name) in ("sqlite", "postgresql"):
            found.append(params[name])
    if item.get_closest_marker("postgres") and "postgresql" not in found:
        found.append("postgresql")
    if item.get_closest_marker("redis") or "redis_url" in getattr(item, "fixturenames", ()):
        found.append("redis")
    return found or ["none"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect tests marked for another backend; label each test with its backends."""
    kept, dropped = [], []
    for item in items:
        backends = backends_of(item)
        wanted = item.get_closest_marker("backend")
        if wanted is not None and not set(wanted.args) & set(backends):
            dropped.append(item)
            continue
        # user_properties travel with reports to the xdist controller, which does the counting.
        item.user_properties.append(("backends", ",".join(backends)))
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@dataclass
class BackendTally:
    """Outcome per test id, worst outcome wins (failed > skipped > passed)."""

    outcomes: dict[str, dict[str, str]]

    def record(self, report: pytest.TestReport) -> None:
        backends = dict(report.user_properties).get("backends")
        if not isinstance(backends, str):
            return
        if report.failed:
            outcome = "failed"
        elif report.skipped:
            outcome = "skipped"
        elif report.when == "call":
            outcome = "passed"
        else:
            return
        rank = {"passed": 0, "skipped": 1, "failed": 2}
        for backend in backends.split(","):
            seen = self.outcomes.setdefault(backend, {})
            if rank[outcome] >= rank.get(seen.get(report.nodeid, "passed"), 0):
                seen[report.nodeid] = outcome

    def counts(self, backend: str) -> dict[str, int]:
        values = list(self.outcomes.get(backend, {}).values())
        return {k: values.count(k) for k in ("passed", "failed", "skipped")}

    def problems(self, *, full_run: bool) -> list[str]:
        """Why a CI run must fail: a service suite skipped anything, or ran nothing."""
        found = []
        for backend in SERVICE_BACKENDS:
            counts = self.counts(backend)
            if counts["skipped"]:
                found.append(f"{counts['skipped']} {backend} test(s) skipped")
            if counts["passed"] + counts["failed"] == 0 and (full_run or backend in self.outcomes):
                found.append(f"no {backend} test ran")
        return found


_TALLY = BackendTally(outcomes={})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count outcomes per backend (on the xdist controller, reports of every worker arrive)."""
    _TALLY.record(report)


def _is_full_run(config: pytest.Config) -> bool:
    return not config.option.file_or_dir and not config.option.keyword


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true a skipped or empty PostgreSQL or Redis suite fails the run."""
    if hasattr(session.config, "workerinput") or not IN_CI:
        return
    if _TALLY.problems(full_run=_is_full_run(session.config)) and exitstatus in (0, 5):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print how many tests ran on each backend, and why CI fails when a service suite did not."""
    if hasattr(config, "workerinput"):
        return
    terminalreporter.section("tests per backend")
    for backend in ("sqlite", *SERVICE_BACKENDS, "none"):
        counts = _TALLY.counts(backend)
        terminalreporter.write_line(
            f"{backend}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped"
        )
    problems = _TALLY.problems(full_run=_is_full_run(config))
    if IN_CI and problems:
        terminalreporter.write_line(
            "CI=true: the PostgreSQL and Redis suites must run in full: " + "; ".join(problems),
            red=True,
        )
