"""A command meeting a database without Luister's tables says `luister db upgrade` in one line."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from listener import migrate
from listener.settings import get_settings
from tests.conftest import fresh_database

runner = CliRunner()
UseDatabase = Callable[[str], None]
MESSAGE = "has no Luister tables (or is behind): run `luister db upgrade`"


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[UseDatabase]:
    """Point the CLI at a database URL (the settings are read once per process: reset them)."""

    def _use(url: str) -> None:
        monkeypatch.setenv("LUISTER_DATABASE_URL", url)
        monkeypatch.setenv("LUISTER_DATA_DIR", str(tmp_path / "data"))
        get_settings.cache_clear()

    monkeypatch.chdir(tmp_path)
    yield _use
    get_settings.cache_clear()


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("command", [["digest", "build"], ["users", "list"], ["export"]])
def test_a_missing_sqlite_file_is_named_and_not_created(
    use_database: UseDatabase, tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "luister.db"
    use_database(f"sqlite+aiosqlite:///{path}")

    result = runner.invoke(app, command)

    assert result.exit_code == 1
    line = _one_error_line(result.output)
    assert line == f"error: the database at sqlite+aiosqlite:///{path} {MESSAGE}"
    assert "Traceback" not in result.output
    assert not path.exists()


def test_the_demo_database_next_to_it_is_offered(use_database: UseDatabase, tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "luister-demo.db").close()
    use_database("sqlite+aiosqlite:///./luister.db")

    result = runner.invoke(app, ["digest", "build"])

    assert result.exit_code == 1
    line = _one_error_line(result.output)
    demo = (tmp_path / "luister-demo.db").resolve()
    assert MESSAGE in line
    assert f"export LUISTER_DATABASE_URL=sqlite+aiosqlite:///{demo}" in line


def test_a_database_behind_the_migrations_is_told_to_upgrade(
    use_database: UseDatabase, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    [first] = _first_revisions(url)
    migrate.upgrade(url, first)  # the first migration only
    use_database(url)

    behind = runner.invoke(app, ["users", "list"])
    migrate.upgrade(url)
    current = runner.invoke(app, ["users", "list"])

    assert behind.exit_code == 1
    assert MESSAGE in _one_error_line(behind.output)
    assert current.exit_code == 0, current.output


def test_a_database_migrated_by_a_newer_luister_gets_a_warning_and_the_work_is_done(
    use_database: UseDatabase, tmp_path: Path
) -> None:
    path = tmp_path / "newer.db"
    url = f"sqlite+aiosqlite:///{path}"
    migrate.upgrade(url)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO alembic_version VALUES ('ffffffffffff')")
    use_database(url)

    result = runner.invoke(app, ["users", "list"])

    # A rolling upgrade migrates first; older processes keep working meanwhile.
    assert result.exit_code == 0, result.output
    assert result.output.startswith("warning: the database at ")
    assert "has a newer schema than this Luister knows" in result.output


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_empty_database_of_either_kind_is_told_to_upgrade(
    use_database: UseDatabase, tmp_path: Path, kind: str
) -> None:
    url = fresh_database(kind, tmp_path, "sbx_empty")
    if kind == "sqlite":
        sqlite3.connect(url.split("///", 1)[1]).close()  # the file exists, with no tables
    use_database(url)

    result = runner.invoke(app, ["digest", "build"])

    assert result.exit_code == 1
    line = _one_error_line(result.output)
    assert MESSAGE in line
    assert "no such table" not in line and "does not exist" not in line


def _first_revisions(url: str) -> list[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    return [rev.revision for rev in script.walk_revisions() if rev.down_revision is None]
