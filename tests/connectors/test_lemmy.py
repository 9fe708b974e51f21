"""Lemmy connector against loopback instances speaking API v4 (1.0) or only v3 (0.19)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.lemmy import LemmyConfig, LemmyConnector
from tests.connectors.servers import LoopbackServer, Reply, Request

PAYLOADS = Path(__file__).parent / "payloads" / "lemmy"
POST_301 = "https://lemmy.example/post/301"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


class FakeLemmy:
    """One API version: /site, /post/list and /comment/list sorted New, paged like that version."""

    def __init__(self, server: LoopbackServer, version: str) -> None:
        self.version = version
        key = "items" if version == "v4" else None
        posts = load(f"{version}/post_list.json")
        comments = load(f"{version}/comment_list.json")
        self.posts: list[dict[str, Any]] = posts[key or "posts"]
        self.comments: list[dict[str, Any]] = comments[key or "comments"]
        server.route(f"/api/{version}/site", Reply.json(load(f"{version}/site.json")))
        server.route(f"/api/{version}/post/list", lambda r: self.listing(r, self.posts, "post"))
        server.route(
            f"/api/{version}/comment/list", lambda r: self.listing(r, self.comments, "comment")
        )

    def listing(self, request: Request, views: list[dict[str, Any]], kind: str) -> Reply:
        assert request.arg("sort") == "New" and request.arg("community_name") == "fietsbaan"
        stamp = "published_at" if self.version == "v4" else "published"
        ordered = sorted(views, key=lambda v: v[kind][stamp], reverse=True)
        limit = int(request.arg("limit") or 10)
        if self.version == "v3":
            page = int(request.arg("page") or 1)
            return Reply.json({f"{kind}s": ordered[(page - 1) * limit : page * limit]})
        start = int((request.arg("page_cursor") or "c0")[1:])
        body: dict[str, Any] = {"items": ordered[start : start + limit]}
        if start + limit < len(ordered):
            body["next_page"] = f"c{start + limit}"
        return Reply.json(body)


def config(server: LoopbackServer, **changes: Any) -> LemmyConfig:
    return LemmyConfig(instance_url=server.base_url, community="!fietsbaan", **changes)


@pytest.mark.parametrize("version", ["v4", "v3"])
async def test_first_poll_maps_posts_and_comments(
    version: str, loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    FakeLemmy(loopback_server, version)

    result = await LemmyConnector({}).fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    by_id = {m.external_id: m for m in result.items}
    assert set(by_id) == {
        "https://lemmy.other.example/post/9001",
        POST_301,
        "https://lemmy.example/comment/501",
        "https://lemmy.example/comment/502",
    }
    post = by_id[POST_301]
    assert post.text == "Lock at Noord will not open\n\nThird bike today, **still stuck**."
    assert post.language == "en" and post.html is None
    assert post.created_at == datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=UTC)
    assert post.thread_external_id == POST_301 and post.reply_to_external_id is None
    assert (post.engagement.score, post.engagement.likes, post.engagement.replies) == (6, 7, 2)
    assert post.author is not None and post.author.handle == "@anna@lemmy.example"
    assert post.author.display_name == "Anna de Vries"
    federated = by_id["https://lemmy.other.example/post/9001"]
    assert federated.language == "nl"
    assert federated.text.endswith("https://fietsbaan.example/nieuws/bibliotheek")
    answer = by_id["https://lemmy.example/comment/502"]
    assert answer.reply_to_external_id == "https://lemmy.example/comment/501", "parent from path"
    assert answer.thread_external_id == POST_301
    top = by_id["https://lemmy.example/comment/501"]
    assert top.reply_to_external_id == POST_301, "a top-level comment answers the post"
    assert top.author is not None and top.author.handle == "@kees@lemmy.other.example"
    assert result.cursor == {"api": version, "post_mark": 302, "comment_mark": 502}


async def test_v4_missing_falls_back_to_v3_and_remembers_it(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    FakeLemmy(loopback_server, "v3")  # /api/v4/* answers 404 from the route table
    connector, cfg = LemmyConnector({}), config(loopback_server)

    first = await connector.fetch(client=http_client, config=cfg, cursor={})
    await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    paths = [r.path for r in loopback_server.requests]
    assert paths[:2] == ["/api/v4/site", "/api/v3/site"]
    assert paths.count("/api/v4/site") == 1, "the second poll does not probe again"
    assert first.cursor["api"] == "v3" and len(first.items) == 4


async def test_second_poll_returns_nothing_new(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    FakeLemmy(loopback_server, "v4")
    connector, cfg = LemmyConnector({}), config(loopback_server)
    first = await connector.fetch(client=http_client, config=cfg, cursor={})

    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert second.items == [] and second.cursor == first.cursor


@pytest.mark.parametrize("version", ["v4", "v3"])
async def test_pages_until_known_ids(
    version: str, loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    lemmy = FakeLemmy(loopback_server, version)
    extra = copy.deepcopy(lemmy.posts[0])
    extra["post"].update(id=303, ap_id="https://lemmy.example/post/303")
    stamp = "published_at" if version == "v4" else "published"
    extra["post"][stamp] = "2026-11-20T11:00:00.000000Z"
    lemmy.posts.append(extra)
    cursor = {"api": version, "post_mark": 300, "comment_mark": 502}

    result = await LemmyConnector({}).fetch(
        client=http_client, config=config(loopback_server, page_size=2), cursor=cursor
    )

    lists = [r for r in loopback_server.requests if r.path.endswith("/post/list")]
    if version == "v4":
        assert [r.arg("page_cursor") for r in lists] == [None, "c2"]
    else:
        assert [r.arg("page") for r in lists] == ["1", "2"]
    assert len(result.items) == 3 and result.cursor["post_mark"] == 303


async def test_malformed_view_is_rejected_and_the_rest_kept(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    lemmy = FakeLemmy(loopback_server, "v4")
    broken = copy.deepcopy(lemmy.comments[0])
    broken["comment"].update(id=503, ap_id="https://lemmy.example/comment/503", content="")
    lemmy.comments.append(broken)

    result = await LemmyConnector({}).fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    assert len(result.items) == 4
    [rejected] = result.rejected
    assert rejected.external_id == "https://lemmy.example/comment/503"
    assert rejected.reason == "no text"


async def test_posts_only_when_comments_are_off(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    FakeLemmy(loopback_server, "v4")

    result = await LemmyConnector({}).fetch(
        client=http_client, config=config(loopback_server, include_comments=False), cursor={}
    )

    assert len(result.items) == 2 and loopback_server.hits("/api/v4/comment/list") == 0
