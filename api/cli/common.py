"""Shared pieces of the CLI: stderr output, exit codes, running async work."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.wiring import session_factory
from listener.db import engine_from_settings
from listener.settings import Settings, SettingsError, get_settings

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


@asynccontextmanager
async def wired_sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the configured database, wired as in every way in; the engine closes after."""
    engine = engine_from_settings(settings)
    try:
        yield session_factory(settings, engine)
    finally:
        await engine.dispose()


async def in_session(
    work: Callable[[AsyncSession], Awaitable[T]], *, settings: Settings | None = None
) -> T:
    """Run `work` in one transaction on the configured database, then close the engine."""
    wired = wired_sessions(settings or load_settings())
    async with wired as sessions, sessions() as session, session.begin():
        return await work(session)
