"""Exports: import round trip, CSV injection, pseudonymisation, the API and the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.wiring import session_factory
from listener import migrate
from listener.db import make_engine
from listener.models import Author, Mention, Role, Source
from listener.settings import Settings
from listener.sources.importer import import_lines
from listener.sources.ingest import ingest_mentions
from moderation.queue import export
from moderation.queue.listing import MentionFilter
from tests.conftest import TEST_SECRET, MakeStaff
from tests.factories import mention
from tests.listener.conftest import cli_env, luister

__all__ = ["cli_env"]  # the fixture, for this module's CLI test

# What a mention is, apart from the ids and times this database gave it.
MENTION_FIELDS = [
    c.name
    for c in Mention.__table__.columns
    if c.name not in ("id", "source_id", "author_id", "fetched_at", "updated_at")
]
AUTHOR_FIELDS = ["platform", "platform_id", "handle", "display_name", "profile_url", "followers"]


def varied(n: int) -> dict[str, Any]:
    """The factory's mention with the optional fields sometimes set, sometimes left out."""
    item = mention(n)
    if n % 3 == 0:
        item["reply_to_external_id"] = mention(n - 1)["external_id"]
        item["thread_external_id"] = mention(n - 2)["external_id"]
    if n % 4 == 0:
        item["raw"] = {"id": str(n), "nested": {"list": [1, 2.5, None, "x"]}}
    if n % 5 == 0:
        item["author"] = None
        item["html"] = None
    if n % 11 == 0:
        item |= {"platform": "reddit", "source": "reddit-r", "external_id": f"t3_{n}"}
        item["engagement"] = {"score": -n % 17 - 3, "views": n}
    if n % 13 == 0:
        item["language"] = "nl"
        item["text"] = f"Waarom werkt de app niet? {n}"
    return item


async def _snapshot(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[str, str], Any]:
    async with sessions() as session:
        rows = await session.execute(
            select(Mention, Source.name, Author)
            .join(Source, Source.id == Mention.source_id)
            .outerjoin(Author, Author.id == Mention.author_id)
        )
        return {
            (name, m.external_id): (
                {f: getattr(m, f) for f in MENTION_FIELDS},
                {f: getattr(a, f) for f in AUTHOR_FIELDS} if a else None,
            )
            for m, name, a in rows
        }


async def _export_bytes(sessions: async_sessionmaker[AsyncSession], **kw: Any) -> bytes:
    kw.setdefault("filters", MentionFilter())
    return b"".join([c async for c in export.export(sessions, **kw)])


@pytest.mark.slow
async def test_export_then_import_of_10000_mentions_is_equal_field_by_field(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, settings: Settings
) -> None:
    for start in range(0, 10_000, 1000):
        async with sessions() as session, session.begin():
            report = await ingest_mentions(session, [varied(n) for n in range(start, start + 1000)])
        assert not report.rejections
    path = tmp_path / "export.jsonl"
    with path.open("wb") as out:
        async for chunk in export.export(sessions, filters=MentionFilter(), fmt="jsonl"):
            out.write(chunk)

    target_url = f"sqlite+aiosqlite:///{tmp_path / 'import-target.db'}"  # empty
    await asyncio.to_thread(migrate.upgrade, target_url)  # alembic runs a loop of its own
    engine = make_engine(target_url)
    try:
        target = session_factory(settings, engine)
        with path.open("rb") as lines:
            imported = await import_lines(target, lines, batch_size=1000)
        assert not imported.errors
        assert imported.totals.new == 10_000
        before, after = await _snapshot(sessions), await _snapshot(target)
    finally:
        await engine.dispose()
    assert len(before) == 10_000
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert after[key] == value, key


async def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    hostile = mention(1, text='=HYPERLINK("http://evil.example","x")')
    hostile["author"] |= {"handle": "@cmd|' /C calc'!A0", "display_name": "+1+1"}
    async with sessions() as session, session.begin():
        await ingest_mentions(
            session,
            [
                hostile,
                mention(2, text="-2+3 is what"),
                mention(3, text="\tTabbed"),
                mention(4, text="plain", engagement={"score": -5}),
            ],
        )
    body = (await _export_bytes(sessions, fmt="csv")).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    by_id = {r["external_id"]: r for r in rows}
    first = by_id[hostile["external_id"]]
    assert first["text"].startswith("'=HYPERLINK")
    assert first["author_handle"].startswith("'@")
    assert first["author_name"] == "'+1+1"
    assert by_id[mention(2)["external_id"]]["text"] == "'-2+3 is what"
    assert by_id[mention(3)["external_id"]]["text"] == "Tabbed"  # ingest strips whitespace
    assert export.csv_cell("\tx") == "'\tx" and export.csv_cell("\rx") == "'\rx"
    assert export.csv_cell(-5) == -5
    assert by_id[mention(4)["external_id"]]["text"] == "plain"
    for row in rows:
        for value in row.values():
            assert not value or value[0] not in "=+-@\t\r" or value.lstrip("-").isdigit()


async def test_a_pseudonymised_export_names_no_one_and_keeps_one_pseudonym_per_author(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await ingest_mentions(session, [mention(n) for n in range(14)])
    for fmt in ("jsonl", "ndjson", "csv"):
        anon = export.Pseudonymiser.derived(TEST_SECRET.encode())
        body = (await _export_bytes(sessions, fmt=fmt, anon=anon)).decode()
        assert "@u" not in body and "User " not in body and "mastodon.example" not in body
    anon = export.Pseudonymiser.derived(TEST_SECRET.encode())
    body = await _export_bytes(sessions, fmt="jsonl", anon=anon)
    lines = [json.loads(x) for x in body.splitlines()]
    authors = {x["author"]["platform_id"] for x in lines}
    assert len(authors) == 7  # seven authors, seven pseudonyms, each stable in the export
    by_text = {x["text"]: x["author"]["platform_id"] for x in lines}
    assert by_text["Post number 0 about Fietsbaan"] == by_text["Post number 7 about Fietsbaan"]
    assert all(set(x["author"]) == {"platform_id", "followers"} for x in lines)
    again = export.Pseudonymiser.derived(TEST_SECRET.encode())
    assert again("author", "mastodon:u1") != anon("author", "mastodon:u1")  # a fresh salt
    keyed = export.Pseudonymiser.with_key("a key of our research group")
    same = export.Pseudonymiser.with_key("a key of our research group")
    assert keyed("author", "mastodon:u1") == same("author", "mastodon:u1")
    with pytest.raises(ValueError):
        export.Pseudonymiser.with_key("short")


async def test_the_api_exports_what_the_filters_select_as_an_attachment(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], make_staff: MakeStaff
) -> None:
    async with sessions() as session, session.begin():
        items = [mention(n) for n in range(5)]
        items += [
            mention(
                100 + n,
                platform="reddit",
                source="r",
                external_id=f"t3_{n}",
                language="nl",
                author=None,
            )
            for n in range(3)
        ]
        await ingest_mentions(session, items)
    analyst = await make_staff(Role.ANALYST)
    answer = await client.get(
        "/api/v1/mentions/export",
        params={"format": "ndjson", "platform": "reddit"},
        headers=analyst.headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert answer.headers["content-disposition"].startswith('attachment; filename="mentions-')
    rows = [json.loads(x) for x in answer.text.splitlines()]
    assert sorted(r["external_id"] for r in rows) == ["t3_0", "t3_1", "t3_2"]
    assert {r["status"] for r in rows} == {"new"}
    csv_answer = await client.get(
        "/api/v1/mentions/export",
        params={"format": "csv", "pseudonymise": "true"},
        headers=analyst.headers | {"X-Pseudonym-Key": "our research key 2026"},
    )
    assert csv_answer.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(csv_answer.text)))) == 8
    assert "@u" not in csv_answer.text
    bad = await client.get(
        "/api/v1/mentions/export", params={"format": "xml"}, headers=analyst.headers
    )
    assert bad.status_code == 422
    assert (await client.get("/api/v1/mentions/export")).status_code == 401


@pytest.mark.slow
async def test_the_cli_exports_jsonl_that_imports_back(
    cli_env: dict[str, str], sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with sessions() as session, session.begin():
        await ingest_mentions(session, [varied(n) for n in range(50)])
    out = tmp_path / "m.jsonl"
    done = luister(
        "export", "--format", "jsonl", "--out", str(out), "--platform", "mastodon", env=cli_env
    )
    assert done.returncode == 0, done.stderr
    lines = out.read_bytes().splitlines()
    assert "exported" in done.stderr and len(lines) == sum(
        1 for n in range(50) if varied(n)["platform"] == "mastodon"
    )
    piped = luister("export", "--format", "csv", "--pseudonymise", env=cli_env)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("id,created_at,") and "@u" not in piped.stdout
    assert luister("export", "--key-env", "NOPE", env=cli_env).returncode == 2
