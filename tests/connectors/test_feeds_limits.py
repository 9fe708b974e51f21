"""Feed documents are bounded: entries read, element depth, and one bad entry never fails a feed."""

from __future__ import annotations

import pytest

from connectors.base import FetchResult
from connectors.feeds import MAX_DEPTH, MAX_ENTRIES, FeedConfig, FeedConnector, FeedTooExpensive
from connectors.http import GuardedClient, InvalidPayload
from tests.connectors.servers import LoopbackServer, Reply


async def poll(client: GuardedClient, url: str) -> FetchResult:
    """One poll of `url` with the feed connector."""
    return await FeedConnector().fetch(client=client, config=FeedConfig(url=url), cursor={})


def rss(items: str) -> bytes:
    """An RSS 2.0 document around `items`."""
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    ).encode()


async def test_at_most_max_entries_are_read_from_one_document(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    items = "".join(
        f"<item><guid>urn:{n}</guid><title>Entry {n}</title></item>"
        for n in range(MAX_ENTRIES + 500)
    )
    loopback_server.route("/feed.xml", Reply.text(rss(items), "application/rss+xml"))
    result = await poll(http_client, loopback_server.url("/feed.xml"))
    assert len(result.items) == MAX_ENTRIES
    assert result.items[0].external_id == "urn:0"  # the first (newest) ones are kept


async def test_elements_nested_past_the_limit_are_refused_before_parsing(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    deep = "<div>" * (MAX_DEPTH + 1)
    body = rss(f"<item><guid>1</guid><title>x</title><description>{deep}</description></item>")
    loopback_server.route("/feed.xml", Reply.text(body, "application/rss+xml"))
    with pytest.raises(FeedTooExpensive, match="elements nested more than 512 deep"):
        await poll(http_client, loopback_server.url("/feed.xml"))


async def test_sloppy_html_that_never_closes_its_tags_is_not_deep(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    # Raw, unescaped HTML that leaves <p>, <li> and <br> open, in many items: real feeds do this.
    sloppy = "<p>one<p>two<br><ul><li>a<li>b</ul><img src='x'>" * 40
    items = "".join(
        f"<item><guid>urn:{n}</guid><title>Entry {n}</title><description>{sloppy}"
        "</description></item>"
        for n in range(30)
    )
    loopback_server.route("/feed.xml", Reply.text(rss(items), "application/rss+xml"))
    result = await poll(http_client, loopback_server.url("/feed.xml"))
    assert len(result.items) == 30


async def test_nesting_inside_cdata_and_escaped_html_is_only_text(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    deep = "<div>" * (MAX_DEPTH * 2)
    escaped = "&lt;div&gt;" * (MAX_DEPTH * 2)
    body = rss(
        f"<item><guid>urn:1</guid><title>a</title>"
        f"<description><![CDATA[{deep}]]></description></item>"
        f"<item><guid>urn:2</guid><title>b</title><description>{escaped}</description></item>"
    )
    loopback_server.route("/feed.xml", Reply.text(body, "application/rss+xml"))
    result = await poll(http_client, loopback_server.url("/feed.xml"))
    assert [item.external_id for item in result.items] == ["urn:1", "urn:2"]


async def test_an_atom_entry_dated_year_0_keeps_the_rest_of_the_feed(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    atom = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b"<entry><id>urn:1</id><title>Good</title><updated>2026-11-17T10:00:00Z</updated></entry>"
        b"<entry><id>urn:0</id><title>Zero</title><updated>0000-01-01T00:00:00Z</updated></entry>"
        b"<entry><id>urn:2</id><title>Good too</title><updated>2026-11-17T11:00:00Z</updated>"
        b"</entry></feed>"
    )
    loopback_server.route("/atom.xml", Reply.text(atom, "application/atom+xml"))
    result = await poll(http_client, loopback_server.url("/atom.xml"))
    assert [item.external_id for item in result.items] == ["urn:1", "urn:0", "urn:2"]
    assert not result.rejected


async def test_a_json_feed_nested_too_deeply_is_the_connectors_own_error(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    body = b'{"version": "https://jsonfeed.org/version/1.1", "items": [' + b"[" * 50_000
    body += b"]" * 50_000 + b"]}"
    loopback_server.route("/feed.json", Reply.text(body, "application/feed+json"))
    with pytest.raises(InvalidPayload, match="is JSON nested too deeply to read"):
        await poll(http_client, loopback_server.url("/feed.json"))


async def test_json_feed_items_keep_a_bounded_raw_payload(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    nested: object = "bottom"
    for _ in range(200):
        nested = {"down": nested}
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [{"id": "1", "content_text": "hello", "_deep": nested}],
    }
    loopback_server.route("/feed.json", Reply.json(feed))
    (item,) = (await poll(http_client, loopback_server.url("/feed.json"))).items
    assert item.raw is not None and item.raw["content_text"] == "hello"
    depth, node = 0, item.raw["_deep"]
    while isinstance(node, dict):
        depth, node = depth + 1, node["down"]
    assert depth < 10 and node is None
