"""Mastodon connector against a loopback server that pages like a Mastodon instance."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from connectors._normalize import PlatformError
from connectors.base import WriteAction
from connectors.mastodon import MastodonConfig, MastodonConnector
from tests.connectors.servers import LoopbackServer, Reply, Request

PAYLOADS = Path(__file__).parent / "payloads" / "mastodon"
TAG_PATH = "/api/v1/timelines/tag/fietsbaan"
ANNA_URI = "https://mastodon.example/users/anna/statuses/113599999999999001"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def _key(status_id: str) -> tuple[int, str]:
    return (len(status_id), status_id)


class FakeInstance:
    """A tag timeline with Mastodon's paging: min_id pages forward, pages are newest first."""

    def __init__(self, server: LoopbackServer, statuses: list[dict[str, Any]]) -> None:
        self.server = server
        self.statuses = statuses
        self.headers: dict[str, str] = {}

    def __call__(self, request: Request) -> Reply:
        limit = int(request.arg("limit", "20") or 20)
        oldest_first = sorted(self.statuses, key=lambda s: _key(s["id"]))
        min_id = request.arg("min_id")
        if min_id is not None:
            page = [s for s in oldest_first if _key(s["id"]) > _key(min_id)][:limit]
        else:
            page = oldest_first[-limit:]
        page.reverse()
        headers = dict(self.headers)
        if page:
            url = self.server.url(request.path)
            headers["Link"] = (
                f'<{url}?max_id={page[-1]["id"]}>; rel="next", '
                f'<{url}?min_id={page[0]["id"]}>; rel="prev"'
            )
        return Reply.json(page, headers=headers)


def config(server: LoopbackServer, **changes: Any) -> MastodonConfig:
    return MastodonConfig(instance_url=server.base_url, hashtag="#fietsbaan", **changes)


@pytest.fixture
def instance(loopback_server: LoopbackServer) -> FakeInstance:
    fake = FakeInstance(loopback_server, load("tag_timeline.json"))
    loopback_server.route(TAG_PATH, fake)
    return fake


async def test_first_poll_maps_statuses_to_mentions(
    loopback_server: LoopbackServer, instance: FakeInstance, http_client: httpx.AsyncClient
) -> None:
    result = await MastodonConnector().fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    by_id = {m.external_id: m for m in result.items}
    assert len(result.items) == 4 and not result.rejected
    anna = by_id[ANNA_URI]
    assert str(anna.url) == "https://mastodon.example/@anna/113599999999999001"
    assert anna.text == (
        "Al drie keer geprobeerd een fiets te huren bij station Noord & het slot gaat niet open.\n"
        "Iemand anders ook? #fietsbaan"
    )
    assert anna.html is not None and anna.html.startswith("<p>Al drie keer")
    assert anna.language == "nl"
    assert anna.created_at == datetime(2026, 11, 20, 10, 1, 12, 345000, tzinfo=UTC)
    assert anna.author is not None
    assert anna.author.handle == "@anna@mastodon.example"
    assert anna.author.platform_id == "https://mastodon.example/users/anna"
    assert anna.author.display_name == "Anna de Vries"
    assert anna.author.followers == 87
    assert (anna.engagement.likes, anna.engagement.reposts, anna.engagement.replies) == (5, 2, 1)
    assert result.cursor == {"min_id": "113600000000000004"}


async def test_reply_points_at_the_parent_uri_and_local_authors_get_the_instance_domain(
    loopback_server: LoopbackServer, instance: FakeInstance, http_client: httpx.AsyncClient
) -> None:
    result = await MastodonConnector().fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    answer = next(m for m in result.items if m.external_id.endswith("/113600000000000004"))
    assert answer.reply_to_external_id == ANNA_URI
    assert answer.author is not None and answer.author.handle == "@fietsbaan@127.0.0.1"


async def test_content_warning_is_kept_before_the_text(
    loopback_server: LoopbackServer, instance: FakeInstance, http_client: httpx.AsyncClient
) -> None:
    result = await MastodonConnector().fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    bram = next(m for m in result.items if "bram" in m.external_id)
    assert bram.text == (
        "Klacht\n\nThe #Fietsbaan app charged me twice for one ride.\n\n"
        "Support, please look at ride 4471."
    )
    assert bram.author is not None and bram.author.display_name is None


async def test_second_poll_returns_nothing_new(
    loopback_server: LoopbackServer, instance: FakeInstance, http_client: httpx.AsyncClient
) -> None:
    connector, cfg = MastodonConnector(), config(loopback_server)
    first = await connector.fetch(client=http_client, config=cfg, cursor={})

    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert second.items == [] and second.cursor == first.cursor
    assert loopback_server.requests[-1].arg("min_id") == "113600000000000004"


async def test_pages_forward_from_min_id_until_a_short_page(
    loopback_server: LoopbackServer, instance: FakeInstance, http_client: httpx.AsyncClient
) -> None:
    result = await MastodonConnector().fetch(
        client=http_client,
        config=config(loopback_server, page_size=2),
        cursor={"min_id": "113600000000000001"},
    )

    assert [r.arg("min_id") for r in loopback_server.requests] == [
        "113600000000000001",
        "113600000000000003",
    ]
    assert len(result.items) == 3
    assert result.cursor["min_id"] == "113600000000000004"


async def test_boost_is_unwrapped_to_the_original_status(
    loopback_server: LoopbackServer, instance: FakeInstance, http_client: httpx.AsyncClient
) -> None:
    instance.statuses.append(load("boost.json"))

    result = await MastodonConnector().fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    annas = [m for m in result.items if m.external_id == ANNA_URI]
    assert len(annas) == 1, "the boost and the original are one mention"
    assert len(result.items) == 4
    boosted = load("boost.json")
    unwrapped = next(m for m in result.items if m.raw == boosted)
    assert unwrapped.external_id == ANNA_URI
    assert unwrapped.author is not None and unwrapped.author.handle == "@anna@mastodon.example"


async def test_malformed_status_is_rejected_and_the_rest_kept(
    loopback_server: LoopbackServer, instance: FakeInstance, http_client: httpx.AsyncClient
) -> None:
    broken = copy.deepcopy(instance.statuses[0])
    broken.update(id="113600000000000009", uri="https://toot.example/s/9", created_at="gisteren")
    instance.statuses.append(broken)

    result = await MastodonConnector().fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    assert len(result.items) == 4
    [rejected] = result.rejected
    assert rejected.external_id == "https://toot.example/s/9"
    assert "timestamp" in rejected.reason and rejected.raw == broken
    assert result.cursor["min_id"] == "113600000000000009"


async def test_followers_only_status_is_not_a_mention(
    loopback_server: LoopbackServer, instance: FakeInstance, http_client: httpx.AsyncClient
) -> None:
    instance.statuses[1]["visibility"] = "private"

    result = await MastodonConnector().fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    assert ANNA_URI not in {m.external_id for m in result.items}
    assert len(result.items) == 3 and not result.rejected


async def test_spent_rate_limit_pauses_the_source_until_reset(
    loopback_server: LoopbackServer, instance: FakeInstance, http_client: httpx.AsyncClient
) -> None:
    reset = (datetime.now(UTC) + timedelta(minutes=4)).replace(microsecond=0)
    instance.headers = {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset.isoformat().replace("+00:00", ".000Z"),
    }
    connector, cfg = MastodonConnector(), config(loopback_server, page_size=2)

    first = await connector.fetch(client=http_client, config=cfg, cursor={"min_id": "1"})
    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert len(first.items) == 2, "the page that spent the budget is kept"
    assert first.cursor["not_before"] == reset.isoformat().replace("+00:00", "Z")
    assert second.items == [] and len(loopback_server.requests) == 1


async def test_search_sends_the_user_token(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    statuses = load("tag_timeline.json")[:2]
    loopback_server.route(
        "/api/v2/search", Reply.json({"accounts": [], "statuses": statuses, "hashtags": []})
    )
    cfg = MastodonConfig(
        instance_url=loopback_server.base_url, query="fietsbaan slot", access_token="tok-123"
    )

    result = await MastodonConnector().fetch(client=http_client, config=cfg, cursor={})

    request = loopback_server.requests[0]
    assert request.headers["authorization"] == "Bearer tok-123"
    assert (request.arg("q"), request.arg("type")) == ("fietsbaan slot", "statuses")
    assert len(result.items) == 2 and result.cursor == {"min_id": "113600000000000004"}


async def test_restricted_tag_feed_fails_without_echoing_the_token(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback_server.route(
        TAG_PATH, Reply.json({"error": "This API requires an authenticated user"}, status=401)
    )
    cfg = config(loopback_server, access_token="very-secret-token")

    with pytest.raises(PlatformError) as caught:
        await MastodonConnector().fetch(client=http_client, config=cfg, cursor={})

    assert caught.value.status == 401
    assert "authenticated user" in str(caught.value)
    assert "very-secret-token" not in str(caught.value)
    assert "very-secret-token" not in repr(cfg)


def test_config_wants_exactly_one_of_hashtag_or_query() -> None:
    with pytest.raises(ValidationError):
        MastodonConfig(instance_url="https://social.fietsbaan.example", hashtag="a", query="b")
    with pytest.raises(ValidationError, match="access_token"):
        MastodonConfig(instance_url="https://social.fietsbaan.example", query="fietsbaan")


def test_declares_every_write_action() -> None:
    assert MastodonConnector.write_actions == set(WriteAction)
