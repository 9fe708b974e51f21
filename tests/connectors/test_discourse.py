"""Discourse connector against a loopback forum: latest posts, search and API keys."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from connectors.discourse import DiscourseConfig, DiscourseConnector
from tests.connectors.servers import LoopbackServer, Reply, Request

PAYLOADS = Path(__file__).parent / "payloads" / "discourse"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


class FakeForum:
    """/posts.json newest first with `before`, /search.json pages, and /posts/{id}.json."""

    def __init__(self, server: LoopbackServer) -> None:
        self.posts: list[dict[str, Any]] = load("latest_posts.json")["latest_posts"]
        self.page_size = 50
        self.search_body = load("search.json")
        server.route("/posts.json", self.latest)
        server.route("/search.json", self.search)
        server.route("/posts/{post_id}.json", self.post)

    def latest(self, request: Request) -> Reply:
        posts = sorted(self.posts, key=lambda p: p["id"], reverse=True)
        if before := request.arg("before"):
            posts = [p for p in posts if p["id"] < int(before)]
        return Reply.json({"latest_posts": posts[: self.page_size]})

    def search(self, request: Request) -> Reply:
        assert request.arg("q", "").endswith(" order:latest")
        body = copy.deepcopy(self.search_body)
        page = int(request.arg("page") or 1)
        body["posts"] = body["posts"][(page - 1) * self.page_size : page * self.page_size]
        more = page * self.page_size < len(self.search_body["posts"])
        body["grouped_search_result"]["more_full_page_results"] = True if more else None
        return Reply.json(body)

    def post(self, request: Request) -> Reply:
        found = [p for p in self.posts if str(p["id"]) == request.params["post_id"]]
        if not found:
            missing = {"errors": ["The requested URL or resource could not be found."]}
            return Reply.json(missing, status=404)
        return Reply.json(found[0])


@pytest.fixture
def forum(loopback_server: LoopbackServer) -> FakeForum:
    return FakeForum(loopback_server)


def config(server: LoopbackServer, **changes: Any) -> DiscourseConfig:
    return DiscourseConfig(base_url=server.base_url, **changes)


def old_mark() -> dict[str, Any]:
    return {"mark": {"at": 1000, "ids": ["1000"]}, "resume": None, "pending": None}


async def test_first_poll_maps_latest_posts(
    loopback_server: LoopbackServer, forum: FakeForum, http_client: httpx.AsyncClient
) -> None:
    result = await DiscourseConnector().fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    assert [m.external_id for m in result.items] == [
        "127.0.0.1:1004",
        "127.0.0.1:1003",
        "127.0.0.1:1002",
        "127.0.0.1:1001",
    ]
    answer, anna = result.items[0], result.items[1]
    assert answer.text == "Thanks Anna, the lock at Noord has been replaced. Could you try again?"
    assert answer.reply_to_external_id == "127.0.0.1:1003"
    assert answer.thread_external_id == "127.0.0.1:topic:210"
    assert str(anna.url) == f"{loopback_server.base_url}/t/lock-at-noord-will-not-open/210/2"
    assert anna.text == "Same again today. The app says unlocked, the lock says no."
    assert anna.html == "<p>Same again today. The app says <em>unlocked</em>, the lock says no.</p>"
    assert anna.created_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert anna.author is not None
    assert (anna.author.platform_id, anna.author.handle) == ("41", "@anna")
    assert str(anna.author.profile_url) == f"{loopback_server.base_url}/u/anna"
    assert (anna.engagement.replies, anna.engagement.views) == (1, 10)
    assert result.cursor["mark"] == {"at": 1004, "ids": ["1004"]}
    assert loopback_server.requests[0].headers["accept"] == "application/json"


async def test_second_poll_returns_nothing_new(
    loopback_server: LoopbackServer, forum: FakeForum, http_client: httpx.AsyncClient
) -> None:
    connector, cfg = DiscourseConnector(), config(loopback_server)
    first = await connector.fetch(client=http_client, config=cfg, cursor={})

    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert second.items == [] and second.cursor["mark"] == first.cursor["mark"]


async def test_pages_back_with_before_until_the_watermark(
    loopback_server: LoopbackServer, forum: FakeForum, http_client: httpx.AsyncClient
) -> None:
    forum.page_size = 2

    result = await DiscourseConnector().fetch(
        client=http_client, config=config(loopback_server), cursor=old_mark()
    )

    assert [r.arg("before") for r in loopback_server.requests] == [None, "1003", "1001"]
    assert len(result.items) == 4 and result.cursor["resume"] is None


async def test_search_fetches_full_posts_for_blurbs(
    loopback_server: LoopbackServer, forum: FakeForum, http_client: httpx.AsyncClient
) -> None:
    forum.posts = [p for p in forum.posts if p["id"] != 1001]  # e.g. deleted since indexing

    result = await DiscourseConnector().fetch(
        client=http_client, config=config(loopback_server, query="noord"), cursor={}
    )

    first, second = result.items
    assert first.html is not None and "<em>unlocked</em>" in first.html, "from /posts/1003.json"
    assert second.html is None, "a post the forum will not show keeps its blurb"
    assert second.text == "The lock at station Noord will not open. Tried three bikes."
    assert str(second.url) == f"{loopback_server.base_url}/t/lock-at-noord-will-not-open/210/1"
    assert loopback_server.requests[0].arg("q") == "noord order:latest"


async def test_api_key_headers_are_sent_when_configured(
    loopback_server: LoopbackServer, forum: FakeForum, http_client: httpx.AsyncClient
) -> None:
    cfg = config(loopback_server, api_key="k-123", api_username="system")

    await DiscourseConnector().fetch(client=http_client, config=cfg, cursor={})

    headers = loopback_server.requests[0].headers
    assert (headers["api-key"], headers["api-username"]) == ("k-123", "system")


async def test_malformed_post_is_rejected_and_moderator_notes_skipped(
    loopback_server: LoopbackServer, forum: FakeForum, http_client: httpx.AsyncClient
) -> None:
    broken = copy.deepcopy(forum.posts[0])
    broken.update(id=1005, created_at=None)
    note = copy.deepcopy(forum.posts[0])
    note.update(id=1006, post_type=3, cooked="<p>closed this topic</p>")
    forum.posts += [broken, note]

    result = await DiscourseConnector().fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    assert len(result.items) == 4
    [rejected] = result.rejected
    assert rejected.external_id == "127.0.0.1:1005" and "timestamp" in rejected.reason
    assert result.cursor["mark"]["at"] == 1006


def test_api_key_needs_a_username() -> None:
    with pytest.raises(ValidationError):
        DiscourseConfig(base_url="https://forum.fietsbaan.example", api_key="k")
