"""Replies reach each platform with the right threading fields, once, within its rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import BaseModel

from connectors.base import WriteAction
from connectors.bluesky import BlueskyConfig, BlueskyConnector
from connectors.discourse import DiscourseConfig, DiscourseConnector
from connectors.lemmy import LemmyConfig, LemmyConnector
from connectors.mastodon import MastodonConfig, MastodonConnector
from connectors.reddit import RedditConfig, RedditConnector
from connectors.stackexchange import StackExchangeConfig, StackExchangeConnector
from connectors.writes import PostRef, RuleViolation, Writer, WriteRequest, find_own_reply
from tests.connectors.fake_platforms import (
    FakeBluesky,
    FakeDiscourse,
    FakeLemmy,
    FakeMastodon,
    FakeReddit,
    FakeStackExchange,
)
from tests.connectors.servers import LoopbackServer

TEXT = "Thanks for telling us, the fix for the bike lane app ships on Monday."


def reply(target: PostRef, text: str = TEXT, key: str = "key-1") -> WriteRequest:
    return WriteRequest(WriteAction.REPLY, text, key, target=target)


def mastodon_setup(server: LoopbackServer) -> tuple[FakeMastodon, MastodonConfig, PostRef]:
    fake = FakeMastodon(server)
    anna = fake.add_status("The bike lane app loses my rides", acct="anna@mastodon.example")
    config = MastodonConfig(instance_url=server.base_url, hashtag="fietsbaan", access_token="token")  # type: ignore[arg-type]
    target = PostRef(anna["uri"], url=anna["url"], author_handle="@anna@mastodon.example")
    return fake, config, target


async def test_mastodon_reply_resolves_the_status_and_mentions_its_author(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    fake, config, target = mastodon_setup(loopback_server)

    result = await MastodonConnector().reply(
        client=http_client, config=config, request=reply(target)
    )

    [sent] = fake.posted("/api/v1/statuses")
    anna_local_id = next(iter(fake.statuses))
    assert sent.json()["in_reply_to_id"] == anna_local_id
    assert sent.json()["status"] == f"@anna@mastodon.example {TEXT}"
    assert sent.headers["idempotency-key"] == "key-1"
    assert sent.headers["authorization"] == "Bearer token"
    [search] = [r for r in loopback_server.requests if r.path == "/api/v2/search"]
    assert search.arg("resolve") == "true" and search.arg("q") == target.external_id
    assert result.external_id == fake.ours()[0]["uri"]


async def test_mastodon_creates_one_status_for_a_repeated_idempotency_key(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    fake, config, target = mastodon_setup(loopback_server)
    connector = MastodonConnector()

    first = await connector.reply(client=http_client, config=config, request=reply(target))
    again = await connector.reply(client=http_client, config=config, request=reply(target))

    assert len(fake.posted("/api/v1/statuses")) == 2
    assert len(fake.ours()) == 1
    assert first.external_id == again.external_id


async def test_mastodon_checks_the_instance_limit_counting_links_as_23(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    fake, config, target = mastodon_setup(loopback_server)
    fake.max_characters = 60
    link = "https://example.org/" + "very-long-path/" * 10
    fits = reply(target, text=f"See {link}")  # 23 + "@anna " + "See " ≈ 33

    checked = await MastodonConnector().check(client=http_client, config=config, request=fits)
    with pytest.raises(RuleViolation, match="allows 60"):
        await MastodonConnector().check(
            client=http_client, config=config, request=reply(target, text="x" * 60)
        )

    assert checked.text.startswith("@anna@mastodon.example See ")
    assert not fake.posted("/api/v1/statuses")


def bluesky_target() -> PostRef:
    root = {"uri": "at://did:plc:anna/app.bsky.feed.post/root", "cid": "cid-root"}
    parent = {
        "uri": "at://did:plc:bob/app.bsky.feed.post/parent",
        "cid": "cid-parent",
        "author": {"did": "did:plc:bob", "handle": "bob.example"},
        "record": {"text": "me too", "reply": {"root": root, "parent": root}},
        "indexedAt": "2026-11-27T09:00:00Z",
    }
    return PostRef(parent["uri"], raw=parent)


async def test_bluesky_reply_names_the_thread_root_and_the_parent(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    fake = FakeBluesky(loopback_server)
    config = BlueskyConfig(
        service_url=loopback_server.base_url,
        identifier="luister.example",
        app_password="pw",
        query="x",
    )  # type: ignore[arg-type]

    await BlueskyConnector().reply(
        client=http_client,
        config=config,
        request=reply(bluesky_target(), text=f"{TEXT} https://fiets.example/fix"),
    )

    [record] = fake.records
    refs = record["record"]["reply"]
    assert refs["root"] == {"uri": "at://did:plc:anna/app.bsky.feed.post/root", "cid": "cid-root"}
    assert refs["parent"] == {"uri": bluesky_target().external_id, "cid": "cid-parent"}
    [facet] = record["record"]["facets"]
    text = record["record"]["text"].encode()
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert text[start:end] == b"https://fiets.example/fix"


async def test_bluesky_counts_graphemes_not_code_points(http_client: httpx.AsyncClient) -> None:
    config = BlueskyConfig(identifier="x", app_password="pw", query="x")  # type: ignore[arg-type]
    accented = "e\u0301"  # one grapheme (é), two code points
    connector = BlueskyConnector()

    await connector.check(
        client=http_client, config=config, request=reply(bluesky_target(), accented * 300)
    )
    with pytest.raises(RuleViolation, match="301 graphemes"):
        await connector.check(
            client=http_client, config=config, request=reply(bluesky_target(), accented * 301)
        )


async def test_reddit_reply_goes_to_the_fullname_and_refuses_anything_else(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    fake = FakeReddit(loopback_server)
    config = RedditConfig(
        api_url=loopback_server.base_url,
        auth_url=loopback_server.url("/api/v1/access_token"),
        client_id="app",
        client_secret="s",
        username="luister",
        password="pw",
        subreddit="fietsen",
    )  # type: ignore[arg-type]
    connector = RedditConnector()

    result = await connector.reply(
        client=http_client, config=config, request=reply(PostRef("t3_abc"))
    )
    with pytest.raises(RuleViolation, match="fullname"):
        await connector.reply(client=http_client, config=config, request=reply(PostRef("abc")))

    [sent] = fake.posted("/api/comment")
    form = parse_qs(sent.body.decode())
    assert form["thing_id"] == ["t3_abc"] and form["text"] == [TEXT]
    assert sent.headers["authorization"] == "bearer reddit-token"
    assert result.external_id.startswith("t1_")


async def test_discourse_reply_names_the_topic_and_post_number(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    fake = FakeDiscourse(loopback_server)
    fake.add_post("The app is broken")
    second = fake.add_post("Same for me, it crashes", username="bob")
    config = DiscourseConfig(
        base_url=loopback_server.base_url, api_key="key", api_username="luister"
    )  # type: ignore[arg-type]

    result = await DiscourseConnector().reply(
        client=http_client, config=config, request=reply(PostRef("x", raw=second))
    )

    [sent] = fake.posted("/posts.json")
    assert sent.json() == {"raw": TEXT, "topic_id": 7, "reply_to_post_number": 2}
    assert sent.headers["api-username"] == "luister"
    assert result.external_id == f"127.0.0.1:{fake.posts[-1]['id']}"


async def test_lemmy_reply_names_the_post_and_parent_comment_after_logging_in(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    fake = FakeLemmy(loopback_server)
    anna = fake.add_comment("Where is the night mode?")
    config = LemmyConfig(
        instance_url=loopback_server.base_url,
        community="fietsen",
        username="luister",
        password="pw",
    )  # type: ignore[arg-type]

    result = await LemmyConnector().reply(
        client=http_client,
        config=config,
        request=reply(PostRef(anna["comment"]["ap_id"], raw=anna)),
    )

    [sent] = fake.posted("/api/v3/comment")
    assert sent.json() == {"content": TEXT, "post_id": 55, "parent_id": anna["comment"]["id"]}
    assert result.external_id == fake.comments[-1]["comment"]["ap_id"]


async def test_stack_exchange_answers_the_question_with_key_and_token(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    fake = FakeStackExchange(loopback_server)
    config = StackExchangeConfig(
        api_url=loopback_server.url("/2.3"), query="fiets", key="k", access_token="t"
    )  # type: ignore[arg-type]

    result = await StackExchangeConnector().reply(
        client=http_client, config=config, request=reply(PostRef("4711"))
    )

    [sent] = fake.posted("/2.3/questions/4711/answers/add")
    form = parse_qs(sent.body.decode())
    assert form["body"] == [TEXT] and form["key"] == ["k"] and form["access_token"] == ["t"]
    assert result.external_id == str(fake.answers[0]["answer_id"])


Setup = Callable[[LoopbackServer], tuple[Any, BaseModel, PostRef, Writer]]


def _mastodon(server: LoopbackServer) -> tuple[Any, BaseModel, PostRef, Writer]:
    fake, config, target = mastodon_setup(server)
    return fake, config, target, MastodonConnector()


def _discourse(server: LoopbackServer) -> tuple[Any, BaseModel, PostRef, Writer]:
    fake = FakeDiscourse(server)
    first = fake.add_post("The app is broken")
    config = DiscourseConfig(base_url=server.base_url, api_key="key", api_username="luister")  # type: ignore[arg-type]
    return fake, config, PostRef(f"127.0.0.1:{first['id']}", raw=first), DiscourseConnector()


def _lemmy(server: LoopbackServer) -> tuple[Any, BaseModel, PostRef, Writer]:
    fake = FakeLemmy(server)
    anna = fake.add_comment("Where is the night mode?")
    config = LemmyConfig(
        instance_url=server.base_url, community="fietsen", username="luister", password="pw"
    )  # type: ignore[arg-type]
    return fake, config, PostRef(anna["comment"]["ap_id"], raw=anna), LemmyConnector()


def _reddit(server: LoopbackServer) -> tuple[Any, BaseModel, PostRef, Writer]:
    fake = FakeReddit(server)
    config = RedditConfig(
        api_url=server.base_url,
        auth_url=server.url("/api/v1/access_token"),
        client_id="app",
        client_secret="s",
        username="luister",
        password="pw",
        subreddit="fietsen",
    )  # type: ignore[arg-type]
    return fake, config, PostRef("t3_abc", thread_external_id="t3_abc"), RedditConnector()


def _bluesky(server: LoopbackServer) -> tuple[Any, BaseModel, PostRef, Writer]:
    fake = FakeBluesky(server)
    config = BlueskyConfig(
        service_url=server.base_url, identifier="luister.example", app_password="pw", query="x"
    )  # type: ignore[arg-type]
    return fake, config, bluesky_target(), BlueskyConnector()


def _stackexchange(server: LoopbackServer) -> tuple[Any, BaseModel, PostRef, Writer]:
    fake = FakeStackExchange(server)
    config = StackExchangeConfig(
        api_url=server.url("/2.3"), query="fiets", key="k", access_token="t"
    )  # type: ignore[arg-type]
    return fake, config, PostRef("4711"), StackExchangeConnector()


@pytest.mark.parametrize(
    "setup",
    [_mastodon, _discourse, _lemmy, _reddit, _bluesky, _stackexchange],
    ids=["mastodon", "discourse", "lemmy", "reddit", "bluesky", "stackexchange"],
)
async def test_our_earlier_reply_is_found_in_the_thread_and_only_ours(
    setup: Setup, loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    fake, config, target, writer = setup(loopback_server)
    request = reply(target)
    since = datetime.now(UTC) - timedelta(seconds=1)

    before = await find_own_reply(
        writer, client=http_client, config=config, request=request, since=since
    )
    made = await writer.reply(client=http_client, config=config, request=request)
    found = await find_own_reply(
        writer, client=http_client, config=config, request=request, since=since
    )
    other = await find_own_reply(
        writer,
        client=http_client,
        config=config,
        request=reply(target, text="Something else entirely, really."),
        since=since,
    )

    assert before is None and other is None
    assert found is not None and found.external_id == made.external_id
    assert len(fake.creates) == 1
