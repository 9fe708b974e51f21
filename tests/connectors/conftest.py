"""Fixtures shared by every connector test: loopback servers and guarded clients.

Stable API (other connector tests rely on it):

- `loopback_server`: a started `LoopbackServer` on 127.0.0.1, stopped after the test.
- `make_server(host="127.0.0.1")`: start more servers (127.0.0.2, ::1); skips the test when
  the address cannot be bound on this machine (fails it under CI=true).
- Every server fails its test at teardown if it recorded an exception (`ServerErrors`).
- `fake_time`: virtual clock; `fake_time.sleep` records and skips retry sleeps,
  `fake_time.monotonic` advances by what was slept, `fake_time.sleeps` lists the durations.
- `loopback_policy`: an `HttpPolicy` that admits 127.0.0.1 with short timeouts.
- `http_client`: a guarded client built from `loopback_policy` and `fake_time`.
- `make_http_client(policy=None, **policy_changes)`: more guarded clients (closed afterwards);
  `policy_changes` are `HttpPolicy` fields applied on top of `loopback_policy`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from connectors.http import GuardedClient, HttpPolicy, guarded_client
from tests.connectors.servers import LoopbackServer, loopback_available


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        """Record the sleep and advance the clock instead of waiting."""
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)

    def monotonic(self) -> float:
        """Current virtual time."""
        return self.now


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    """An HTTP server on 127.0.0.1 with an empty route table."""
    with LoopbackServer("127.0.0.1") as server:
        yield server
    # Leaving the block raises ServerErrors for anything the server's handlers raised.


@pytest.fixture
def make_server() -> Iterator[Callable[..., LoopbackServer]]:
    """Factory for more loopback servers; all are stopped after the test."""
    started: list[LoopbackServer] = []

    def start(host: str = "127.0.0.1") -> LoopbackServer:
        if not loopback_available(host):
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"cannot bind {host}: under CI=true the address-guard tests must run")
            pytest.skip(f"cannot bind {host} on this machine")
        server = LoopbackServer(host).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    for server in started:
        server.raise_errors()


@pytest.fixture
def fake_time() -> FakeTime:
    """Virtual time for retry and rate-limit sleeps."""
    return FakeTime()


@pytest.fixture
def loopback_policy() -> HttpPolicy:
    """Admit the 127.0.0.1 test servers (the allow-list's intended use) with short timeouts.

    The deadline is the production default, so waits a server asks for are honoured (on
    virtual time) exactly as in production.
    """
    return HttpPolicy(
        allow_hosts=("127.0.0.1",),
        deadline=30.0,
        connect_timeout=2.0,
        read_timeout=2.0,
        retries=3,
    )


@pytest.fixture
async def make_http_client(
    loopback_policy: HttpPolicy, fake_time: FakeTime
) -> AsyncIterator[Callable[..., GuardedClient]]:
    """Factory for guarded clients on virtual time; closed after the test."""
    clients: list[GuardedClient] = []

    def make(policy: HttpPolicy | None = None, **changes: Any) -> GuardedClient:
        chosen = dataclasses.replace(policy or loopback_policy, **changes)
        client = guarded_client(chosen, sleep=fake_time.sleep, clock=fake_time.monotonic)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def http_client(make_http_client: Callable[..., GuardedClient]) -> GuardedClient:
    """A guarded client that admits 127.0.0.1."""
    return make_http_client()
