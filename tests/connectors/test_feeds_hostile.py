"""Broken and hostile feeds: sloppy markup, legacy encodings, entity and compression bombs."""

from __future__ import annotations

import importlib.util
import pyexpat
import tracemalloc

import pytest

from connectors.base import FetchResult
from connectors.feeds import FeedConfig, FeedConnector
from connectors.http import GuardedClient, MiB, ResponseTooLarge
from tests.connectors.servers import LoopbackServer, Reply, gzip_bomb

GiB = 1024 * MiB


async def poll(client: GuardedClient, url: str) -> FetchResult:
    """One poll of `url` with the feed connector."""
    return await FeedConnector().fetch(client=client, config=FeedConfig(url=url), cursor={})


def cp1252_rss(declaration: bytes) -> bytes:
    """An RSS item whose title holds é, € and a curly quote in windows-1252 bytes."""
    return (
        declaration + b'<rss version="2.0"><channel><title>t</title><item><guid>1</guid>'
        b"<title>Caf\xe9 \x80 5 \x93goed\x94</title></item></channel></rss>"
    )


@pytest.mark.parametrize(
    ("declaration", "content_type"),
    [
        (b'<?xml version="1.0" encoding="windows-1252"?>', "application/rss+xml"),
        (b'<?xml version="1.0"?>', "application/rss+xml"),
        (b"", "text/xml"),
        (b'<?xml version="1.0"?>', "application/rss+xml; charset=windows-1252"),
    ],
    ids=["declared-in-xml", "undeclared", "no-prolog", "declared-in-http"],
)
async def test_windows_1252_feeds_decode_correctly(
    loopback_server: LoopbackServer,
    http_client: GuardedClient,
    declaration: bytes,
    content_type: str,
) -> None:
    loopback_server.route("/feed.xml", Reply.text(cp1252_rss(declaration), content_type))
    (item,) = (await poll(http_client, loopback_server.url("/feed.xml"))).items
    assert item.text == "Café € 5 “goed”"


async def test_malformed_feed_still_yields_its_entries(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    broken = (
        b"<rss><channel><title>x</title><item><title>a < b & c</title>"
        b"<link>https://blog.example.com/1</link><description>unclosed <b>bold"
    )
    loopback_server.route("/feed.xml", Reply.text(broken, "application/rss+xml"))
    (item,) = (await poll(http_client, loopback_server.url("/feed.xml"))).items
    assert item.external_id == "https://blog.example.com/1"
    assert item.text.startswith("a < b & c")


def billion_laughs(separator: bytes) -> bytes:
    """Nine levels of ten-fold entities: 10^9 "lol"s if anything expanded them."""
    entities = [b'<!ENTITY lol "lol">']
    for level in range(1, 10):
        ref = b"&lol;" if level == 1 else b"&lol%d;" % (level - 1)
        entities.append(b'<!ENTITY lol%d "%s">' % (level, ref * 10))
    return (
        b'<?xml version="1.0"?>'
        + separator
        + b"<!DOCTYPE rss ["
        + separator
        + separator.join(entities)
        + separator
        + b"]>"
        + separator
        + b'<rss version="2.0"><channel><title>&lol9;</title>'
        b"<item><guid>laughs</guid><title>&lol9;</title></item></channel></rss>"
    )


@pytest.mark.parametrize("separator", [b"\n", b""], ids=["one-per-line", "all-on-one-line"])
async def test_entity_expansion_bomb_is_not_expanded(
    loopback_server: LoopbackServer, http_client: GuardedClient, separator: bytes
) -> None:
    loopback_server.route("/feed.xml", Reply.text(billion_laughs(separator), "application/rss+xml"))
    tracemalloc.start()
    try:
        result = await poll(http_client, loopback_server.url("/feed.xml"))
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # Expanded, &lol9; is 10^9 "lol"s: memory and the items' text show it never was.
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"
    assert all(len(item.text) < 100 for item in result.items)


async def test_gzip_bomb_feed_is_refused_at_the_decoded_cap(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route(
        "/feed.xml",
        Reply(
            headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"},
            stream=gzip_bomb(2 * GiB),
        ),
    )
    with pytest.raises(ResponseTooLarge):
        await poll(http_client, loopback_server.url("/feed.xml"))


def test_feedparser_uses_expat_with_its_amplification_guard() -> None:
    # feedparser prefers libxml2 when its bindings import; our defences are tested with expat.
    assert importlib.util.find_spec("drv_libxml2") is None
    assert pyexpat.version_info >= (2, 4, 0)
