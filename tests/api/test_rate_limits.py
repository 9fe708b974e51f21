"""Rate limits: the 301st request in a window is a 429 with Retry-After and RateLimit headers,
counted per token (a desk session by its cookie; per address without one), shared through
Redis, health, docs and the desk's static files exempt."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from api.desk.session import COOKIE as DESK_COOKIE
from api.http.app import create_app
from listener.models import Role
from listener.rest.rate_limits import MemoryCounter, caller_key, close_rate_limits
from listener.settings import Settings
from tests.conftest import MakeStaff

LIMIT = 300
ME = "/api/v1/me"


def _client(app: FastAPI, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://luister.test")


@pytest.fixture
def make_app(engine: AsyncEngine, settings: Settings) -> Callable[..., FastAPI]:
    def _make(**changes: object) -> FastAPI:
        if isinstance(changes.get("redis_url"), str):
            changes["redis_url"] = SecretStr(str(changes["redis_url"]))  # model_copy skips it
        limited = settings.model_copy(
            update={"rate_limit_requests": LIMIT, "rate_limit_window_seconds": 60, **changes}
        )
        return create_app(limited, engine=engine)

    return _make


@pytest.fixture
async def apps() -> AsyncIterator[list[FastAPI]]:
    """Apps a test made; their Redis connections are closed afterwards."""
    made: list[FastAPI] = []
    yield made
    for app in made:
        await close_rate_limits(app)


def _assert_headers(response: httpx.Response, remaining: int) -> None:
    assert response.headers["RateLimit-Limit"] == str(LIMIT)
    assert response.headers["RateLimit-Remaining"] == str(remaining)
    assert 1 <= int(response.headers["RateLimit-Reset"]) <= 60


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "urn:luister:problem:rate-limited"
    assert body["status"] == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    _assert_headers(response, remaining=0)


async def test_301st_request_is_429_with_headers(
    make_app: Callable[..., FastAPI], make_staff: MakeStaff
) -> None:
    staff = await make_staff(Role.ANALYST)
    other = await make_staff(Role.ANALYST)
    async with _client(make_app()) as client:
        for n in range(1, LIMIT + 1):
            response = await client.get(ME, headers=staff.headers)
            assert response.status_code == 200, (n, response.text)
            _assert_headers(response, remaining=LIMIT - n)
        _assert_refused(await client.get(ME, headers=staff.headers))
        # Another token has its own count; health and the docs are never limited.
        ok = await client.get(ME, headers=other.headers)
        assert ok.status_code == 200
        _assert_headers(ok, remaining=LIMIT - 1)
        for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
            exempt = await client.get(path, headers=staff.headers)
            assert exempt.status_code == 200, path
            assert "RateLimit-Limit" not in exempt.headers


async def test_anonymous_requests_count_per_address(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(rate_limit_requests=3)
    async with _client(app, "192.0.2.7") as first, _client(app, "192.0.2.8") as second:
        statuses = [(await first.get(ME)).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        # A token that is not even well formed counts against the address too.
        forged = await first.get(ME, headers={"Authorization": "Bearer lst_nonsense"})
        assert forged.status_code == 429
        assert (await second.get(ME)).status_code == 401


async def test_a_desk_session_counts_as_its_own_caller_not_as_the_office_address(
    make_app: Callable[..., FastAPI], make_staff: MakeStaff
) -> None:
    """Colleagues signed in at the desk behind one address each have their own allowance."""
    anna, bram = await make_staff(Role.MODERATOR), await make_staff(Role.MODERATOR)
    app = make_app(rate_limit_requests=3)
    async with _client(app, "192.0.2.9") as office:
        for _ in range(3):
            await office.get("/login")
        refused = await office.get("/login")
        assert refused.status_code == 429  # the address has used its three
        for person in (anna, bram):
            office.cookies.set(DESK_COOKIE, person.token)
            statuses = [(await office.get("/queue")).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429], statuses
        office.cookies.clear()
        # A cookie that is not a well-formed token counts against the address as before.
        office.cookies.set(DESK_COOKIE, "lst_forged")
        assert (await office.get("/login")).status_code == 429
        # The desk's static files are never counted: the sign-in page still gets its styles.
        styles = await office.get("/static/desk.css")
        assert styles.status_code == 200
        assert "RateLimit-Limit" not in styles.headers


def test_caller_keys() -> None:
    assert caller_key({"headers": [], "client": ("2001:db8::1", 1)}) == "a:2001:db8::/64"
    assert caller_key({"headers": [], "client": ("::ffff:192.0.2.1", 1)}) == "a:192.0.2.1"
    assert caller_key({"headers": [], "client": None}) == "a:unknown"
    bad = [(b"authorization", b"Bearer lst_x")]
    assert caller_key({"headers": bad, "client": ("192.0.2.1", 1)}) == "a:192.0.2.1"
    # Without the cookie's name, or with another cookie only, a desk cookie is not looked at.
    cookie = [(b"cookie", b"theme=dark; luister_desk=lst_x")]
    assert caller_key({"headers": cookie, "client": ("192.0.2.1", 1)}) == "a:192.0.2.1"
    scope = {"headers": cookie, "client": ("192.0.2.1", 1)}
    assert caller_key(scope, token_cookie="luister_desk") == "a:192.0.2.1"  # not well formed


async def test_memory_window_restarts_after_it_ends() -> None:
    now = [100.0]
    counter = MemoryCounter(clock=lambda: now[0])
    assert (await counter.hit("k", 60)).count == 1
    assert (await counter.hit("k", 60)).count == 2
    now[0] += 59.5
    hit = await counter.hit("k", 60)
    assert hit.count == 3
    assert hit.reset_seconds == pytest.approx(0.5)
    now[0] += 1
    assert (await counter.hit("k", 60)).count == 1


@pytest.mark.backend("postgresql")
async def test_two_processes_share_the_count_through_redis(
    make_app: Callable[..., FastAPI],
    make_staff: MakeStaff,
    redis_url: str,
    apps: list[FastAPI],
) -> None:
    staff = await make_staff(Role.ANALYST)
    apps.extend([make_app(redis_url=redis_url), make_app(redis_url=redis_url)])
    async with _client(apps[0]) as one, _client(apps[1]) as two:
        for n in range(1, LIMIT + 1):
            response = await (one if n % 2 else two).get(ME, headers=staff.headers)
            assert response.status_code == 200, (n, response.text)
            _assert_headers(response, remaining=LIMIT - n)
        _assert_refused(await one.get(ME, headers=staff.headers))
        _assert_refused(await two.get(ME, headers=staff.headers))


async def test_redis_down_counts_in_process(
    make_app: Callable[..., FastAPI], make_staff: MakeStaff, apps: list[FastAPI]
) -> None:
    staff = await make_staff(Role.ANALYST)
    # Nothing listens on port 9 of loopback: every Redis call fails at once.
    apps.append(make_app(redis_url=f"redis://127.0.0.1:9/0?x={uuid.uuid4().hex}"))
    async with _client(apps[0]) as client:
        first = await client.get(ME, headers=staff.headers)
        second = await client.get(ME, headers=staff.headers)
    assert first.status_code == second.status_code == 200
    _assert_headers(second, remaining=LIMIT - 2)


async def test_disabled_limit_adds_no_headers(
    make_app: Callable[..., FastAPI], make_staff: MakeStaff
) -> None:
    staff = await make_staff(Role.ANALYST)
    async with _client(make_app(rate_limit_enabled=False)) as client:
        response = await client.get(ME, headers=staff.headers)
    assert response.status_code == 200
    assert "RateLimit-Limit" not in response.headers
