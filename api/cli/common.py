"""Shared pieces of the CLI: stderr output, exit codes, running async work."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from rich.console import Console
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.wiring import session_factory
from listener.db import engine_from_settings
from listener.migrate import alembic_config
from listener.settings import Settings, SettingsError, get_settings, mask_url

T = TypeVar("T")

# Human text goes to stderr so stdout stays clean for --json and pipes.
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print a one-line error and exit with `code` (2 bad input, 1 the work failed)."""
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    """The settings, or a clear message naming what is wrong."""
    try:
        return get_settings()
    except (SettingsError, ValueError) as exc:
        fail(f"configuration: {exc}")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from a synchronous command."""
    return asyncio.run(coro)


def stdout_is_tty() -> bool:
    """Whether a person is watching (progress bars) rather than a script."""
    return sys.stderr.isatty()


DEMO_DATABASE = Path("luister-demo.db")


def sqlite_file(database_url: str) -> Path | None:
    """The file a SQLite URL names (None for other databases and in-memory ones)."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if str(url.database).startswith("file:"):
        return None  # a URI filename: leave it to SQLite
    return Path(str(url.database))


def demo_exports(path: Path, settings: Settings) -> list[str]:
    """The shell lines that point the command line at a demo database."""
    return [
        f"export LUISTER_DATABASE_URL=sqlite+aiosqlite:///{path.resolve()}",
        f"export LUISTER_DATA_DIR={settings.data_dir.resolve()}",
    ]


def schema_problem_message(database_url: str, problem: str, settings: Settings) -> str:
    """One line saying what is wrong with the database and the command that fixes it."""
    where = mask_url(database_url)
    if problem == "ahead":
        return (
            f"the database at {where} has a newer schema than this Luister knows "
            "(migrated by a newer version): carrying on, but upgrade Luister soon"
        )
    message = (
        f"the database at {where} has no Luister tables (or is behind): run `luister db upgrade`"
    )
    demo = DEMO_DATABASE.resolve()
    here = sqlite_file(database_url)
    if demo.is_file() and (here is None or here.resolve() != demo):
        message += " (or use the demo's database: " + "; ".join(demo_exports(demo, settings)) + ")"
    return message


def _revisions(connection: Connection, database_url: str) -> tuple[set[str], set[str], set[str]]:
    script = ScriptDirectory.from_config(alembic_config(database_url))
    known = {rev.revision for rev in script.walk_revisions()}
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current, set(script.get_heads()), known


async def schema_problem(engine: AsyncEngine, database_url: str) -> str | None:
    """What is wrong with the database's schema: "missing" (no tables, or migrations not yet
    applied), "ahead" (migrated by a newer Luister), or None when it is current."""
    path = sqlite_file(database_url)
    if path is not None and not path.is_file():
        return "missing"  # and do not let SQLite create an empty file there
    async with engine.connect() as connection:
        current, heads, known = await connection.run_sync(_revisions, database_url)
    if current == heads:
        return None
    return "ahead" if current - known else "missing"


@asynccontextmanager
async def wired_sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the configured database, wired as in every way in; the engine closes after.

    A database without Luister's tables, or with migrations still to apply, ends the command
    with one line naming `luister db upgrade` (exit 1) instead of a "no such table" traceback.
    """
    engine = engine_from_settings(settings)
    try:
        await _require_schema(engine, settings)
        yield session_factory(settings, engine)
    finally:
        await engine.dispose()


async def _require_schema(engine: AsyncEngine, settings: Settings) -> None:
    try:
        problem = await schema_problem(engine, settings.database_url)
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(
            f"cannot open the database at {mask_url(settings.database_url)}: "
            f"{reason[0] if reason else type(exc).__name__}",
            EXIT_FAILED,
        )
    if problem is None:
        return
    message = schema_problem_message(settings.database_url, problem, settings)
    if problem == "ahead":
        # Migrations keep older code working during a rolling upgrade: warn, do not stop.
        err.print(f"[bold yellow]warning:[/] {message}", soft_wrap=True)
        return
    fail(message, EXIT_FAILED)


def require_schema(settings: Settings) -> None:
    """Exit with the one-line message unless the database has Luister's current schema (for
    commands that start a long-running process on it: `serve`, `worker`)."""

    async def _check() -> None:
        engine = engine_from_settings(settings)
        try:
            await _require_schema(engine, settings)
        finally:
            await engine.dispose()

    run(_check())


async def in_session(
    work: Callable[[AsyncSession], Awaitable[T]], *, settings: Settings | None = None
) -> T:
    """Run `work` in one transaction on the configured database, then close the engine."""
    wired = wired_sessions(settings or load_settings())
    async with wired as sessions, sessions() as session, session.begin():
        return await work(session)
