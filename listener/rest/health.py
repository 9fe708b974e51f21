"""Liveness and readiness; the only endpoints besides the docs that need no token."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from listener.rest.problems import problem_response, problem_responses

router = APIRouter(tags=["health"])

#: Seconds each dependency has to answer: a hung database must not hang the probe.
CHECK_SECONDS = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses=problem_responses(503))
async def readyz(request: Request) -> Any:
    """The database (and Redis, when configured) answer; 503 names the one that does not.

    With Redis, `workers` also says whether any `luister worker` reported in the last
    seconds (informational: the API serves without workers, but nothing is polled meanwhile).
    """
    checks: dict[str, str] = {"database": await _check(_ping_database(request))}
    settings = request.app.state.settings
    workers: str | None = None
    if settings.redis_url is not None:
        checks["redis"], workers = await _check_redis(
            settings.redis_url.get_secret_value(), settings.queue_name
        )
    extra: dict[str, Any] = {"workers": workers} if workers is not None else {}
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "ready", "checks": checks, **extra})
    failing = ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok")
    return problem_response(503, "Not ready", failing, slug="not-ready", checks=checks, **extra)


async def _ping_database(request: Request) -> None:
    async with request.app.state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check(probe: Any) -> str:
    """Await `probe`: "ok", or why not (the root cause's class, never its text: this is public)."""
    try:
        await asyncio.wait_for(probe, CHECK_SECONDS)
    except TimeoutError:
        return f"unreachable: no answer within {CHECK_SECONDS:g} s"
    except Exception as exc:  # any failure means not ready; say which
        return f"unreachable: {type(_root(exc)).__name__}"
    return "ok"


def _root(exc: BaseException) -> BaseException:
    """The driver's own error under SQLAlchemy's and redis-py's wrappers."""
    seen = exc
    for _ in range(10):  # a bound, in case a chain loops
        below = getattr(seen, "orig", None) or seen.__cause__
        if not isinstance(below, BaseException):
            break
        seen = below
    return seen


async def _check_redis(url: str, queue: str) -> tuple[str, str | None]:
    """Redis's state, and whether any worker reported (None when Redis cannot tell)."""
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        state = await _check(client.ping())
        if state != "ok":
            return state, None
        try:
            # Each arq worker refreshes this key every 10 s (it expires a second after).
            reported = await asyncio.wait_for(client.exists(f"{queue}:health-check"), 2)
        except Exception:
            return state, None
        return state, "reporting" if reported else "none reported in the last 11 s"
    finally:
        await client.aclose()
