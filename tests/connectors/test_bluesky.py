"""Bluesky connector against a loopback PDS: sessions, searchPosts windows and paging."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors._normalize import PlatformError, parse_timestamp
from connectors.bluesky import BlueskyConfig, BlueskyConnector, SessionCache
from tests.connectors.servers import LoopbackServer, Reply, Request

PAYLOADS = Path(__file__).parent / "payloads" / "bluesky"
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
CREATE = "/xrpc/com.atproto.server.createSession"
REFRESH = "/xrpc/com.atproto.server.refreshSession"
ANNA = "at://did:plc:annadevries/app.bsky.feed.post/3lbq7annaroot"
NEWEST = "at://did:plc:fietsbaanofficial/app.bsky.feed.post/3lbq7fietsb04"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def jwt(label: str, expires_in: float = 7200) -> str:
    """An unsigned JWT shaped like the PDS's, with an `exp` claim."""
    claims = {"scope": "com.atproto.appPass", "sub": "did:plc:fietsbaanofficial", "jti": label}
    claims["exp"] = int(datetime.now(UTC).timestamp() + expires_in)
    encode = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")  # noqa: E731
    return b".".join([encode({"typ": "at+jwt", "alg": "ES256K"}), encode(claims), b"sig"]).decode()


def sort_at(post: dict[str, Any]) -> datetime:
    return min(parse_timestamp(post["record"]["createdAt"]), parse_timestamp(post["indexedAt"]))


class FakePds:
    """Sessions plus searchPosts with since (inclusive), until (exclusive), limit and cursor."""

    def __init__(self, server: LoopbackServer) -> None:
        self.posts: list[dict[str, Any]] = load("search_posts.json")["posts"]
        self.access_lifetime = 7200.0
        self.issued = 0
        self.valid_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        server.route(CREATE, self.create_session, method="POST")
        server.route(REFRESH, self.refresh_session, method="POST")
        server.route(SEARCH, self.search)

    def _session(self) -> Reply:
        self.issued += 1
        body = load("create_session.json")
        body["accessJwt"] = jwt(f"access-{self.issued}", self.access_lifetime)
        body["refreshJwt"] = jwt(f"refresh-{self.issued}", 86400 * 60)
        self.valid_tokens.add(body["accessJwt"])
        self.refresh_tokens.add(body["refreshJwt"])
        return Reply.json(body)

    def create_session(self, request: Request) -> Reply:
        form = request.json()
        if (form["identifier"], form["password"]) != ("fietsbaan.example", "app-pass-1234"):
            return Reply.json(
                {"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
                status=401,
            )
        return self._session()

    def refresh_session(self, request: Request) -> Reply:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.refresh_tokens:
            return Reply.json({"error": "ExpiredToken", "message": "Token has expired"}, 400)
        self.refresh_tokens.discard(token)
        return self._session()

    def expire_all(self) -> None:
        self.valid_tokens.clear()

    def search(self, request: Request) -> Reply:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            return Reply.json({"error": "ExpiredToken", "message": "Token has expired"}, 400)
        hits = sorted(self.posts, key=sort_at, reverse=True)
        if since := request.arg("since"):
            hits = [p for p in hits if sort_at(p) >= parse_timestamp(since)]
        if until := request.arg("until"):
            hits = [p for p in hits if sort_at(p) < parse_timestamp(until)]
        start = int(request.arg("cursor", "0") or 0)
        limit = int(request.arg("limit", "25") or 25)
        page = hits[start : start + limit]
        body: dict[str, Any] = {"hitsTotal": len(hits), "posts": page}
        if start + limit < len(hits):
            body["cursor"] = str(start + limit)
        return Reply.json(body)


@pytest.fixture
def pds(loopback_server: LoopbackServer) -> FakePds:
    return FakePds(loopback_server)


def config(server: LoopbackServer, **changes: Any) -> BlueskyConfig:
    settings: dict[str, Any] = {
        "service_url": server.base_url,
        "identifier": "fietsbaan.example",
        "app_password": "app-pass-1234",
        "query": "fietsbaan",
    }
    return BlueskyConfig(**(settings | changes))


def old_mark() -> dict[str, Any]:
    """A cursor whose watermark lies before every fixture post."""
    at = int(datetime(2026, 11, 20, 8, tzinfo=UTC).timestamp() * 1_000_000)
    return {"mark": {"at": at, "ids": []}, "resume": None, "pending": None}


async def test_first_poll_maps_posts_to_mentions(
    loopback_server: LoopbackServer, pds: FakePds, http_client: httpx.AsyncClient
) -> None:
    result = await BlueskyConnector(SessionCache()).fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    assert len(result.items) == 4 and not result.rejected
    anna = next(m for m in result.items if m.external_id == ANNA)
    assert str(anna.url) == "https://bsky.app/profile/anna.bsky.example/post/3lbq7annaroot"
    assert anna.text == "Het slot van mijn Fietsbaan fiets gaat weer niet open 😤"
    assert anna.language == "nl" and anna.html is None
    assert anna.created_at == datetime(2026, 11, 20, 10, 0, 0, 501974, tzinfo=UTC)
    assert anna.author is not None
    assert anna.author.platform_id == "did:plc:annadevries"
    assert anna.author.handle == "@anna.bsky.example"
    assert anna.author.display_name == "Anna de Vries"
    assert (anna.engagement.likes, anna.engagement.reposts, anna.engagement.replies) == (7, 2, 1)
    reply = next(m for m in result.items if m.external_id == NEWEST)
    assert reply.reply_to_external_id == ANNA and reply.thread_external_id == ANNA
    request = loopback_server.requests[-1]
    assert (request.arg("q"), request.arg("sort"), request.arg("since")) == (
        "fietsbaan",
        "latest",
        None,
    )


async def test_image_only_post_is_read_through_its_alt_text(
    loopback_server: LoopbackServer, pds: FakePds, http_client: httpx.AsyncClient
) -> None:
    result = await BlueskyConnector(SessionCache()).fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    photo = next(m for m in result.items if "bramphoto" in m.external_id)
    assert photo.text == "A Fietsbaan bike with a flat tyre"
    assert str(photo.url) == "https://bsky.app/profile/did:plc:bramjansen/post/3lbq6bramphoto"


async def test_second_poll_returns_nothing_new(
    loopback_server: LoopbackServer, pds: FakePds, http_client: httpx.AsyncClient
) -> None:
    connector, cfg = BlueskyConnector(SessionCache()), config(loopback_server)
    first = await connector.fetch(client=http_client, config=cfg, cursor={})

    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert second.items == [] and not second.rejected
    assert loopback_server.requests[-1].arg("since") == "2026-11-20T10:05:00Z"
    assert second.cursor["mark"] == first.cursor["mark"]


async def test_session_is_created_once_and_reused(
    loopback_server: LoopbackServer, pds: FakePds, http_client: httpx.AsyncClient
) -> None:
    sessions = SessionCache()
    cfg = config(loopback_server)
    cursor: dict[str, Any] = {}
    for _ in range(3):
        # A fresh connector object each poll, as a worker might build one: the cache is shared.
        cursor = (
            await BlueskyConnector(sessions).fetch(client=http_client, config=cfg, cursor=cursor)
        ).cursor

    assert loopback_server.hits(CREATE) == 1
    assert loopback_server.hits(REFRESH) == 0
    assert loopback_server.hits(SEARCH) == 3


async def test_rejected_token_is_refreshed_not_recreated(
    loopback_server: LoopbackServer, pds: FakePds, http_client: httpx.AsyncClient
) -> None:
    connector, cfg = BlueskyConnector(SessionCache()), config(loopback_server)
    first = await connector.fetch(client=http_client, config=cfg, cursor={})
    pds.expire_all()
    pds.posts.append(copy.deepcopy(pds.posts[0]))
    pds.posts[-1]["uri"] = "at://did:plc:fietsbaanofficial/app.bsky.feed.post/3lbq8later"
    pds.posts[-1]["record"]["createdAt"] = "2026-11-20T11:00:00.000Z"
    pds.posts[-1]["indexedAt"] = "2026-11-20T11:00:00.100Z"

    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert [m.external_id for m in second.items] == [pds.posts[-1]["uri"]]
    assert (loopback_server.hits(CREATE), loopback_server.hits(REFRESH)) == (1, 1)


async def test_access_token_near_expiry_is_refreshed_before_searching(
    loopback_server: LoopbackServer, pds: FakePds, http_client: httpx.AsyncClient
) -> None:
    pds.access_lifetime = 30  # inside the one-minute margin
    connector, cfg = BlueskyConnector(SessionCache()), config(loopback_server)
    first = await connector.fetch(client=http_client, config=cfg, cursor={})

    await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert (loopback_server.hits(CREATE), loopback_server.hits(REFRESH)) == (1, 1)
    assert loopback_server.hits(SEARCH) == 2, "no request was wasted on a dying token"


async def test_pages_with_the_cursor_inside_one_poll(
    loopback_server: LoopbackServer, pds: FakePds, http_client: httpx.AsyncClient
) -> None:
    result = await BlueskyConnector(SessionCache()).fetch(
        client=http_client, config=config(loopback_server, page_size=2), cursor=old_mark()
    )

    searches = [r for r in loopback_server.requests if r.path == SEARCH]
    assert [r.arg("cursor") for r in searches] == [None, "2"]
    assert len(result.items) == 4
    assert result.cursor["mark"]["ids"] == [NEWEST] and result.cursor["resume"] is None


async def test_unfinished_window_continues_below_the_oldest_post_seen(
    loopback_server: LoopbackServer, pds: FakePds, http_client: httpx.AsyncClient
) -> None:
    connector = BlueskyConnector(SessionCache())
    cfg = config(loopback_server, page_size=2, max_pages=1)

    first = await connector.fetch(client=http_client, config=cfg, cursor=old_mark())
    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)
    third = await connector.fetch(client=http_client, config=cfg, cursor=second.cursor)

    assert [m.external_id for m in first.items] == [NEWEST, ANNA]
    assert first.cursor["resume"] == "2026-11-20T10:00:00.501974Z"
    assert len(second.items) == 2 and second.cursor["resume"] is None
    assert second.cursor["mark"]["ids"] == [NEWEST], "the backlog's newest mark is applied"
    assert third.items == []


async def test_malformed_post_is_rejected_and_the_rest_kept(
    loopback_server: LoopbackServer, pds: FakePds, http_client: httpx.AsyncClient
) -> None:
    broken = copy.deepcopy(pds.posts[1])
    broken["uri"] = "at://did:plc:annadevries/app.bsky.feed.like/3lbq7notapost"
    broken["indexedAt"] = "2026-11-20T10:02:00.000Z"
    broken["record"]["createdAt"] = "2026-11-20T10:02:00.000Z"
    pds.posts.append(broken)

    result = await BlueskyConnector(SessionCache()).fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    assert len(result.items) == 4
    [rejected] = result.rejected
    assert rejected.external_id == broken["uri"] and "not a post URI" in rejected.reason


async def test_session_rate_limit_is_reported_without_the_password(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    reset = int(datetime.now(UTC).timestamp() + timedelta(minutes=5).total_seconds())
    loopback_server.route(
        CREATE,
        Reply.json(
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            status=429,
            headers={"RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)},
        ),
        method="POST",
    )
    connector = BlueskyConnector(SessionCache())

    with pytest.raises(PlatformError) as caught:
        await connector.fetch(client=http_client, config=config(loopback_server), cursor={})

    assert caught.value.status == 429
    assert caught.value.retry_after is not None and 240 < caught.value.retry_after <= 300
    assert "app-pass-1234" not in str(caught.value)
