"""Stack Exchange connector against a loopback API 2.3 that gzips like the real one."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors._normalize import PlatformError
from connectors.http import host_key, throttle_of
from connectors.stackexchange import StackExchangeConfig, StackExchangeConnector
from tests.connectors.servers import LoopbackServer, Reply, Request

PAYLOADS = Path(__file__).parent / "payloads" / "stackexchange"
SEARCH = "/2.3/search/advanced"
NEWEST_AT = 1795168800


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def gzipped(data: Any, status: int = 200) -> Reply:
    """The API compresses every response, errors included."""
    return Reply(
        status=status,
        body=gzip.compress(json.dumps(data).encode()),
        headers={"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "gzip"},
    )


class FakeStackExchange:
    """search/advanced with fromdate (inclusive), sort=creation, order, page and pagesize."""

    def __init__(self, server: LoopbackServer) -> None:
        self.wrapper = load("search_advanced.json")
        self.items: list[dict[str, Any]] = self.wrapper["items"]
        self.quota_remaining = self.wrapper["quota_remaining"]
        self.backoff: int | None = None
        server.route(SEARCH, self.search)

    def search(self, request: Request) -> Reply:
        assert request.arg("sort") == "creation" and request.arg("site") == "stackoverflow"
        newest_first = request.arg("order") != "asc"
        items = sorted(self.items, key=lambda q: q.get("creation_date", 0), reverse=newest_first)
        if fromdate := request.arg("fromdate"):
            items = [q for q in items if q.get("creation_date", 0) >= int(fromdate)]
        size, page = int(request.arg("pagesize") or 30), int(request.arg("page") or 1)
        self.quota_remaining -= 1
        body = {
            "items": items[(page - 1) * size : page * size],
            "has_more": page * size < len(items),
            "quota_max": self.wrapper["quota_max"],
            "quota_remaining": self.quota_remaining,
        }
        if self.backoff is not None:
            body["backoff"] = self.backoff
        return gzipped(body)


@pytest.fixture
def api(loopback_server: LoopbackServer) -> FakeStackExchange:
    return FakeStackExchange(loopback_server)


def config(server: LoopbackServer, **changes: Any) -> StackExchangeConfig:
    return StackExchangeConfig(api_url=server.url("/2.3"), query="fietsbaan", **changes)


def old_mark() -> dict[str, Any]:
    return {"mark": {"at": 1_795_100_000, "ids": []}}


async def test_first_poll_maps_questions_from_a_gzipped_body(
    loopback_server: LoopbackServer, api: FakeStackExchange, http_client: httpx.AsyncClient
) -> None:
    result = await StackExchangeConnector().fetch(
        client=http_client, config=config(loopback_server, key="app-key-1"), cursor={}
    )

    assert [m.external_id for m in result.items] == ["79900004", "79900003", "79900002", "79900001"]
    question = result.items[0]
    assert question.text == (
        "Fietsbaan API returns 401 after token refresh – what am I missing?\n\n"
        "I call the /stations endpoint of the Fietsbaan API with a fresh token:\n\n"
        'curl -H "Authorization: Bearer $TOKEN" https://api.fietsbaan.example/v1/stations\n\n'
        "It still answers 401. Any ideas?"
    )
    assert question.html is not None and question.html.startswith("<p>I call the <code>")
    assert str(question.url) == (
        "https://stackoverflow.example/questions/79900004/"
        "fietsbaan-api-returns-401-after-token-refresh"
    )
    assert question.created_at == datetime.fromtimestamp(NEWEST_AT, tz=UTC)
    assert question.thread_external_id == "79900004"
    engagement = question.engagement
    assert (engagement.score, engagement.replies, engagement.views) == (2, 0, 31)
    bram = result.items[1].author
    assert bram is not None and (bram.platform_id, bram.display_name) == ("3100002", "Bram O'Neill")
    assert result.items[2].author is None, "a deleted owner has no user_id"
    assert result.cursor == {
        "mark": {"at": NEWEST_AT, "ids": ["79900004"]},
        "quota_max": 10000,
        "quota_remaining": 9870,
    }
    request = loopback_server.requests[0]
    assert (request.arg("order"), request.arg("filter"), request.arg("key")) == (
        "desc",
        "withbody",
        "app-key-1",
    )


async def test_second_poll_returns_nothing_new(
    loopback_server: LoopbackServer, api: FakeStackExchange, http_client: httpx.AsyncClient
) -> None:
    connector, cfg = StackExchangeConnector(), config(loopback_server)
    first = await connector.fetch(client=http_client, config=cfg, cursor={})

    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert second.items == [] and second.cursor["mark"] == first.cursor["mark"]
    request = loopback_server.requests[-1]
    assert (request.arg("order"), request.arg("fromdate")) == ("asc", str(NEWEST_AT))


async def test_pages_oldest_first_while_has_more(
    loopback_server: LoopbackServer, api: FakeStackExchange, http_client: httpx.AsyncClient
) -> None:
    result = await StackExchangeConnector().fetch(
        client=http_client, config=config(loopback_server, page_size=2), cursor=old_mark()
    )

    assert [r.arg("page") for r in loopback_server.requests] == ["1", "2"]
    assert [m.external_id for m in result.items] == ["79900001", "79900002", "79900003", "79900004"]
    assert result.cursor["mark"] == {"at": NEWEST_AT, "ids": ["79900004"]}


async def test_backoff_stops_paging_and_holds_the_host(
    loopback_server: LoopbackServer, api: FakeStackExchange, http_client: httpx.AsyncClient
) -> None:
    api.backoff = 10
    cfg = config(loopback_server, page_size=2)
    before = datetime.now(UTC)

    result = await StackExchangeConnector().fetch(client=http_client, config=cfg, cursor=old_mark())

    assert len(loopback_server.requests) == 1 and len(result.items) == 2
    not_before = datetime.fromisoformat(result.cursor["not_before"])
    assert before + timedelta(seconds=9) < not_before < before + timedelta(seconds=12)
    assert result.cursor["mark"]["ids"] == ["79900002"], "the rest follows once the wait is over"
    throttle = throttle_of(http_client)
    assert throttle is not None and throttle.delay(host_key(loopback_server.base_url)) > 0


async def test_spent_quota_stops_polling_until_it_returns(
    loopback_server: LoopbackServer, api: FakeStackExchange, http_client: httpx.AsyncClient
) -> None:
    api.quota_remaining = 1
    connector, cfg = StackExchangeConnector(), config(loopback_server, page_size=2)

    first = await connector.fetch(client=http_client, config=cfg, cursor=old_mark())
    second = await connector.fetch(client=http_client, config=cfg, cursor=first.cursor)

    assert first.cursor["quota_remaining"] == 0 and len(first.items) == 2
    not_before = datetime.fromisoformat(first.cursor["not_before"])
    assert (not_before.hour, not_before.minute) == (0, 0) and not_before > datetime.now(UTC)
    assert second.items == [] and len(loopback_server.requests) == 1


async def test_throttle_violation_reports_the_wait_without_the_key(
    loopback_server: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback_server.route(SEARCH, gzipped(load("throttle_violation.json"), status=400))

    with pytest.raises(PlatformError) as caught:
        await StackExchangeConnector().fetch(
            client=http_client, config=config(loopback_server, key="secret-app-key"), cursor={}
        )

    assert caught.value.retry_after == 8450
    assert "throttle_violation" in str(caught.value)
    assert "secret-app-key" not in str(caught.value)


async def test_malformed_question_is_rejected_and_the_rest_kept(
    loopback_server: LoopbackServer, api: FakeStackExchange, http_client: httpx.AsyncClient
) -> None:
    broken = copy.deepcopy(api.items[0])
    broken.update(question_id=79900009, title="", body=None)
    api.items.append(broken)

    result = await StackExchangeConnector().fetch(
        client=http_client, config=config(loopback_server), cursor={}
    )

    assert len(result.items) == 4
    [rejected] = result.rejected
    assert rejected.external_id == "79900009" and "no title or body" in rejected.reason
