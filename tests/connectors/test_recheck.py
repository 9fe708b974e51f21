"""Re-checking: each connector tells gone items from live ones, from the platforms' own shapes.

Every platform is a loopback server answering as the platform documents it: Mastodon 404 and
410 and tombstones, Reddit's `[deleted]`/`[removed]` husks, Bluesky posts missing from
getPosts, Discourse 404s and `deleted_at`/`user_deleted`, Lemmy's `deleted`/`removed` flags.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors._bluesky_session import SessionCache
from connectors._reddit_token import TokenCache
from connectors.base import ItemRef, Rechecker, rechecker_for
from connectors.bluesky import BlueskyConfig, BlueskyConnector
from connectors.discourse import DiscourseConfig, DiscourseConnector
from connectors.lemmy import LemmyConfig, LemmyConnector
from connectors.mastodon import MastodonConfig, MastodonConnector
from connectors.reddit import RedditConfig, RedditConnector
from connectors.registry import CONNECTORS
from tests.connectors.servers import LoopbackServer, Reply, Request


def test_the_five_platforms_with_deletions_can_recheck() -> None:
    able = {kind for kind, cls in CONNECTORS.items() if rechecker_for(cls()) is not None}
    assert able == {"mastodon", "reddit", "bluesky", "discourse", "lemmy"}
    connector: Rechecker = MastodonConnector()
    assert isinstance(connector, Rechecker)


# -- Mastodon ---------------------------------------------------------------------------------


def status(server: LoopbackServer, status_id: str, **changes: Any) -> dict[str, Any]:
    """A status local to the loopback instance."""
    return {
        "id": status_id,
        "uri": server.url(f"/users/anna/statuses/{status_id}"),
        "url": server.url(f"/@anna/{status_id}"),
        "visibility": "public",
        "content": "<p>De fietsbaan is kapot</p>",
        "account": {"id": "7", "acct": "anna"},
        **changes,
    }


def local_ref(server: LoopbackServer, status_id: str) -> ItemRef:
    found = status(server, status_id)
    return ItemRef(found["uri"], found["url"], found)


async def test_mastodon_404_and_410_are_gone_and_a_public_status_alive(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    server = loopback_server
    server.route("/api/v1/statuses/101", Reply.json({"error": "Record not found"}, 404))
    server.route("/api/v1/statuses/102", Reply.json({"error": "Gone"}, 410))
    server.route("/api/v1/statuses/103", Reply.json(status(server, "103")))
    server.route("/api/v1/statuses/104", Reply.json(status(server, "104", visibility="private")))
    refs = [local_ref(server, i) for i in ("101", "102", "103", "104")]

    result = await MastodonConnector().recheck(
        client=http_client,
        config=MastodonConfig(instance_url=server.base_url, hashtag="fietsbaan"),
        refs=refs,
    )

    assert result.gone == [refs[0].external_id, refs[1].external_id, refs[3].external_id]
    assert result.alive == [refs[2].external_id]
    assert result.error is None


async def test_mastodon_remote_status_is_confirmed_at_its_origin(
    make_server: Any, http_client: httpx.AsyncClient
) -> None:
    instance: LoopbackServer = make_server()
    origin: LoopbackServer = make_server()
    deleted = origin.url("/users/bob/statuses/9001")
    alive = origin.url("/users/bob/statuses/9002")
    private = origin.url("/users/bob/statuses/9003")
    # The instance lost both copies (or the stored ids were another instance's): ask the origin.
    instance.route("/api/v1/statuses/{id}", Reply.json({"error": "Record not found"}, 404))
    origin.route(
        "/users/bob/statuses/9001",
        Reply.json({"id": deleted, "type": "Tombstone"}, 410),
    )
    origin.route("/users/bob/statuses/9002", Reply.json({"id": alive, "type": "Note"}))
    origin.route("/users/bob/statuses/9003", Reply.json({"error": "signature required"}, 401))
    refs = [
        ItemRef(uri, None, {"id": local_id, "uri": uri})
        for uri, local_id in ((deleted, "55"), (alive, "56"), (private, "57"))
    ]

    result = await MastodonConnector().recheck(
        client=http_client,
        config=MastodonConfig(instance_url=instance.base_url, hashtag="fietsbaan"),
        refs=refs,
    )

    assert result.gone == [deleted]
    assert result.alive == [alive]  # the origin still has it
    accept = [r.headers.get("accept") for r in origin.requests]
    assert accept == ["application/activity+json"] * 3
    assert all("authorization" not in r.headers for r in origin.requests)


async def test_mastodon_stops_when_the_rate_limit_is_spent_or_the_instance_refuses(
    loopback_server: LoopbackServer, make_http_client: Any
) -> None:
    server = loopback_server
    spent = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0"}
    spent["X-RateLimit-Reset"] = "2999-01-01T00:00:00.000Z"
    server.route("/api/v1/statuses/201", Reply.json(status(server, "201"), headers=spent))
    server.route("/api/v1/statuses/202", Reply.json({"error": "Record not found"}, 404))
    refs = [local_ref(server, "201"), local_ref(server, "202")]
    cfg = MastodonConfig(instance_url=server.base_url, hashtag="fietsbaan")

    result = await MastodonConnector().recheck(client=make_http_client(), config=cfg, refs=refs)

    assert result.alive == [refs[0].external_id] and result.gone == []
    assert result.error is not None and "rate limit" in result.error
    assert server.hits("/api/v1/statuses/202") == 0

    server.route("/api/v1/statuses/201", Reply.json({"error": "This API requires a token"}, 401))
    # A fresh client: the first one remembers that the host asked for a pause.
    refused = await MastodonConnector().recheck(client=make_http_client(), config=cfg, refs=refs)
    assert refused.gone == [] and refused.alive == []
    assert refused.error is not None and "401" in refused.error


# -- Reddit -----------------------------------------------------------------------------------


def thing(kind: str, thing_id: str, **data: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "data": {
            "id": thing_id,
            "name": f"{kind}_{thing_id}",
            "author": "anna",
            "permalink": f"/r/fietsbaan/comments/{thing_id}/",
            "created_utc": 1_795_000_000,
            **data,
        },
    }


async def test_reddit_deleted_and_removed_things_are_gone(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    server = loopback_server
    things = {
        # A comment its author deleted, one a moderator removed, one still there.
        "t1_del": thing("t1", "del", author="[deleted]", body="[deleted]"),
        "t1_rem": thing("t1", "rem", author="[deleted]", body="[removed]"),
        "t1_ok": thing("t1", "ok", body="Fietsbaan weer open"),
        # A post deleted by its author, a link post removed by the moderators, a live post.
        "t3_del": thing("t3", "del", author="[deleted]", selftext="[deleted]", title="Storing"),
        "t3_rem": thing("t3", "rem", selftext="", removed_by_category="moderator", title="x"),
        "t3_ok": thing("t3", "ok", selftext="Werkt weer", title="Update"),
    }
    asked: list[list[str]] = []

    def info(request: Request) -> Reply:
        names = (request.arg("id") or "").split(",")
        asked.append(names)
        children = [things[n] for n in names if n in things]
        return Reply.json({"kind": "Listing", "data": {"children": children, "after": None}})

    server.route(
        "/api/v1/access_token",
        Reply.json({"access_token": "tok", "expires_in": 3600}),
        method="POST",
    )
    server.route("/api/info", info)
    missing = [f"t1_x{i}" for i in range(120)]  # never returned: left unchecked
    refs = [ItemRef(name) for name in [*things, "not-a-fullname", *missing]]
    cfg = RedditConfig(
        api_url=server.base_url,
        auth_url=server.url("/api/v1/access_token"),
        client_id="fb-client",
        client_secret="fb-secret",  # type: ignore[arg-type]
        subreddit="fietsbaan",
    )

    result = await RedditConnector(tokens=TokenCache()).recheck(
        client=http_client, config=cfg, refs=refs
    )

    assert sorted(result.gone) == ["t1_del", "t1_rem", "t3_del", "t3_rem"]
    assert sorted(result.alive) == ["t1_ok", "t3_ok"]
    assert [len(batch) for batch in asked] == [100, 26], "100 fullnames per /api/info request"
    assert all(r.headers["authorization"] == "bearer tok" for r in server.requests[1:])


# -- Bluesky ----------------------------------------------------------------------------------


async def test_bluesky_posts_missing_from_get_posts_are_gone(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    server = loopback_server
    existing = {f"at://did:plc:anna/app.bsky.feed.post/{i:03d}" for i in range(0, 30, 2)}
    asked: list[list[str]] = []

    def get_posts(request: Request) -> Reply:
        assert request.headers["authorization"] == "Bearer access-1"
        uris = request.query.get("uris", [])
        asked.append(uris)
        posts = [{"uri": u, "cid": "bafy", "record": {}} for u in uris if u in existing]
        return Reply.json({"posts": posts})

    server.route(
        "/xrpc/com.atproto.server.createSession",
        Reply.json({"accessJwt": "access-1", "refreshJwt": "refresh-1", "did": "did:plc:lu"}),
        method="POST",
    )
    server.route("/xrpc/app.bsky.feed.getPosts", get_posts)
    uris = [f"at://did:plc:anna/app.bsky.feed.post/{i:03d}" for i in range(30)]
    cfg = BlueskyConfig(
        service_url=server.base_url,
        identifier="luister.test",
        app_password="app-pass",  # type: ignore[arg-type]
        query="fietsbaan",
    )

    result = await BlueskyConnector(sessions=SessionCache()).recheck(
        client=http_client, config=cfg, refs=[ItemRef(u) for u in [*uris, "https://x.test/1"]]
    )

    assert set(result.alive) == existing
    assert set(result.gone) == set(uris) - existing
    assert [len(batch) for batch in asked] == [25, 5], "getPosts takes 25 URIs at most"


async def test_bluesky_outage_decides_nothing(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    server = loopback_server
    server.route(
        "/xrpc/com.atproto.server.createSession",
        Reply.json({"accessJwt": "a", "refreshJwt": "r", "did": "did:plc:lu"}),
        method="POST",
    )
    server.route("/xrpc/app.bsky.feed.getPosts", Reply.json({"error": "InternalError"}, 400))
    cfg = BlueskyConfig(
        service_url=server.base_url,
        identifier="luister.test",
        app_password="app-pass",  # type: ignore[arg-type]
        query="fietsbaan",
    )
    result = await BlueskyConnector(sessions=SessionCache()).recheck(
        client=http_client,
        config=cfg,
        refs=[ItemRef("at://did:plc:anna/app.bsky.feed.post/001")],
    )
    assert result.gone == [] and result.alive == [] and result.error


# -- Discourse --------------------------------------------------------------------------------


async def test_discourse_404_deleted_at_and_user_deleted_are_gone(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    server = loopback_server
    post = {"id": 4, "topic_id": 7, "post_number": 2, "cooked": "<p>Fijn!</p>"}
    server.route("/posts/1.json", Reply.json({"errors": ["not found"]}, 404))
    server.route("/posts/2.json", Reply.json({**post, "id": 2, "deleted_at": "2026-11-27T10:00Z"}))
    server.route(
        "/posts/3.json",
        Reply.json({**post, "id": 3, "user_deleted": True, "cooked": "(post deleted by author)"}),
    )
    server.route("/posts/4.json", Reply.json({**post, "deleted_at": None, "user_deleted": False}))
    refs = [ItemRef(f"127.0.0.1:{i}", None, {"id": i}) for i in (1, 2, 3, 4)]
    refs.append(ItemRef("other.forum:5", None, {"id": 5}))  # another forum's post: not asked

    result = await DiscourseConnector().recheck(
        client=http_client, config=DiscourseConfig(base_url=server.base_url), refs=refs
    )

    assert result.gone == ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
    assert result.alive == ["127.0.0.1:4"]
    assert server.hits("/posts/5.json") == 0


# -- Lemmy ------------------------------------------------------------------------------------


def comment_view(comment_id: int, **flags: Any) -> dict[str, Any]:
    return {
        "comment": {
            "id": comment_id,
            "ap_id": f"https://lemmy.test/comment/{comment_id}",
            "content": "De fietsbaan",
            "deleted": False,
            "removed": False,
            **flags,
        },
        "post": {"id": 9, "deleted": False, "removed": False},
    }


async def test_lemmy_removed_and_deleted_items_are_gone(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    server = loopback_server
    server.route("/api/v4/site", Reply.json({"error": "not_found"}, 404))
    server.route("/api/v3/site", Reply.json({"all_languages": []}))

    def comment(request: Request) -> Reply:
        comment_id = int(request.arg("id") or 0)
        if comment_id == 1:
            return Reply.json({"comment_view": comment_view(1, removed=True)})
        if comment_id == 2:
            return Reply.json({"comment_view": comment_view(2, deleted=True)})
        if comment_id == 4:
            return Reply.json({"error": "couldnt_find_comment"}, 400)
        view = comment_view(comment_id)
        if comment_id == 5:
            view["post"]["removed"] = True  # the post it hangs under was removed
        return Reply.json({"comment_view": view})

    post_view = {"post": {"id": 9, "ap_id": "https://lemmy.test/post/9", "deleted": False}}
    server.route("/api/v3/comment", comment)
    server.route("/api/v3/post", Reply.json({"post_view": post_view}))
    refs = [
        ItemRef(f"https://lemmy.test/comment/{i}", None, comment_view(i)) for i in (1, 2, 3, 4, 5)
    ]
    refs.append(ItemRef("https://lemmy.test/post/9", None, post_view))

    result = await LemmyConnector(languages={}).recheck(
        client=http_client,
        config=LemmyConfig(instance_url=server.base_url, community="fietsbaan"),
        refs=refs,
    )

    assert result.gone == [
        "https://lemmy.test/comment/1",
        "https://lemmy.test/comment/2",
        "https://lemmy.test/comment/4",
        "https://lemmy.test/comment/5",
    ]
    assert result.alive == ["https://lemmy.test/comment/3", "https://lemmy.test/post/9"]
