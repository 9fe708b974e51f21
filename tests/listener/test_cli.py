"""The `luister` command as scripts and people use it: exit codes, stdout/stderr, messages."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.accounts.service import authenticate_token
from listener.models import Mention, QuarantinedItem
from tests.conftest import TEST_SECRET
from tests.factories import mention
from tests.listener.conftest import LUISTER, luister


def _write_jsonl(path: Path, count: int, broken: dict[int, str]) -> None:
    with path.open("w") as out:
        for i in range(count):
            line = broken.get(i + 1) or json.dumps(mention(i))
            out.write(line + "\n")


def test_help_lists_every_command() -> None:
    result = subprocess.run([*LUISTER, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("serve", "demo", "import", "config", "db", "users", "tokens"):
        assert command in result.stdout


@pytest.mark.slow
async def test_import_keeps_good_lines_names_bad_ones_and_is_idempotent(
    cli_env: dict[str, str], tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    path = tmp_path / "mentions.jsonl"
    bad_date = json.dumps(mention(777, created_at="not a date"))
    _write_jsonl(path, 1000, {12: "{this is not json", 500: "[1, 2]", 778: bad_date})

    first = luister("import", str(path), "--json", env=cli_env)

    assert first.returncode == 2, first.stderr
    assert json.loads(first.stdout.splitlines()[-1]) == {
        "new": 997,
        "updated": 0,
        "unchanged": 0,
        "rejected": 3,
    }
    assert "line 12: not valid JSON" in first.stderr
    assert "line 500: expected a JSON object" in first.stderr
    assert "line 778: created_at" in first.stderr
    async with sessions() as session:
        assert (await session.execute(select(func.count(Mention.id)))).scalar_one() == 997
        quarantined = (await session.execute(select(QuarantinedItem.error))).scalars().all()
    assert len(quarantined) == 3

    second = luister("import", str(path), "--json", env=cli_env)

    assert json.loads(second.stdout.splitlines()[-1])["new"] == 0
    assert json.loads(second.stdout.splitlines()[-1])["unchanged"] == 997


def test_import_from_stdin_exits_0_when_all_lines_are_good(cli_env: dict[str, str]) -> None:
    lines = "\n".join(json.dumps(mention(i)) for i in range(5)) + "\n"
    result = luister("import", "-", "--json", env=cli_env, stdin=lines)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["new"] == 5


def test_import_of_a_missing_file_is_a_clear_error(cli_env: dict[str, str]) -> None:
    result = luister("import", "/no/such/file.jsonl", env=cli_env)
    assert result.returncode == 2
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_show_masks_secrets(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, LUISTER_REDIS_URL="redis://:hunter2@127.0.0.1:6379/0")
    result = luister("config", "show", "--json", env=env)
    shown = json.loads(result.stdout)
    assert shown["secret_key"] == "********"
    assert "hunter2" not in result.stdout and TEST_SECRET not in result.stdout
    assert shown["redis_url"] == "redis://:********@127.0.0.1:6379/0"


def test_production_refuses_a_placeholder_secret(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, LUISTER_ENV="production", LUISTER_SECRET_KEY="change-me")
    result = luister("config", "show", env=env)
    assert result.returncode == 2
    assert "LUISTER_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
async def test_users_and_tokens_from_the_cli(
    cli_env: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    created = luister(
        "users",
        "create",
        "lotte",
        "--role",
        "analyst",
        "--password-stdin",
        env=cli_env,
        stdin="a long password\n",
    )
    assert created.returncode == 0, created.stderr
    taken = luister(
        "users", "create", "lotte", "--password-stdin", env=cli_env, stdin="another one1\n"
    )
    assert taken.returncode == 2 and "taken" in taken.stderr

    issued = luister("tokens", "create", "--user", "lotte", "--name", "ci", env=cli_env)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("lst_")
    denied = luister("tokens", "create", "--user", "lotte", "--scope", "triage", env=cli_env)
    assert denied.returncode == 2 and "cannot hold triage" in denied.stderr

    async with sessions() as session:
        principal = await authenticate_token(session, token=token, key=TEST_SECRET.encode())
    assert principal is not None and principal.user.username == "lotte"

    listed = luister("tokens", "list", env=cli_env)
    assert token not in listed.stdout
    token_id = listed.stdout.split("\t")[0]
    assert luister("tokens", "revoke", token_id, env=cli_env).returncode == 0
    async with sessions() as session:
        assert await authenticate_token(session, token=token, key=TEST_SECRET.encode()) is None
