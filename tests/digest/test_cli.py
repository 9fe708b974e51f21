"""`luister digest …` as a person or script runs it: files, JSON on stdout, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener.models import RecipientList
from tests.conftest import TEST_SECRET
from tests.digest.data import TZ, History
from tests.listener.conftest import luister


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The CLI is the same code on both backends; run it on the embedded SQLite default."""
    from listener import migrate
    from tests.conftest import fresh_database

    url = fresh_database("sqlite", tmp_path_factory.mktemp("db"), "digest-cli")
    migrate.upgrade(url)
    return url


@pytest.fixture
def env(database_url: str, engine: AsyncEngine, tmp_path: Path) -> dict[str, str]:
    """Environment for a `luister` process on the (emptied) test database."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    return dict(
        clean,
        LUISTER_DATABASE_URL=database_url,
        LUISTER_DATA_DIR=str(tmp_path / "data"),
        LUISTER_SECRET_KEY=TEST_SECRET,
        LUISTER_DIGEST_TIMEZONE=TZ,
    )


def test_build_writes_a_readable_html_page_and_json_with_every_section(
    env: dict[str, str], history: History, tmp_path: Path
) -> None:
    page = tmp_path / "d.html"
    html = luister(
        "digest", "build", "--week", "2026-W47", "--format", "html", "--out", str(page), env=env
    )
    assert html.returncode == 0, html.stderr
    assert "10 mentions" in html.stderr
    assert page.read_text().count('<img src="data:image/png;base64,') == 3

    as_json = luister("digest", "build", "--week", "2026-W47", "--format", "json", env=env)
    data = json.loads(as_json.stdout)
    assert data["volume"]["total"] == 10
    assert data["topics"]["rising"][0]["topic"] == "outage"


def test_a_malformed_week_exits_2_naming_the_expected_form(env: dict[str, str]) -> None:
    bad_week = luister("digest", "build", "--week", "2026-47", env=env)
    assert bad_week.returncode == 2
    assert "2026-W47" in bad_week.stderr


async def test_lists_are_managed_and_send_fails_clearly_without_smtp(
    env: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    added = luister(
        "digest", "lists", "add", "comms", "--email", "comms@fietsbaan.example", "--lang", "nl",
        "--topic", "outage", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    async with sessions() as session:
        stored = (await session.execute(select(RecipientList))).scalar_one()
    assert (stored.language, stored.topics) == ("nl", ["outage"])
    send = luister("digest", "send", "--week", "2026-W47", env=env)
    assert send.returncode == 1
    assert "LUISTER_SMTP_HOST" in send.stderr


# --query: in 2026-W47 the words of mentions 2, 3 and 9 hold "storing" and none says "outage"
# (the same counts as tests/digest/test_list_query.py).


async def test_a_list_keeps_its_query_and_its_digest_counts_only_matching_mentions(
    env: dict[str, str], history: History, sessions: async_sessionmaker[AsyncSession]
) -> None:
    added = luister(
        "digest", "lists", "add", "storing", "--email", "a@fietsbaan.example",
        "--query", "storing   OR outage", env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    async with sessions() as session:
        stored = (await session.execute(select(RecipientList))).scalar_one()
    assert stored.query == "storing OR outage"

    listed = luister("digest", "lists", "list", env=env)
    assert "query: storing OR outage" in listed.stdout

    by_list = luister(
        "digest", "build", "--week", "2026-W47", "--format", "json", "--list", "storing", env=env
    )
    assert by_list.returncode == 0, by_list.stderr
    assert json.loads(by_list.stdout)["volume"]["total"] == 3
    assert "3 mentions" in by_list.stderr

    adhoc = luister(
        "digest", "build", "--week", "2026-W47", "--format", "md",
        "--query", "storing lang:nl", env=env,
    )  # fmt: skip
    assert adhoc.returncode == 0, adhoc.stderr
    assert "2 mentions" in adhoc.stderr
    assert "storing lang:nl" in adhoc.stdout  # the filter line names the query


def test_a_bad_query_exits_2_naming_the_column(env: dict[str, str]) -> None:
    bad_list = luister(
        "digest", "lists", "add", "bad", "--email", "a@fietsbaan.example",
        "--query", "storing AND (", env=env,
    )  # fmt: skip
    assert bad_list.returncode == 2
    assert "--query: column 14: expected" in bad_list.stderr
    assert "Traceback" not in bad_list.stderr

    bad_build = luister("digest", "build", "--week", "2026-W47", "--query", "lang:", env=env)
    assert bad_build.returncode == 2
    assert "--query: column 6: expected a value after lang:" in bad_build.stderr
