"""Hacker News connector against a loopback Algolia `search_by_date`."""

from __future__ import annotations

import copy
import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.hackernews import HackerNewsConfig, HackerNewsConnector
from tests.connectors.servers import LoopbackServer, Reply, Request

PAYLOADS = Path(__file__).parent / "payloads" / "hackernews"
SEARCH = "/api/v1/search_by_date"
_FILTER = re.compile(r"^created_at_i(>=|<=|>|<)(\d+)$")


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


class FakeAlgolia:
    """search_by_date: newest first, numericFilters on created_at_i, page and hitsPerPage."""

    def __init__(self, server: LoopbackServer) -> None:
        self.envelope = load("search_by_date.json")
        self.hits: list[dict[str, Any]] = self.envelope["hits"]
        server.route(SEARCH, self.search)

    def search(self, request: Request) -> Reply:
        hits = sorted(self.hits, key=lambda h: h.get("created_at_i") or 0, reverse=True)
        for condition in filter(None, (request.arg("numericFilters") or "").split(",")):
            found = _FILTER.match(condition)
            assert found, f"unexpected filter {condition}"
            op, value = found.group(1), int(found.group(2))
            hits = [h for h in hits if _compare(h.get("created_at_i") or 0, op, value)]
        per_page = int(request.arg("hitsPerPage", "20") or 20)
        page = int(request.arg("page", "0") or 0)
        body = copy.deepcopy(self.envelope)
        body.update(
            hits=hits[page * per_page : (page + 1) * per_page],
            nbHits=len(hits),
            nbPages=math.ceil(len(hits) / per_page),
            page=page,
            hitsPerPage=per_page,
        )
        return Reply.json(body)


def _compare(left: int, op: str, right: int) -> bool:
    return {
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
    }[op]


@pytest.fixture
def algolia(loopback_server: LoopbackServer) -> FakeAlgolia:
    return FakeAlgolia(loopback_server)


def config(server: LoopbackServer, **changes: Any) -> HackerNewsConfig:
    return HackerNewsConfig(api_url=server.url("/api/v1"), query="fietsbaan", **changes)


def old_mark() -> dict[str, Any]:
    return {"mark": {"at": 1_795_100_000, "ids": []}, "resume": None, "pending": None}


async def test_first_poll_maps_stories_and_comments(
    loopback_server: LoopbackServer, algolia: FakeAlgolia, http_client: httpx.AsyncClient
) -> None:
    result = await HackerNewsConnector().fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    by_id = {m.external_id: m for m in result.items}
    assert set(by_id) == {"42100001", "42100002", "42100003", "42100004"}
    comment = by_id["42100004"]
    assert comment.text == (
        "We use Fietsbaan at work. The locks fail about once a week / station, "
        "and support takes days.\n\nThe e-bikes themselves are great though."
    )
    assert comment.html is not None and comment.html.startswith("<p>We use Fietsbaan")
    assert str(comment.url) == "https://news.ycombinator.com/item?id=42100004"
    assert (comment.reply_to_external_id, comment.thread_external_id) == ("42100003", "42100001")
    assert comment.created_at == datetime(2026, 11, 20, 10, 10, tzinfo=UTC)
    assert comment.author is not None and comment.author.handle == "annadv"
    assert str(comment.author.profile_url) == "https://news.ycombinator.com/user?id=annadv"
    story = by_id["42100001"]
    assert story.text == (
        "Fietsbaan raises Series B to expand bike sharing\n\nhttps://news.fietsbaan.example/series-b"
    )
    assert (story.engagement.score, story.engagement.replies) == (57, 2)
    assert story.thread_external_id == "42100001" and story.reply_to_external_id is None
    ask = by_id["42100002"]
    assert ask.text.startswith("Ask HN: Fietsbaan API?\n\nDoes anyone know")
    assert result.cursor["mark"] == {"at": 1795169400, "ids": ["42100004"]}
    request = loopback_server.requests[-1]
    assert (request.arg("query"), request.arg("tags")) == ("fietsbaan", "(story,comment)")
    assert request.arg("numericFilters") is None


async def test_second_poll_returns_nothing_new(
    loopback_server: LoopbackServer, algolia: FakeAlgolia, http_client: httpx.AsyncClient
) -> None:
    connector, cfg = HackerNewsConnector(), config(loopback_server)
    first = await connector.fetch(client=http_client, config=cfg, cursor={})

    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert second.items == [] and second.cursor["mark"] == first.cursor["mark"]
    assert loopback_server.requests[-1].arg("numericFilters") == "created_at_i>=1795169400"


async def test_a_hit_in_the_same_second_as_the_mark_is_still_new(
    loopback_server: LoopbackServer, algolia: FakeAlgolia, http_client: httpx.AsyncClient
) -> None:
    connector, cfg = HackerNewsConnector(), config(loopback_server)
    first = await connector.fetch(client=http_client, config=cfg, cursor={})
    late = copy.deepcopy(algolia.hits[0])
    late.update(objectID="42100005", comment_text="Same second, indexed later.")
    algolia.hits.append(late)

    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert [m.external_id for m in second.items] == ["42100005"]
    assert second.cursor["mark"] == {"at": 1795169400, "ids": ["42100004", "42100005"]}


async def test_pages_through_one_poll(
    loopback_server: LoopbackServer, algolia: FakeAlgolia, http_client: httpx.AsyncClient
) -> None:
    result = await HackerNewsConnector().fetch(
        client=http_client, config=config(loopback_server, page_size=2), cursor=old_mark()
    )

    assert [r.arg("page") for r in loopback_server.requests] == ["0", "1"]
    assert len(result.items) == 4 and result.cursor["resume"] is None


async def test_a_long_backlog_is_read_in_windows_without_gaps_or_repeats(
    loopback_server: LoopbackServer, algolia: FakeAlgolia, http_client: httpx.AsyncClient
) -> None:
    connector, cfg = HackerNewsConnector(), config(loopback_server, page_size=2, max_pages=1)
    cursor, seen = old_mark(), []
    for _ in range(4):
        result = await connector.fetch(client=http_client, config=cfg, cursor=cursor)
        seen += [m.external_id for m in result.items]
        cursor = result.cursor

    assert sorted(seen) == ["42100001", "42100002", "42100003", "42100004"]
    assert cursor["mark"] == {"at": 1795169400, "ids": ["42100004"]}
    assert cursor["resume"] is None
    windows = [r.arg("numericFilters") for r in loopback_server.requests]
    assert windows[1] == "created_at_i>=1795100000,created_at_i<=1795168800"


async def test_malformed_hit_is_rejected_and_the_rest_kept(
    loopback_server: LoopbackServer, algolia: FakeAlgolia, http_client: httpx.AsyncClient
) -> None:
    broken = copy.deepcopy(algolia.hits[1])
    broken.update(objectID="42100009", created_at="yesterday")
    del broken["created_at_i"]
    algolia.hits.append(broken)

    result = await HackerNewsConnector().fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    assert len(result.items) == 4
    [rejected] = result.rejected
    assert rejected.external_id == "42100009" and "timestamp" in rejected.reason


def test_hacker_news_has_no_write_actions() -> None:
    assert HackerNewsConnector.write_actions == frozenset()
