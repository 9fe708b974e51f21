"""Fixtures for running the `luister` command as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import TEST_SECRET

LUISTER = [sys.executable, "-m", "api"]


@pytest.fixture
def cli_env(database_url: str, engine: AsyncEngine, tmp_path: Path) -> dict[str, str]:
    """Environment for a `luister` process on the (emptied) test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    env.update(
        LUISTER_DATABASE_URL=database_url,
        LUISTER_DATA_DIR=str(tmp_path / "data"),
        LUISTER_SECRET_KEY=TEST_SECRET,
    )
    return env


def luister(
    *args: str, env: dict[str, str], stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the CLI and capture its output."""
    return subprocess.run(
        [*LUISTER, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
