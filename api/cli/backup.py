"""`luister backup FILE` and `luister restore FILE`: the whole database, both backends.

SQLite: SQLite's online backup API (`sqlite3.Connection.backup`) copies the live database page
by page into a new file while the service keeps running; restore copies a backup file back the
same way, replacing every page of the configured database.

PostgreSQL: `pg_dump -Fc` (custom format, compressed) and `pg_restore --clean --if-exists` in one
transaction, found on PATH. The password travels in PGPASSWORD, never on the command line.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import URL, make_url

from api.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, err, fail, load_settings

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout")]
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        fail("LUISTER_DATABASE_URL: an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _pg_target(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for `url` without its password, and the environment with it."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    query = {k: v for k, v in url.query.items() if k in ("sslmode", "sslrootcert", "options")}
    plain = URL.create(
        "postgresql",
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=query,
    )
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        fail(
            f"{name} not found on PATH: install the PostgreSQL client tools "
            "(same major version as the server or newer)",
            EXIT_FAILED,
        )
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        fail(f"{Path(command[0]).name} failed: {' '.join(message[-3:])}", EXIT_FAILED)


def _sqlite_copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists")] = False,
    as_json: JsonOption = False,
) -> None:
    """Back up the whole database to FILE while Luister keeps running."""
    url = make_url(load_settings().database_url)
    if file.exists() and not force:
        fail(f"{file} exists: pass --force to overwrite it")
    partial = file.with_name(file.name + ".partial")
    partial.unlink(missing_ok=True)
    if url.get_backend_name() == "sqlite":
        source = _sqlite_path(url)
        if not source.is_file():
            fail(f"{source}: no such database file", EXIT_FAILED)
        try:
            _sqlite_copy(source, partial)
        except sqlite3.Error as exc:
            partial.unlink(missing_ok=True)
            fail(f"backup failed: {exc}", EXIT_FAILED)
        kind = "sqlite"
    elif url.get_backend_name() == "postgresql":
        target, env = _pg_target(url)
        _run([_tool("pg_dump"), "-Fc", "--no-owner", "-f", str(partial), "-d", target], env)
        kind = "postgresql"
    else:
        fail(f"cannot back up a {url.get_backend_name()} database")
    partial.chmod(0o600)
    partial.replace(file)
    size = file.stat().st_size
    err.print(f"backed up the {kind} database to {file} ({size} bytes)")
    if as_json:
        print(json.dumps({"file": str(file), "backend": kind, "bytes": size}))


def restore(
    file: Annotated[Path, typer.Argument(help="A file `luister backup` wrote")],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask (needed when not on a terminal)")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Replace the whole database with a backup (stop `luister serve` and workers first)."""
    url = make_url(load_settings().database_url)
    if not file.is_file():
        fail(f"{file}: no such file")
    if not yes:
        if not sys.stdin.isatty():
            fail("restore replaces every row of the database: pass --yes to confirm it")
        if not typer.confirm(f"Replace the database {url.database} with {file}?"):
            fail("nothing restored", EXIT_FAILED)
    with file.open("rb") as stream:
        head = stream.read(len(_SQLITE_MAGIC))
    if url.get_backend_name() == "sqlite":
        if head != _SQLITE_MAGIC:
            fail(f"{file} is not a SQLite backup", EXIT_BAD_INPUT)
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            _sqlite_copy(file, target)
        except sqlite3.Error as exc:
            fail(f"restore failed: {exc}", EXIT_FAILED)
        kind = "sqlite"
    elif url.get_backend_name() == "postgresql":
        if not head.startswith(b"PGDMP"):
            fail(f"{file} is not a pg_dump custom-format backup", EXIT_BAD_INPUT)
        conninfo, env = _pg_target(url)
        command = [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner"]
        command += ["--single-transaction", "--exit-on-error", "-d", conninfo, str(file)]
        _run(command, env)
        kind = "postgresql"
    else:
        fail(f"cannot restore into a {url.get_backend_name()} database")
    err.print(f"restored the {kind} database from {file}")
    if as_json:
        print(json.dumps({"file": str(file), "backend": kind}))
