"""The guarded client against real loopback servers: headers, retries, rate limits, fetch."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from connectors.http import (
    FetchedResponse,
    GuardedClient,
    InvalidPayload,
    RateLimited,
    UpstreamError,
    describe_error,
    fetch,
    note_backoff,
    parse_reset,
    parse_retry_after,
)
from tests.connectors.conftest import FakeTime
from tests.connectors.servers import LoopbackServer, Reply, free_port

MakeClient = Callable[..., GuardedClient]


async def test_requests_carry_the_luister_user_agent_and_only_bounded_encodings(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route("/", Reply.json({}))
    await http_client.get(loopback_server.url("/"), headers={"Accept-Encoding": "br, zstd"})
    sent = loopback_server.requests[0].headers
    assert sent["user-agent"].startswith("Luister/")
    assert "(+" in sent["user-agent"]
    assert sent["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
    ],
)
async def test_compressed_bodies_arrive_decoded_through_plain_client_get(
    loopback_server: LoopbackServer,
    http_client: GuardedClient,
    encoding: str,
    compress: Callable[[bytes], bytes],
) -> None:
    payload = b'{"items": [' + b",".join(b"%d" % i for i in range(5000)) + b"]}"
    loopback_server.route(
        "/", Reply(body=compress(payload), headers={"Content-Encoding": encoding})
    )
    response = await http_client.get(loopback_server.url("/"))
    assert response.json()["items"][-1] == 4999
    assert "content-encoding" not in response.headers


async def test_environment_proxies_are_ignored(
    loopback_server: LoopbackServer, http_client: GuardedClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    loopback_server.route("/", Reply.json({"direct": True}))
    response = await http_client.get(loopback_server.url("/"))
    assert response.json() == {"direct": True}


async def test_429_with_retry_after_seconds_is_retried_after_that_wait(
    loopback_server: LoopbackServer, http_client: GuardedClient, fake_time: FakeTime
) -> None:
    loopback_server.route(
        "/", Reply(status=429, headers={"Retry-After": "7"}), Reply.json({"ok": True})
    )
    response = await http_client.get(loopback_server.url("/"))
    assert response.json() == {"ok": True}
    assert loopback_server.hits("/") == 2
    assert fake_time.sleeps[0] >= 7


async def test_429_with_retry_after_http_date_is_honoured(
    loopback_server: LoopbackServer, http_client: GuardedClient, fake_time: FakeTime
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    loopback_server.route("/", Reply(status=429, headers={"Retry-After": when}), Reply.json({}))
    await http_client.get(loopback_server.url("/"))
    assert 17 <= fake_time.sleeps[0] <= 21


async def test_burst_of_500s_then_success_is_retried_with_full_jitter(
    loopback_server: LoopbackServer, make_http_client: MakeClient, fake_time: FakeTime
) -> None:
    client = make_http_client(retries=3, retry_base=0.5)
    loopback_server.route(
        "/", Reply(status=500), Reply(status=502), Reply(status=503), Reply.json({})
    )
    response = await client.get(loopback_server.url("/"))
    assert response.status_code == 200
    assert loopback_server.hits("/") == 4
    assert len(fake_time.sleeps) == 3
    for attempt, slept in enumerate(fake_time.sleeps):
        assert 0 <= slept <= 0.5 * 2**attempt


async def test_persistent_500s_end_in_upstream_error_with_status(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route("/", Reply.json({"error": "down"}, status=500))
    with pytest.raises(UpstreamError) as caught:
        await fetch(http_client, loopback_server.url("/"))
    assert caught.value.status == 500
    assert loopback_server.hits("/") == 4  # first try + 3 retries
    assert "HTTP 500" in describe_error(caught.value)


async def test_post_is_not_repeated_after_a_500(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route("/reply", Reply(status=500), method="POST")
    response = await http_client.post(loopback_server.url("/reply"), json={"text": "hi"})
    assert response.status_code == 500
    assert loopback_server.hits("/reply") == 1


async def test_retry_after_longer_than_allowed_fails_fast_with_the_wait(
    loopback_server: LoopbackServer, http_client: GuardedClient, fake_time: FakeTime
) -> None:
    loopback_server.route("/", Reply(status=429, headers={"Retry-After": "3600"}))
    with pytest.raises(UpstreamError) as caught:
        await fetch(http_client, loopback_server.url("/"))
    assert caught.value.status == 429
    assert caught.value.retry_after == 3600
    assert fake_time.sleeps == []
    assert loopback_server.hits("/") == 1


async def test_refused_connections_are_retried_then_reported(
    http_client: GuardedClient, fake_time: FakeTime
) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(httpx.ConnectError) as caught:
        await http_client.get(url)
    assert len(fake_time.sleeps) == 3
    assert describe_error(caught.value).startswith("cannot connect")


async def test_exhausted_rate_limit_window_delays_the_next_request(
    loopback_server: LoopbackServer, http_client: GuardedClient, fake_time: FakeTime
) -> None:
    reset = (datetime.now(UTC) + timedelta(seconds=20)).isoformat()
    loopback_server.route(
        "/",
        Reply.json([], headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}),
        Reply.json([]),
    )
    await http_client.get(loopback_server.url("/"))
    assert fake_time.sleeps == []
    await http_client.get(loopback_server.url("/"))
    assert len(fake_time.sleeps) == 1
    assert 17 <= fake_time.sleeps[0] <= 20


@pytest.mark.parametrize(
    "headers",
    [
        {"RateLimit-Remaining": "0", "RateLimit-Reset": "12"},
        {"RateLimit": '"default";r=0;t=12'},
        {"x-ratelimit-remaining": "0.0", "x-ratelimit-reset": "12"},
    ],
)
async def test_ratelimit_header_variants_are_understood(
    loopback_server: LoopbackServer,
    http_client: GuardedClient,
    fake_time: FakeTime,
    headers: dict[str, str],
) -> None:
    loopback_server.route("/", Reply.json([], headers=headers), Reply.json([]))
    await http_client.get(loopback_server.url("/"))
    await http_client.get(loopback_server.url("/"))
    assert fake_time.sleeps == [pytest.approx(12)]


async def test_backoff_noted_by_a_connector_delays_that_host_only(
    loopback_server: LoopbackServer,
    make_server: Callable[..., LoopbackServer],
    http_client: GuardedClient,
    fake_time: FakeTime,
) -> None:
    other = make_server()
    loopback_server.route("/", Reply.json({}))
    other.route("/", Reply.json({}))
    note_backoff(http_client, loopback_server.url("/2.3/search"), 10)  # Stack Exchange `backoff`
    await http_client.get(other.url("/"))
    assert fake_time.sleeps == []
    await http_client.get(loopback_server.url("/"))
    assert fake_time.sleeps == [pytest.approx(10)]


async def test_backoff_longer_than_allowed_raises_rate_limited_without_sending(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    note_backoff(http_client, loopback_server.url("/"), 600)
    with pytest.raises(RateLimited) as caught:
        await http_client.get(loopback_server.url("/"))
    assert caught.value.retry_after == pytest.approx(600)
    assert loopback_server.requests == []


async def test_concurrency_per_host_is_limited(
    loopback_server: LoopbackServer, make_http_client: MakeClient
) -> None:
    client = make_http_client(per_host_concurrency=2)
    loopback_server.route("/slow", Reply(body=b"{}", delay=0.15))
    await asyncio.gather(*(client.get(loopback_server.url("/slow")) for _ in range(6)))
    assert loopback_server.hits("/slow") == 6
    assert loopback_server.max_in_flight == 2


async def test_fetch_returns_body_status_and_final_url_after_redirect(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route("/old", Reply.redirect("/new", status=301))
    loopback_server.route("/new", Reply.json({"moved": True}))
    fetched = await fetch(http_client, loopback_server.url("/old"))
    assert isinstance(fetched, FetchedResponse)
    assert (fetched.status, fetched.url) == (200, loopback_server.url("/new"))
    assert fetched.json() == {"moved": True}


async def test_fetch_returns_304_instead_of_raising(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route("/", Reply(status=304, headers={"ETag": '"v1"'}))
    fetched = await fetch(http_client, loopback_server.url("/"), headers={"If-None-Match": '"v1"'})
    assert fetched.status == 304
    assert fetched.body == b""


async def test_truncated_json_is_an_invalid_payload_with_a_one_line_reason(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route("/", Reply.text('{"items": [{"id": 1}, {"id": 2', "application/json"))
    fetched = await fetch(http_client, loopback_server.url("/"))
    with pytest.raises(InvalidPayload) as caught:
        fetched.json()
    assert "invalid JSON" in describe_error(caught.value)
    with pytest.raises(ValueError):  # plain client.get users get the usual JSON error
        (await http_client.get(loopback_server.url("/"))).json()


async def test_body_cut_off_before_its_content_length_is_a_protocol_error(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route(
        "/", Reply(body=b'{"items": [1, 2', headers={"Content-Length": "400"}, close=True)
    )
    with pytest.raises(httpx.RemoteProtocolError) as caught:
        await http_client.get(loopback_server.url("/"))
    assert describe_error(caught.value).startswith("the server broke the HTTP exchange")


def test_retry_after_parsing() -> None:
    now = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Sat, 01 Aug 2026 12:01:30 GMT", now) == 90
    assert parse_retry_after("Sat, 01 Aug 2026 11:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None


def test_reset_parsing_accepts_delta_unix_time_and_iso_dates() -> None:
    now = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
    assert parse_reset("42", now) == 42
    assert parse_reset(str(int(now.timestamp()) + 300), now) == 300
    assert parse_reset("2026-08-01T12:05:00.000Z", now) == 300
