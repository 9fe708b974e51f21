"""Poison in, clean data stored: NUL, lone surrogates, huge counts and ids never stop a batch.

The reproducers of issue 11, on SQLite and PostgreSQL: a JSONL import and platform pages
carrying a NUL in an id, `followers: 1e30` and a 5,000-character id store their clean items,
quarantine the bad ones alone (with the field named) and count as what they are; an Atom entry
dated year 0 loses only its date; a deeply nested JSON Feed is a clean source error; any
exception in a poll counts as a failed poll.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from connectors.items import EngagementIn, MentionIn
from listener.db import make_sessionmaker
from listener.kit.http import make_client
from listener.models import Mention, QuarantinedItem, Source, utcnow
from listener.reactions import MentionsChanged, Reactions
from listener.settings import Settings
from listener.sources import service
from listener.sources.ingest import ingest_mentions, quarantine_item
from listener.sources.polling import poll_source
from tests.connectors.servers import LoopbackServer, Reply
from tests.factories import mention
from tests.listener.conftest import luister

PAYLOADS = Path(__file__).parents[1] / "connectors" / "payloads"
LONG_ID = "https://mastodon.example/users/u/statuses/" + "9" * 5000


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A platform on 127.0.0.1."""
    with LoopbackServer("127.0.0.1") as server:
        yield server


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The guarded client, admitting 127.0.0.1 as the test settings do."""
    async with make_client(settings) as client:
        yield client


async def _add_source(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    kind: str,
    config: dict[str, Any],
) -> int:
    async with sessions() as session, session.begin():
        source = await service.create_source(
            session, kind=kind, name=f"{kind}-poisoned", config=config, key=settings.secret_bytes()
        )
        return source.id


async def _source(sessions: async_sessionmaker[AsyncSession], source_id: int) -> Source:
    async with sessions() as session:
        source = await session.get(Source, source_id)
        assert source is not None
        return source


async def _stored_ids(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(select(Mention.external_id).order_by(Mention.id))
        return list(rows.scalars())


async def _quarantined(sessions: async_sessionmaker[AsyncSession]) -> list[QuarantinedItem]:
    async with sessions() as session:
        rows = await session.execute(select(QuarantinedItem).order_by(QuarantinedItem.id))
        return list(rows.scalars())


# -- luister import ---------------------------------------------------------------------------


def _poisoned_jsonl(path: Path) -> None:
    """Ten lines: a NUL in line 3's id, followers 1e30 on line 6, a 5,000-character id on 9."""
    lines = [json.dumps(mention(n)) for n in range(10)]
    lines[2] = json.dumps(mention(2, external_id="https://mastodon.example/statuses/1\u00002"))
    author = {**mention(5)["author"], "followers": "FOLLOWERS"}
    lines[5] = json.dumps(mention(5, author=author)).replace('"FOLLOWERS"', "1e30")
    lines[8] = json.dumps(mention(8, external_id=LONG_ID))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.slow  # runs `luister import` as a process
async def test_import_of_poisoned_lines_keeps_the_7_clean_ones_and_names_the_3_bad(
    cli_env: dict[str, str], tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    path = tmp_path / "poisoned.jsonl"
    _poisoned_jsonl(path)

    result = luister("import", str(path), "--json", env=cli_env)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "new": 7,
        "updated": 0,
        "unchanged": 0,
        "rejected": 3,
    }
    assert "line 3: external_id: Value error, must not contain NUL" in result.stderr
    assert "line 6: author.followers:" in result.stderr
    assert "line 9: external_id: String should have at most 512 characters" in result.stderr
    assert not any(f"line {n}:" in result.stderr for n in (1, 2, 4, 5, 7, 8, 10))
    assert len(await _stored_ids(sessions)) == 7
    quarantined = await _quarantined(sessions)
    assert len(quarantined) == 3
    for row in quarantined:  # the quarantine kept what the database can hold
        assert "\x00" not in row.payload and "\x00" not in (row.external_id or "")
        assert len(row.external_id or "") <= 512


@pytest.mark.slow  # runs `luister import` as a process
async def test_import_again_after_the_fix_adds_only_the_fixed_lines(
    cli_env: dict[str, str], tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    path = tmp_path / "poisoned.jsonl"
    _poisoned_jsonl(path)
    luister("import", str(path), env=cli_env)
    path.write_text("\n".join(json.dumps(mention(n)) for n in range(10)) + "\n")

    result = luister("import", str(path), "--json", env=cli_env)

    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout.splitlines()[-1])
    assert (counts["new"], counts["unchanged"]) == (3, 7)


# -- ingest: the database's last word -----------------------------------------------------------


def _unvalidated(n: int, **changes: Any) -> MentionIn:
    """A mention that skipped validation, as a buggy caller could hand to ingest."""
    values: dict[str, Any] = {
        "platform": "rss",
        "source": None,
        "external_id": f"https://blog.example/{n}",
        "url": None,
        "text": f"Entry {n} about Fietsbaan",
        "html": None,
        "language": "en",
        "created_at": datetime(2026, 11, 17, 10, n, tzinfo=UTC),
        "author": None,
        "reply_to_external_id": None,
        "thread_external_id": None,
        "engagement": EngagementIn(),
        "raw": None,
    }
    values.update(changes)
    return MentionIn.model_construct(**values)


@pytest.mark.parametrize(
    "poison",
    [
        {"engagement": EngagementIn.model_construct(likes=10**30)},
        {"text": "lone \ud800 surrogate"},
    ],
    ids=["int-overflow", "lone-surrogate"],
)
async def test_an_item_the_database_refuses_is_quarantined_alone(
    sessions: async_sessionmaker[AsyncSession], poison: dict[str, Any]
) -> None:
    items = [_unvalidated(0), _unvalidated(1, **poison), _unvalidated(2)]
    async with sessions() as session, session.begin():
        source_id = (await service_source(session)).id
        report = await ingest_mentions(session, items, source_id=source_id, tag=False)

    assert report.counts() == {"new": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    assert [r.index for r in report.rejections] == [1]
    assert report.rejections[0].reason.startswith("the database refused it: ")
    assert await _stored_ids(sessions) == ["https://blog.example/0", "https://blog.example/2"]
    (row,) = await _quarantined(sessions)
    assert (row.stage, row.external_id) == ("store", "https://blog.example/1")


async def service_source(session: AsyncSession) -> Source:
    """A source to ingest into."""
    source = Source(name="blog", kind="rss", config={}, cursor={}, enabled=False)
    session.add(source)
    await session.flush()
    return source


async def test_the_quarantine_keeps_poison_it_can_store(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await quarantine_item(
            session,
            source_id=None,
            stage="parse",
            payload='{"id": "a\x00b", "text": "\ud800"}' + "x" * 2_000_000,
            error="bad \x00 line",
            external_id="a\x00" + "b" * 5000,
        )
    (row,) = await _quarantined(sessions)
    assert row.payload.startswith('{"id": "ab", "text": ""}')
    assert len(row.payload) < 1_100_000 and row.payload.endswith("more]")
    assert row.error == "bad  line"
    assert row.external_id == "a" + "b" * 511


async def test_text_and_raw_are_cleaned_ids_that_cannot_be_stored_are_rejected(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    good = mention(1, text="NUL\x00 and \ud800 gone", raw={"k\x00": ["\ud800v", float("nan")]})
    items = [
        good,
        mention(2, reply_to_external_id="x\ud800"),
        mention(3, engagement={"views": 2**31}),
        mention(4, engagement={"score": -(2**31)}),
        mention(5, language="en-abcdefgh-abcdefgh"),
    ]
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, items, tag=False)
    assert [(r.index, r.reason.split(":")[0]) for r in report.rejections] == [
        (1, "reply_to_external_id"),
        (2, "engagement.views"),
        (4, "language"),
    ]
    async with sessions() as session:
        stored = (await session.execute(select(Mention).order_by(Mention.id))).scalars().all()
    assert stored[0].text == "NUL and  gone"
    assert stored[0].raw == {"k": ["v", None]}
    assert stored[1].score == -(2**31)


# -- polls of poisoned pages ----------------------------------------------------------------------


def _json_feed(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Fietsbaan blog",
        "items": items,
    }


def _feed_item(n: int, **changes: Any) -> dict[str, Any]:
    item = {
        "id": f"https://blog.example/{n}",
        "url": f"https://blog.example/{n}",
        "title": f"Entry {n}",
        "content_text": f"Entry {n} about the new docks",
        "date_published": f"2026-11-17T10:0{n}:00Z",
    }
    item.update(changes)
    return item


async def test_a_poisoned_feed_page_stores_its_clean_items_and_quarantines_the_bad(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    guarded: httpx.AsyncClient,
    server: LoopbackServer,
) -> None:
    page = _json_feed(
        [
            _feed_item(0),
            _feed_item(1, id="https://blog.example/1\u00001"),
            _feed_item(2, id="https://blog.example/" + "2" * 5000),
            _feed_item(3, content_text="Entry 3\u0000 with \ud800 poison", _ext={"k\u0000": 1}),
            _feed_item(4),
        ]
    )
    server.route("/feed.json", Reply.json(page))
    source_id = await _add_source(sessions, settings, "rss", {"url": server.url("/feed.json")})

    outcome = await poll_source(sessions, source_id=source_id, settings=settings, client=guarded)

    assert outcome.ok, outcome.error
    stored = await _stored_ids(sessions)
    assert len(stored) == 4
    assert {"https://blog.example/0", "https://blog.example/3", "https://blog.example/4"} <= set(
        stored
    )
    assert any(i.startswith("sha256:") for i in stored)  # over-long ids are hashed by feeds
    (row,) = await _quarantined(sessions)
    assert (row.stage, row.source_id) == ("normalize", source_id)
    assert row.error.startswith("external_id: Value error, must not contain NUL")
    assert row.external_id == "https://blog.example/11"
    source = await _source(sessions, source_id)
    assert (source.consecutive_failures, source.last_error) == (0, None)
    async with sessions() as session:
        text = (
            await session.execute(
                select(Mention.text).where(Mention.external_id == "https://blog.example/3")
            )
        ).scalar_one()
    assert "\x00" not in text and "\ud800" not in text


def _status(template: dict[str, Any], n: int, **account: Any) -> dict[str, Any]:
    status = copy.deepcopy(template)
    status_id = str(113600000000000100 + n)
    status.update(
        id=status_id,
        uri=f"https://social.example/users/a/statuses/{status_id}",
        url=f"https://social.example/@a/{status_id}",
        in_reply_to_id=None,
    )
    status["account"].update(account)
    return status


async def test_a_poisoned_mastodon_page_stores_its_clean_statuses(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    guarded: httpx.AsyncClient,
    server: LoopbackServer,
) -> None:
    template = json.loads((PAYLOADS / "mastodon" / "tag_timeline.json").read_text())[0]
    statuses = [_status(template, n) for n in range(5)]
    statuses[1]["uri"] = statuses[1]["uri"] + "\u0000"
    statuses[2] = _status(template, 2, followers_count="FOLLOWERS")
    statuses[3]["uri"] = statuses[3]["uri"] + "9" * 5000
    body = json.dumps(list(reversed(statuses))).replace('"FOLLOWERS"', "1e30").encode()
    server.route(
        "/api/v1/timelines/tag/fietsbaan", Reply(body=body, headers={"Content-Type": "json"})
    )
    config = {"instance_url": server.base_url, "hashtag": "fietsbaan"}
    source_id = await _add_source(sessions, settings, "mastodon", config)

    outcome = await poll_source(sessions, source_id=source_id, settings=settings, client=guarded)

    assert outcome.ok, outcome.error
    assert sorted(await _stored_ids(sessions)) == sorted(statuses[n]["uri"] for n in (0, 4))
    errors = sorted(row.error.split(":")[0] for row in await _quarantined(sessions))
    # The connector builds the author on its own, so the field is named from there.
    assert errors == ["external_id", "external_id", "followers"]
    assert (await _source(sessions, source_id)).consecutive_failures == 0


ATOM_WITH_YEAR_0 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Fietsbaan</title>
<entry><id>urn:entry:1</id><title>New docks at Noord</title>
  <updated>2026-11-17T10:00:00Z</updated></entry>
<entry><id>urn:entry:0</id><title>Dated in year zero</title>
  <updated>0000-01-01T00:00:00Z</updated></entry>
<entry><id>urn:entry:2</id><title>Docks at Zuid</title>
  <updated>2026-11-17T11:00:00Z</updated></entry>
</feed>"""


async def test_an_atom_entry_dated_year_0_loses_only_its_date(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    guarded: httpx.AsyncClient,
    server: LoopbackServer,
) -> None:
    server.route("/atom.xml", Reply.text(ATOM_WITH_YEAR_0, "application/atom+xml"))
    source_id = await _add_source(sessions, settings, "rss", {"url": server.url("/atom.xml")})
    before = utcnow() - timedelta(seconds=1)

    outcome = await poll_source(sessions, source_id=source_id, settings=settings, client=guarded)

    assert outcome.ok, outcome.error
    async with sessions() as session:
        rows = (await session.execute(select(Mention.external_id, Mention.created_at))).all()
    dates = dict(rows)
    assert set(dates) == {"urn:entry:0", "urn:entry:1", "urn:entry:2"}
    assert dates["urn:entry:1"] == datetime(2026, 11, 17, 10, tzinfo=UTC)
    assert dates["urn:entry:0"] >= before  # no date: taken as heard now
    assert await _quarantined(sessions) == []


async def test_a_deeply_nested_json_feed_is_a_clean_source_error(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    guarded: httpx.AsyncClient,
    server: LoopbackServer,
) -> None:
    depth = 100_000
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "items": ['
        + b"[" * depth
        + b"]" * depth
        + b"]}"
    )
    server.route("/feed.json", Reply.text(body, "application/feed+json"))
    source_id = await _add_source(sessions, settings, "rss", {"url": server.url("/feed.json")})

    outcome = await poll_source(sessions, source_id=source_id, settings=settings, client=guarded)

    assert not outcome.ok
    source = await _source(sessions, source_id)
    assert source.last_error is not None
    assert "is JSON nested too deeply to read" in source.last_error
    assert "Recursion" not in source.last_error
    assert source.consecutive_failures == 1
    assert source.poll_lease_until is None


# -- any exception in a poll is a failed poll --------------------------------------------------


async def test_a_poll_whose_storing_fails_counts_backs_off_pauses_and_releases_its_lease(
    engine: AsyncEngine,
    settings: Settings,
    guarded: httpx.AsyncClient,
    server: LoopbackServer,
) -> None:
    async def broken(_session: AsyncSession, _change: MentionsChanged) -> None:
        raise RuntimeError("the triage reaction broke")

    sessions = make_sessionmaker(engine, reactions=Reactions(hooks=(("broken", broken),)))
    settings.max_consecutive_failures = 2
    server.route("/feed.json", Reply.json(_json_feed([_feed_item(0), _feed_item(1)])))
    source_id = await _add_source(sessions, settings, "rss", {"url": server.url("/feed.json")})

    for attempt in (1, 2):
        outcome = await poll_source(
            sessions, source_id=source_id, settings=settings, client=guarded, force=True
        )
        assert not outcome.ok
        source = await _source(sessions, source_id)
        assert source.consecutive_failures == attempt
        assert source.last_error == (
            "fetched, but storing the items failed: RuntimeError: the triage reaction broke"
        )
        assert source.poll_lease_until is None
        assert source.next_poll_at is not None and source.next_poll_at > utcnow()

    assert source.paused_reason is not None and "2 failed polls" in source.paused_reason
    async with sessions() as session:
        assert (await session.execute(select(func.count(Mention.id)))).scalar_one() == 0
        assert (await session.execute(select(func.count(QuarantinedItem.id)))).scalar_one() == 0
