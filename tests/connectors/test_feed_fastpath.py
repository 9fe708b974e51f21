"""The fast RSS 2.0 reader gives exactly the mentions feedparser gives, or leaves the feed to it."""

from __future__ import annotations

from typing import Any

import pytest

from connectors._feed_fastpath import NotPlain, read_plain_rss
from connectors._normalize import map_items
from connectors.base import RejectedItem
from connectors.feeds import (
    MAX_DEPTH,
    _raw_id,
    entry_to_mention,
    parse_feed,
    parse_with_feedparser,
    read_document,
)
from connectors.http import InvalidPayload
from connectors.items import MentionIn

URL = "https://blog.example.com/feeds/main.xml"
RSS_TYPE = "application/rss+xml"
HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'
NAMESPACES = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom"'
)


def rss(items: str, channel: str = "<title>Blog</title>", head: str = HEAD) -> bytes:
    return (
        f'{head}<rss version="2.0" {NAMESPACES}><channel>{channel}{items}</channel></rss>'
    ).encode()


# Feeds the fast reader takes: each must come out exactly as feedparser reads it.
PLAIN = {
    "escaped-html-description": rss(
        "<item><title>Dock 4 full</title><link>https://blog.example.com/4</link>"
        "<guid>https://blog.example.com/4</guid><description>&lt;p&gt;Dock &lt;b&gt;4&lt;/b&gt;"
        " is full again.&lt;/p&gt;</description>"
        "<pubDate>Tue, 17 Nov 2026 10:01:00 +0000</pubDate></item>"
        "<item><title>Second</title><link>https://blog.example.com/5</link>"
        "<description>Plain words only</description></item>"
    ),
    "cdata-and-relative-links": rss(
        "<item><title><![CDATA[Fast & loose]]></title><link>/posts/7?a=1&amp;b=2</link>"
        "<guid isPermaLink='false'>tag:blog.example.com,2026:7</guid>"
        '<description><![CDATA[<p>See <a href="/about">about</a> and <img src="i.png"/>'
        " &amp; more<br></p>]]></description></item>"
    ),
    "content-encoded-after-description": rss(
        "<item><title>Both</title><link>https://blog.example.com/b</link>"
        "<description>Short teaser</description>"
        "<content:encoded><![CDATA[<div><p>Long <em>body</em> with "
        '<a href="rel/x">a link</a></p></div>]]></content:encoded></item>'
    ),
    "content-encoded-before-description": rss(
        "<item><content:encoded><![CDATA[<p>Body first</p>]]></content:encoded>"
        "<description>Teaser after</description><title>Order</title>"
        "<guid>https://blog.example.com/o</guid></item>"
    ),
    "content-encoded-only": rss(
        "<item><guid>https://blog.example.com/c</guid>"
        "<content:encoded>&lt;p&gt;Only content&lt;/p&gt;</content:encoded></item>"
    ),
    "guid-before-link-and-permalink-guid": rss(
        "<item><guid>https://blog.example.com/g</guid><link>https://blog.example.com/l</link>"
        "<title>Guid first</title></item>"
        "<item><guid isPermaLink='true'>/relative/guid</guid><title>Relative permalink</title>"
        "</item><item><guid isPermaLink='false'>plain-id-1</guid><title>Not a link</title></item>"
    ),
    "odd-dates": rss(
        "<item><title>ISO</title><guid>d1</guid><pubDate>2026-11-17T10:00:00Z</pubDate></item>"
        "<item><title>Zone name</title><guid>d2</guid>"
        "<pubDate>Tue, 17 Nov 2026 10:00:00 EST</pubDate></item>"
        "<item><title>Impossible</title><guid>d3</guid>"
        "<pubDate>Tue, 31 Feb 2026 10:00:00 GMT</pubDate></item>"
        "<item><title>Garbage</title><guid>d4</guid><pubDate>yesterday-ish</pubDate></item>"
        "<item><title>Empty</title><guid>d5</guid><pubDate></pubDate></item>"
        "<item><title>Two-digit year</title><guid>d6</guid>"
        "<pubDate>Tue, 17 Nov 26 10:00:00 +0100</pubDate></item>"
    ),
    "entities-and-cp1252-references": rss(
        "<item><title>AT&amp;T &#8217;s &#x2014; &lt;b&gt;bold&lt;/b&gt; news</title>"
        "<guid>e1</guid><description>Smart &#147;quotes&#148; &#128; and caf\u00e9 \U0001f6b2"
        "</description></item>"
        "<item><title>1 &lt; 2 &amp;&amp; 3 &gt; 2</title><guid>e2</guid></item>"
    ),
    "whitespace-and-empty-values": rss(
        "<item>\n  <title>\n   Padded title  \n</title>\n  <link>  </link>\n"
        "  <description>\n\n</description>\n</item>"
        "<item><title></title><description>No title here</description></item>"
        "<item><description>Neither id nor link</description>"
        "<pubDate>Mon, 16 Nov 2026 08:00:00 GMT</pubDate></item>"
    ),
    "channel-language-and-extras": rss(
        "<item><title>Dutch</title><guid>n1</guid></item>",
        channel=(
            "<title>Blog</title><link>https://blog.example.com/</link><language>nl-NL</language>"
            '<atom:link href="https://blog.example.com/feed" rel="self" '
            'type="application/rss+xml"/><lastBuildDate>Tue, 17 Nov 2026 10:00:00 GMT'
            "</lastBuildDate><image><url>https://blog.example.com/i.png</url><title>Blog</title>"
            "<link>https://blog.example.com/</link></image><generator>Hugo</generator>"
        ),
    ),
    "stylesheet-instruction": rss(
        "<item><title>Styled</title><guid>s1</guid></item>",
        head=HEAD + '<?xml-stylesheet type="text/xsl" href="/rss.xsl"?>\n',
    ),
    "no-xml-declaration": rss("<item><title>No prolog</title><guid>p1</guid></item>", head=""),
    "html-looking-title": rss(
        "<item><title>&lt;em&gt;Emphasis&lt;/em&gt; in a title</title><guid>h1</guid>"
        "<description>x</description></item>"
    ),
}

# Feeds the fast reader leaves to feedparser (their results are feedparser's by construction).
UNUSUAL = {
    "atom": (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>A</title><id>urn:a</id><updated>2026-11-17T10:00:00Z</updated><entry>"
        b"<id>urn:a:1</id><title>Atom entry</title><updated>2026-11-17T10:00:00Z</updated>"
        b'<link href="https://a.example/1"/><summary>Sum</summary></entry></feed>'
    ),
    "enclosure": rss(
        '<item><title>Podcast</title><guid>x1</guid><enclosure url="https://a.example/e.mp3"'
        ' length="1234" type="audio/mpeg"/></item>'
    ),
    "category-and-creator": rss(
        "<item><title>Tagged</title><guid>x2</guid><category>news</category>"
        "<dc:creator>Ann</dc:creator></item>"
    ),
    "xml-lang": rss('<item><title xml:lang="de">Sprache</title><guid>x3</guid></item>'),
    "latin-1": rss("<item><title>Caf\u00e9</title><guid>x4</guid></item>").replace(
        b"utf-8", b"iso-8859-1"
    ),
    "rss-0.91": rss("<item><title>Old</title><link>https://a.example/o</link></item>").replace(
        b'version="2.0"', b'version="0.91"'
    ),
    "undefined-entity": rss("<item><title>Caf&eacute;&nbsp;noir</title><guid>x5</guid></item>"),
    "markup-in-title": rss("<item><title>A <b>bold</b> title</title><guid>x6</guid></item>"),
    "repeated-element": rss("<item><title>One</title><title>Two</title><guid>x7</guid></item>"),
    "upper-case-item": rss(
        "<item><title>Lower</title><guid>x9</guid></item><ITEM><title>Upper</title></ITEM>"
    ),
    "atom-entry-in-channel": rss(
        "<item><title>Item</title><guid>x10</guid></item>"
        "<atom:entry><atom:title>Entry</atom:title></atom:entry>"
    ),
    "dc-language": rss(
        "<item><title>Taal</title><guid>x8</guid></item>", channel="<dc:language>nl</dc:language>"
    ),
}

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">'
    b'<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]>'
    b'<rss version="2.0"><channel><title>t</title><item><title>&g;</title><guid>b</guid>'
    b"</item></channel></rss>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
    b'<rss version="2.0"><channel><title>t</title><item><title>x &secret;</title>'
    b"<guid>s</guid></item></channel></rss>"
)
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://127.0.0.1:9/rss.dtd">'
    b'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
    b"<guid>s</guid></item></channel></rss>"
)


def mentions(
    parse: object, body: bytes, content_type: str = RSS_TYPE
) -> tuple[list[dict[str, Any]], list[RejectedItem], str | None]:
    """What a poll stores from `body` when `parse` reads it (as `read_document` maps entries).

    An undated entry is dated at the time it is read, so its `created_at` is left out.
    """
    assert callable(parse)
    entries, language = parse(body, content_type, URL)
    found, rejected = map_items(
        entries, lambda entry: entry_to_mention(entry, language), id_of=_raw_id
    )
    return [_stored(m, entries) for m in found], rejected, language


def _stored(mention: MentionIn, entries: list[dict[str, Any]]) -> dict[str, Any]:
    data = mention.model_dump()
    entry = next(e for e in entries if e.get("raw") == mention.raw)
    if not entry.get("published"):
        data.pop("created_at")
    return data


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_fast_reader_gives_feedparsers_mentions(name: str) -> None:
    body = PLAIN[name]
    entries, _ = read_plain_rss(body, RSS_TYPE, URL, MAX_DEPTH)  # taken by the fast reader
    assert entries
    assert parse_feed(body, RSS_TYPE, URL) == parse_with_feedparser(body, RSS_TYPE, URL)
    fast, fast_rejected, fast_language = mentions(parse_feed, body)
    slow, slow_rejected, slow_language = mentions(parse_with_feedparser, body)
    assert fast_language == slow_language
    assert [r.model_dump() for r in fast_rejected] == [r.model_dump() for r in slow_rejected]
    assert [m for m in fast] == [m for m in slow]
    assert fast


@pytest.mark.parametrize("content_type", ["application/xml", "application/rss+xml; charset=UTF-8"])
def test_fast_reader_takes_utf8_xml_media_types(content_type: str) -> None:
    body = PLAIN["cdata-and-relative-links"]
    read_plain_rss(body, content_type, URL, MAX_DEPTH)
    fast = mentions(parse_feed, body, content_type)[0]
    assert [m for m in fast] == [m for m in mentions(parse_with_feedparser, body, content_type)[0]]


@pytest.mark.parametrize("name", sorted(UNUSUAL))
def test_unusual_feeds_are_left_to_feedparser(name: str) -> None:
    body = UNUSUAL[name]
    with pytest.raises(NotPlain):
        read_plain_rss(body, RSS_TYPE, URL, MAX_DEPTH)
    assert [m for m in mentions(parse_feed, body)[0]] == [
        m for m in mentions(parse_with_feedparser, body)[0]
    ]


@pytest.mark.parametrize(
    "content_type", ["text/xml", "text/html", "application/rss+xml; charset=iso-8859-1"]
)
def test_other_media_types_and_charsets_are_left_to_feedparser(content_type: str) -> None:
    with pytest.raises(NotPlain):
        read_plain_rss(PLAIN["no-xml-declaration"], content_type, URL, MAX_DEPTH)


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD],
    ids=["billion-laughs", "external-entity", "external-dtd"],
)
def test_fast_reader_refuses_doctypes_and_entities(body: bytes) -> None:
    with pytest.raises(NotPlain, match="DOCTYPE"):
        read_plain_rss(body, RSS_TYPE, URL, MAX_DEPTH)
    found, _, _ = mentions(parse_feed, body)
    text = " ".join(m["text"] for m in found)
    assert "aaaaaaaaaa" not in text  # the bomb is never expanded
    assert "root:" not in text  # nothing is read from the file system


def test_deep_nesting_is_refused_as_before() -> None:
    deep = rss("<item><title>t</title><guid>z</guid></item>", channel="<x>" * 600 + "</x>" * 600)
    with pytest.raises(NotPlain):
        read_plain_rss(deep, RSS_TYPE, URL, MAX_DEPTH)
    with pytest.raises(InvalidPayload, match="nested more than"):
        read_document(deep, RSS_TYPE, URL, None)
