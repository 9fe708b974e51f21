"""Reddit connector against a loopback OAuth server and listing API."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from connectors._normalize import PlatformError
from connectors.reddit import RedditConfig, RedditConnector, TokenCache
from tests.connectors.servers import LoopbackServer, Reply, Request

PAYLOADS = Path(__file__).parent / "payloads" / "reddit"
TOKEN_PATH = "/api/v1/access_token"
NEW_PATH = "/r/fietsbaan/new"
COMMENTS_PATH = "/r/fietsbaan/comments"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


class FakeReddit:
    """OAuth tokens plus newest-first listings paged with `after` and `limit`."""

    def __init__(self, server: LoopbackServer) -> None:
        self.posts = load("subreddit_new.json")["data"]["children"]
        self.comments = load("subreddit_comments.json")["data"]["children"]
        self.tokens: list[str] = []
        self.rate_headers = {
            "X-Ratelimit-Used": "4",
            "X-Ratelimit-Remaining": "596.0",
            "X-Ratelimit-Reset": "420",
        }
        server.route(TOKEN_PATH, self.token, method="POST")
        server.route(NEW_PATH, lambda request: self.listing(request, self.posts))
        server.route(COMMENTS_PATH, lambda request: self.listing(request, self.comments))

    def token(self, request: Request) -> Reply:
        expected = base64.b64encode(b"fb-client:fb-secret").decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return Reply.json({"message": "Unauthorized", "error": 401}, status=401)
        body = load("access_token.json")
        body["access_token"] = f"token-{len(self.tokens) + 1}"
        self.tokens.append(body["access_token"])
        return Reply.json(body)

    def revoke_all(self) -> None:
        self.tokens.append("revoked-marker")

    def listing(self, request: Request, children: list[dict[str, Any]]) -> Reply:
        valid = self.tokens[-1:] if self.tokens else []
        if request.headers.get("authorization", "").removeprefix("bearer ") not in valid:
            return Reply.json({"message": "Unauthorized", "error": 401}, status=401)
        ordered = sorted(children, key=lambda c: c["data"]["created_utc"], reverse=True)
        names = [c["data"]["name"] for c in ordered]
        after = request.arg("after")
        start = names.index(after) + 1 if after in names else 0
        limit = int(request.arg("limit", "25") or 25)
        page = ordered[start : start + limit]
        more = start + limit < len(ordered)
        listing = {
            "kind": "Listing",
            "data": {
                "after": page[-1]["data"]["name"] if page and more else None,
                "dist": len(page),
                "modhash": "",
                "geo_filter": "",
                "before": None,
                "children": page,
            },
        }
        return Reply.json(listing, headers=self.rate_headers)


@pytest.fixture
def reddit(loopback_server: LoopbackServer) -> FakeReddit:
    return FakeReddit(loopback_server)


def config(server: LoopbackServer, **changes: Any) -> RedditConfig:
    settings: dict[str, Any] = {
        "api_url": server.base_url,
        "auth_url": server.url(TOKEN_PATH),
        "client_id": "fb-client",
        "client_secret": "fb-secret",
        "subreddit": "r/fietsbaan",
    }
    return RedditConfig(**(settings | changes))


def old_mark() -> dict[str, Any]:
    return {"mark": {"at": 1_795_100_000, "ids": []}, "resume": None, "pending": None}


async def test_first_poll_maps_posts_to_mentions(
    loopback_server: LoopbackServer, reddit: FakeReddit, http_client: httpx.AsyncClient
) -> None:
    result = await RedditConnector(TokenCache()).fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    assert [m.external_id for m in result.items] == [
        "t3_1gfb004",
        "t3_1gfb003",
        "t3_1gfb002",
        "t3_1gfb001",
    ]
    post = result.items[0]
    assert str(post.url) == (
        "https://www.reddit.com/r/fietsbaan/comments/1gfb004/"
        "fietsbaan_lock_at_noord_station_broken_again/"
    )
    assert post.text.startswith("Fietsbaan lock at Noord station broken again?\n\nThird time")
    assert post.html is not None and '<div class="md">' in post.html
    assert post.created_at == datetime.fromtimestamp(1795168800, tz=UTC)
    assert post.author is not None
    assert (post.author.platform_id, post.author.handle) == ("t2_annadv", "u/annadv")
    assert str(post.author.profile_url) == "https://www.reddit.com/user/annadv"
    assert (post.engagement.score, post.engagement.replies) == (42, 7)
    assert post.thread_external_id == "t3_1gfb004" and post.reply_to_external_id is None
    assert post.language is None
    assert result.cursor["mark"] == {"at": 1795168800, "ids": ["t3_1gfb004"]}
    request = loopback_server.requests[-1]
    assert (request.arg("raw_json"), request.arg("limit")) == ("1", "100")


async def test_deleted_author_is_no_author(
    loopback_server: LoopbackServer, reddit: FakeReddit, http_client: httpx.AsyncClient
) -> None:
    result = await RedditConnector(TokenCache()).fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    assert next(m for m in result.items if m.external_id == "t3_1gfb002").author is None


async def test_comments_carry_parent_and_thread_fullnames(
    loopback_server: LoopbackServer, reddit: FakeReddit, http_client: httpx.AsyncClient
) -> None:
    result = await RedditConnector(TokenCache()).fetch(
        client=http_client, config=config(loopback_server, listing="comments"), cursor={}
    )

    reply, top = result.items
    assert (reply.external_id, reply.reply_to_external_id) == ("t1_lq2c002", "t1_lq2c001")
    assert (top.reply_to_external_id, top.thread_external_id) == ("t3_1gfb004", "t3_1gfb004")
    assert reply.text == "Sorry Anna! We replaced the lock this morning. Could you **try again**?"
    assert loopback_server.hits(COMMENTS_PATH) == 1


async def test_second_poll_returns_nothing_new(
    loopback_server: LoopbackServer, reddit: FakeReddit, http_client: httpx.AsyncClient
) -> None:
    connector, cfg = RedditConnector(TokenCache()), config(loopback_server)
    first = await connector.fetch(client=http_client, config=cfg, cursor={})

    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert second.items == [] and second.cursor["mark"] == first.cursor["mark"]


async def test_walks_older_pages_with_after_until_the_watermark(
    loopback_server: LoopbackServer, reddit: FakeReddit, http_client: httpx.AsyncClient
) -> None:
    cursor = old_mark()
    cursor["mark"] = {"at": 1795162400, "ids": ["t3_1gfb002"]}

    result = await RedditConnector(TokenCache()).fetch(
        client=http_client, config=config(loopback_server, page_size=2), cursor=cursor
    )

    listings = [r for r in loopback_server.requests if r.path == NEW_PATH]
    assert [r.arg("after") for r in listings] == [None, "t3_1gfb003"]
    assert [m.external_id for m in result.items] == ["t3_1gfb004", "t3_1gfb003"]
    assert result.cursor["resume"] is None


async def test_token_is_fetched_once_and_reused(
    loopback_server: LoopbackServer, reddit: FakeReddit, http_client: httpx.AsyncClient
) -> None:
    tokens, cfg = TokenCache(), config(loopback_server, user_agent="web:luister-test:1.0")
    cursor: dict[str, Any] = {}
    for _ in range(3):
        cursor = (
            await RedditConnector(tokens).fetch(client=http_client, config=cfg, cursor=cursor)
        ).cursor

    assert loopback_server.hits(TOKEN_PATH) == 1
    token_request = loopback_server.requests[0]
    assert token_request.body == b"grant_type=client_credentials"
    listing = loopback_server.requests[-1]
    assert listing.headers["authorization"] == "bearer token-1"
    assert listing.headers["user-agent"] == "web:luister-test:1.0"


async def test_script_app_logs_in_with_the_password_grant(
    loopback_server: LoopbackServer, reddit: FakeReddit, http_client: httpx.AsyncClient
) -> None:
    cfg = config(loopback_server, username="fietsbaan_support", password="hunter2")

    await RedditConnector(TokenCache()).fetch(client=http_client, config=cfg, cursor={})

    form = loopback_server.requests[0].body.decode()
    assert "grant_type=password" in form and "username=fietsbaan_support" in form
    assert loopback_server.requests[-1].headers["user-agent"].endswith("(by /u/fietsbaan_support)")


async def test_refused_token_is_replaced_once(
    loopback_server: LoopbackServer, reddit: FakeReddit, http_client: httpx.AsyncClient
) -> None:
    connector, cfg = RedditConnector(TokenCache()), config(loopback_server)
    first = await connector.fetch(client=http_client, config=cfg, cursor={})
    reddit.revoke_all()

    await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert loopback_server.hits(TOKEN_PATH) == 2
    assert loopback_server.requests[-1].headers["authorization"] == "bearer token-3"


async def test_rate_limit_headers_are_exposed_and_a_spent_budget_pauses(
    loopback_server: LoopbackServer, reddit: FakeReddit, http_client: httpx.AsyncClient
) -> None:
    reddit.rate_headers = {
        "X-Ratelimit-Used": "600",
        "X-Ratelimit-Remaining": "0.0",
        "X-Ratelimit-Reset": "120",
    }
    connector, cfg = RedditConnector(TokenCache()), config(loopback_server, page_size=2)
    before = datetime.now(UTC)

    first = await connector.fetch(client=http_client, config=cfg, cursor=old_mark())
    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert len(first.items) == 2, "the page that spent the budget is kept"
    assert first.cursor["ratelimit"]["remaining"] == 0.0
    assert first.cursor["ratelimit"]["used"] == 600.0
    not_before = datetime.fromisoformat(first.cursor["not_before"])
    assert before + timedelta(seconds=110) < not_before < before + timedelta(seconds=130)
    assert first.cursor["resume"] == "t3_1gfb003", "the rest waits for the next poll"
    assert second.items == [] and loopback_server.hits(NEW_PATH) == 1


async def test_malformed_child_is_rejected_and_the_rest_kept(
    loopback_server: LoopbackServer, reddit: FakeReddit, http_client: httpx.AsyncClient
) -> None:
    broken = copy.deepcopy(reddit.posts[1])
    broken["data"].update(name="t3_1gfb005", id="1gfb005", created_utc=1795176000.0)
    del broken["data"]["permalink"]
    reddit.posts.append(broken)

    result = await RedditConnector(TokenCache()).fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    assert len(result.items) == 4
    [rejected] = result.rejected
    assert (rejected.external_id, rejected.reason) == ("t3_1gfb005", "missing permalink")


async def test_bad_credentials_fail_without_echoing_the_secret(
    loopback_server: LoopbackServer, reddit: FakeReddit, http_client: httpx.AsyncClient
) -> None:
    cfg = config(loopback_server, client_secret="wrong-secret")

    with pytest.raises(PlatformError) as caught:
        await RedditConnector(TokenCache()).fetch(client=http_client, config=cfg, cursor={})

    assert caught.value.status == 401 and "wrong-secret" not in str(caught.value)


def test_config_needs_something_to_read() -> None:
    with pytest.raises(ValidationError):
        RedditConfig(client_id="a", client_secret="b")
    with pytest.raises(ValidationError):
        RedditConfig(client_id="a", client_secret="b", subreddit="no spaces allowed")
