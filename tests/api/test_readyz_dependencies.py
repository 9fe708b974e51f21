"""`/readyz` names the dependency that fails, and says whether any worker reported."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from listener.settings import Settings
from tests.connectors.servers import free_port

PROBLEM = "application/problem+json"


async def _client(engine: AsyncEngine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from api.http.app import create_app

    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://luister.test") as client:
        yield client


@pytest.fixture
async def no_redis(engine: AsyncEngine, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app configured with a Redis nobody listens on (a closed loopback port)."""
    dead = settings.model_copy(
        update={"redis_url": SecretStr(f"redis://127.0.0.1:{free_port()}/0")}
    )
    async for client in _client(engine, dead):
        yield client


async def test_readyz_is_503_naming_redis_when_it_is_down(no_redis: httpx.AsyncClient) -> None:
    response = await no_redis.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "unreachable: ConnectionError"}
    assert body["detail"] == "redis unreachable: ConnectionError"
    assert "workers" not in body  # Redis cannot tell


@pytest.mark.redis
async def test_readyz_says_whether_a_worker_reported(
    engine: AsyncEngine, settings: Settings, redis_url: str
) -> None:
    from redis.asyncio import Redis

    queue = f"luister:test:readyz:{uuid.uuid4().hex}"
    configured = settings.model_copy(
        update={"redis_url": SecretStr(redis_url), "queue_name": queue}
    )
    redis = Redis.from_url(redis_url)
    try:
        async for client in _client(engine, configured):
            before = (await client.get("/readyz")).json()
            # What an arq worker writes on its health check.
            await redis.set(f"{queue}:health-check", b"j_complete=0", px=11_000)
            after = (await client.get("/readyz")).json()
    finally:
        await redis.delete(f"{queue}:health-check")
        await redis.aclose()
    assert before["checks"] == {"database": "ok", "redis": "ok"}
    assert before["workers"] == "none reported in the last 11 s"
    assert after["status"] == "ready"
    assert after["workers"] == "reporting"
