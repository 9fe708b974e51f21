"""Hostile bodies and slow servers stay bounded in bytes read and memory held.

No wall-clock assertions: how fast the cut-offs are is bench/'s business; here each limit is
shown by the work it spared (body bytes the server got to send, peak memory).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from connectors.http import (
    DeadlineExceeded,
    GuardedClient,
    MiB,
    ResponseTooLarge,
    describe_error,
    fetch,
)
from tests.connectors.servers import LoopbackServer, Reply, deflate_bomb, gzip_bomb, repeat_bytes

MakeClient = Callable[..., GuardedClient]
GiB = 1024 * MiB

# Body cap 15 MiB, plus the final copy into `bytes`, plus the server thread's chunks.
MEMORY_CEILING = 40 * MiB
# The 4 GiB bomb is about 4 MB on the wire; stopping at the 15 MiB decoded cap reads ~15 KB.
BOMB_WIRE_CEILING = 2 * MiB


@dataclass
class Usage:
    """Peak traced memory of a block."""

    peak: int = 0


@contextmanager
def measured() -> Iterator[Usage]:
    """Trace Python allocations (client and server threads alike) for the block."""
    usage = Usage()
    tracemalloc.start()
    try:
        yield usage
    finally:
        usage.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("encoding", "bomb"), [("gzip", gzip_bomb), ("deflate", deflate_bomb)], ids=["gzip", "deflate"]
)
async def test_compression_bomb_is_cut_off_at_the_decoded_cap(
    loopback_server: LoopbackServer,
    http_client: GuardedClient,
    encoding: str,
    bomb: Callable[[int], Callable[[], Iterator[bytes]]],
) -> None:
    # 4 GiB of zeros, about 4 MB on the wire, streamed by the server as it is generated.
    loopback_server.route(
        "/feed.xml", Reply(headers={"Content-Encoding": encoding}, stream=bomb(4 * GiB))
    )
    with measured() as usage, pytest.raises(ResponseTooLarge) as caught:
        await http_client.get(loopback_server.url("/feed.xml"))
    assert caught.value.what == "decoded"
    assert usage.peak < MEMORY_CEILING, f"peak {usage.peak / MiB:.1f} MiB"
    # The client hung up long before the ~4 MB bomb was on the wire (socket buffers aside).
    assert loopback_server.body_bytes_sent < BOMB_WIRE_CEILING


async def test_50_mb_body_with_content_length_is_refused_before_reading(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    size = 50 * 1000 * 1000
    loopback_server.route(
        "/big",
        Reply(headers={"Content-Length": str(size)}, stream=repeat_bytes(size)),
    )
    with measured() as usage, pytest.raises(ResponseTooLarge) as caught:
        await fetch(http_client, loopback_server.url("/big"))
    assert caught.value.what == "wire"
    assert usage.peak < 4 * MiB, f"peak {usage.peak / MiB:.1f} MiB"
    assert "response too large" in describe_error(caught.value)


async def test_50_mb_chunked_body_is_cut_off_at_the_cap(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route("/big", Reply(stream=repeat_bytes(50 * 1000 * 1000)))
    with measured() as usage, pytest.raises(ResponseTooLarge):
        await http_client.get(loopback_server.url("/big"))
    assert usage.peak < MEMORY_CEILING, f"peak {usage.peak / MiB:.1f} MiB"


async def test_caps_are_configurable(
    loopback_server: LoopbackServer, make_http_client: MakeClient
) -> None:
    client = make_http_client(max_decoded_bytes=1000, max_wire_bytes=10_000)
    loopback_server.route("/ok", Reply(body=b"x" * 1000))
    loopback_server.route("/over", Reply(stream=repeat_bytes(1001)))
    assert len((await client.get(loopback_server.url("/ok"))).content) == 1000
    with pytest.raises(ResponseTooLarge):
        await client.get(loopback_server.url("/over"))


async def test_slow_drip_body_is_stopped_by_the_overall_deadline(
    loopback_server: LoopbackServer, make_http_client: MakeClient
) -> None:
    # Every byte arrives well within the read timeout; only the deadline can stop this.
    client = make_http_client(deadline=0.6, read_timeout=2.0)
    loopback_server.route("/drip", Reply(stream=lambda: iter([b"<"] * 10_000), chunk_delay=0.02))
    with pytest.raises(DeadlineExceeded) as caught:
        await client.get(loopback_server.url("/drip"))
    assert describe_error(caught.value) == "no complete response within 0.6 s"
    # Cut off by the deadline, not by a finished body: 10,000 bytes would take 200 s to drip.
    assert loopback_server.body_bytes_sent < 10_000


async def test_server_that_never_answers_hits_the_read_timeout(
    loopback_server: LoopbackServer, make_http_client: MakeClient
) -> None:
    client = make_http_client(read_timeout=0.3)
    loopback_server.route("/hang", Reply(body=b"late", delay=5))
    with pytest.raises(httpx.ReadTimeout) as caught:
        await client.get(loopback_server.url("/hang"))
    assert describe_error(caught.value).startswith("timed out")
    # The client gave up before the 5 s delay ended: the late body was never sent.
    assert loopback_server.body_bytes_sent == 0
    assert loopback_server.hits("/hang") == 1


async def test_deadline_also_bounds_a_chain_of_redirects_in_fetch(
    loopback_server: LoopbackServer, make_http_client: MakeClient
) -> None:
    client = make_http_client(deadline=0.5)
    for hop in range(5):
        loopback_server.route(
            f"/{hop}", Reply(status=302, headers={"Location": f"/{hop + 1}"}, delay=0.2)
        )
    loopback_server.route("/5", Reply.json({}))
    with pytest.raises(DeadlineExceeded):
        await fetch(client, loopback_server.url("/0"))
    assert loopback_server.hits("/5") == 0
