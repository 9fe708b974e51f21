"""The feed connector against real loopback servers: formats, conditional GET, dedupe."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import FetchResult
from connectors.feeds import FeedConfig, FeedConnector
from connectors.http import BlockedAddress, GuardedClient, InvalidPayload, guarded_client
from connectors.registry import UnknownKind, get_connector, list_kinds
from tests.connectors.servers import LoopbackServer, Reply

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:slash="http://purl.org/rss/1.0/modules/slash/">
<channel>
  <title>Acme blog</title>
  <link>https://blog.example.com/</link>
  <language>nl-NL</language>
  <item>
    <guid isPermaLink="false">post-42</guid>
    <title>Why we switched to Acme DB</title>
    <link>https://blog.example.com/posts/acme-db</link>
    <description>&lt;p&gt;Acme DB cut our &lt;b&gt;p99&lt;/b&gt; in half.&lt;/p&gt;
      &lt;script&gt;alert(1)&lt;/script&gt;&lt;p&gt;Second paragraph.&lt;/p&gt;</description>
    <dc:creator>Jane Doe</dc:creator>
    <pubDate>Sat, 01 Aug 2026 09:30:00 +0200</pubDate>
    <slash:comments>7</slash:comments>
  </item>
  <item>
    <title>No guid, just a link</title>
    <link>https://blog.example.com/posts/2</link>
    <pubDate>Fri, 31 Jul 2026 08:00:00 GMT</pubDate>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Acme news</title>
  <id>tag:news.example.com,2026:feed</id>
  <updated>2026-08-01T10:00:00Z</updated>
  <entry>
    <id>tag:news.example.com,2026:1</id>
    <title>Acme ships 2.0</title>
    <link href="/news/acme-2"/>
    <updated>2026-08-01T10:00:00Z</updated>
    <author><name>Piet</name><uri>https://news.example.com/piet</uri></author>
    <content type="html" xml:lang="de"
      >&lt;p&gt;Jetzt &lt;a href="/docs"&gt;verfügbar&lt;/a&gt;.&lt;/p&gt;</content>
  </entry>
</feed>
""".encode()

JSON_FEED: dict[str, Any] = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Acme podcast",
    "language": "en",
    "items": [
        {
            "id": "ep-1",
            "url": "https://pod.example.com/1",
            "title": "Episode one",
            "content_html": "<p>We talk about <em>Acme</em>.</p>",
            "date_published": "2026-08-01T09:00:00-04:00",
            "authors": [{"name": "Sam", "url": "https://pod.example.com/sam"}],
        },
        {"id": "ep-2", "content_text": "Plain text only.", "date_modified": "2026-08-02T00:00:00Z"},
        {"id": "ep-3"},
    ],
}


def rss_with(items: list[tuple[str, str]]) -> bytes:
    """A small RSS document with (guid, title) items."""
    body = "".join(
        f'<item><guid isPermaLink="false">{guid}</guid><title>{title}</title>'
        "<pubDate>Sat, 01 Aug 2026 09:30:00 GMT</pubDate></item>"
        for guid, title in items
    )
    channel = f"<channel><title>t</title>{body}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


async def poll(
    client: GuardedClient, url: str, cursor: dict[str, Any] | None = None, **config: Any
) -> FetchResult:
    """One poll of `url` with the feed connector."""
    return await FeedConnector().fetch(
        client=client, config=FeedConfig(url=url, **config), cursor=cursor or {}
    )


async def test_rss_entries_become_mentions(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route("/feed.xml", Reply.text(RSS, "application/rss+xml"))
    result = await poll(http_client, loopback_server.url("/feed.xml"))
    first, second = result.items
    assert first.platform == "rss"
    assert first.external_id == "post-42"
    assert str(first.url) == "https://blog.example.com/posts/acme-db"
    assert (
        first.text
        == "Why we switched to Acme DB\n\nAcme DB cut our p99 in half.\n\nSecond paragraph."
    )
    # HTML is kept as received; the one nh3 cleaner makes it safe when it is shown.
    assert first.html is not None and "<b>p99</b>" in first.html
    assert "alert" not in first.text
    assert first.language == "nl-NL"
    assert first.created_at == datetime(2026, 8, 1, 7, 30, tzinfo=UTC)
    assert first.author is not None and first.author.display_name == "Jane Doe"
    assert first.engagement.replies == 7
    assert first.raw is not None and json.dumps(first.raw)
    assert second.external_id == "https://blog.example.com/posts/2"
    assert result.rejected == []


async def test_atom_entry_language_and_relative_links_resolve(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route("/atom", Reply.text(ATOM, "application/atom+xml"))
    (item,) = (await poll(http_client, loopback_server.url("/atom"))).items
    assert item.external_id == "tag:news.example.com,2026:1"
    assert item.language == "de"
    assert str(item.url) == loopback_server.url("/news/acme-2")
    assert item.html is not None and f'href="{loopback_server.url("/docs")}"' in item.html
    assert (
        item.author is not None and str(item.author.profile_url) == "https://news.example.com/piet"
    )
    assert item.text == "Acme ships 2.0\n\nJetzt verfügbar."


async def test_json_feed_items_become_mentions_and_empty_ones_are_rejected(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route(
        "/feed.json", Reply.json(JSON_FEED, headers={"Content-Type": "application/feed+json"})
    )
    result = await poll(http_client, loopback_server.url("/feed.json"))
    one, two = result.items
    assert (one.external_id, one.language, one.text) == (
        "ep-1",
        "en",
        "Episode one\n\nWe talk about Acme.",
    )
    assert one.created_at == datetime(2026, 8, 1, 13, 0, tzinfo=UTC)
    assert one.author is not None and one.author.display_name == "Sam"
    assert two.text == "Plain text only."
    assert [r.external_id for r in result.rejected] == ["ep-3"]
    assert "neither title nor content" in result.rejected[0].reason


async def test_second_poll_sends_etag_and_gets_not_modified(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    def conditional(request: Any) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(status=304, headers={"ETag": '"v1"'})
        return Reply.text(RSS, "application/rss+xml", headers={"ETag": '"v1"'})

    loopback_server.route("/feed.xml", conditional)
    first = await poll(http_client, loopback_server.url("/feed.xml"))
    assert first.cursor["etag"] == '"v1"'
    second = await poll(http_client, loopback_server.url("/feed.xml"), first.cursor)
    assert second.not_modified and second.items == []
    assert second.cursor == first.cursor


async def test_last_modified_is_sent_when_there_is_no_etag(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    stamp = "Sat, 01 Aug 2026 10:00:00 GMT"
    loopback_server.route(
        "/feed.xml",
        Reply.text(RSS, "application/rss+xml", headers={"Last-Modified": stamp}),
        Reply(status=304),
    )
    first = await poll(http_client, loopback_server.url("/feed.xml"))
    second = await poll(http_client, loopback_server.url("/feed.xml"), first.cursor)
    assert loopback_server.requests[1].headers["if-modified-since"] == stamp
    assert second.not_modified


async def test_unchanged_body_is_skipped_even_when_the_server_ignores_validators(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route(
        "/feed.xml", Reply.text(RSS, "application/rss+xml", headers={"ETag": '"x"'})
    )
    first = await poll(http_client, loopback_server.url("/feed.xml"))
    second = await poll(http_client, loopback_server.url("/feed.xml"), first.cursor)
    assert len(first.items) == 2
    assert second.not_modified and second.items == []


async def test_changed_feed_yields_only_entries_not_seen_before(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route(
        "/feed.xml",
        Reply.text(rss_with([("a", "A"), ("b", "B")]), "application/rss+xml"),
        Reply.text(rss_with([("c", "C"), ("a", "A"), ("b", "B edited")]), "application/rss+xml"),
    )
    first = await poll(http_client, loopback_server.url("/feed.xml"))
    second = await poll(http_client, loopback_server.url("/feed.xml"), first.cursor)
    assert [m.external_id for m in second.items] == ["c"]
    assert len(second.cursor["seen"]) == 3


async def test_duplicate_and_missing_ids_are_deduplicated(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    doc = rss_with([("same", "One"), ("same", "One again")]).replace(
        b"</channel>", b"<item><title>No id, no link</title></item></channel>"
    )
    loopback_server.route("/feed.xml", Reply.text(doc, "application/rss+xml"))
    result = await poll(http_client, loopback_server.url("/feed.xml"))
    ids = [m.external_id for m in result.items]
    assert ids[0] == "same" and len(ids) == 2
    assert ids[1].startswith("sha256:")


async def test_language_override_wins_over_the_feed(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route("/feed.xml", Reply.text(RSS, "application/rss+xml"))
    result = await poll(http_client, loopback_server.url("/feed.xml"), language="fy")
    assert {m.language for m in result.items} == {"fy"}


async def test_html_page_is_not_a_feed(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    loopback_server.route("/", Reply.text("<html><body><p>Welcome</p></body></html>", "text/html"))
    with pytest.raises(InvalidPayload, match="is not a feed"):
        await poll(http_client, loopback_server.url("/"))


async def test_truncated_json_feed_is_an_invalid_payload(
    loopback_server: LoopbackServer, http_client: GuardedClient
) -> None:
    cut = json.dumps(JSON_FEED).encode()[:120]
    loopback_server.route("/feed.json", Reply.text(cut, "application/feed+json"))
    with pytest.raises(InvalidPayload, match="not valid JSON"):
        await poll(http_client, loopback_server.url("/feed.json"))


async def test_feed_on_a_host_that_is_not_allow_listed_is_refused(
    loopback_server: LoopbackServer,
) -> None:
    loopback_server.route("/feed.xml", Reply.text(RSS, "application/rss+xml"))
    async with guarded_client() as client:
        with pytest.raises(BlockedAddress, match="loopback"):
            await poll(client, loopback_server.url("/feed.xml"))
    assert loopback_server.requests == []


def test_registry_maps_kinds_to_connectors() -> None:
    assert isinstance(get_connector("rss"), FeedConnector)
    assert "rss" in list_kinds()
    with pytest.raises(UnknownKind, match="expected one of"):
        get_connector("myspace")
