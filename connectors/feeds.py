"""RSS, Atom and JSON Feed sources: conditional GET, skip unchanged bodies, one mention per entry.

HTTP is ours (the guarded client); feedparser only ever sees bytes, never a URL. Validators are
unreliable in the wild, so an unchanged body hash also counts as "not modified".

Parsing is CPU work a hostile feed can stretch to minutes, so it never runs on the event loop:
`read_document` runs in the parse pool (`connectors._parse_pool`) within a CPU budget, after a
cheap check of the element depth, and reads at most `MAX_ENTRIES` entries.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, TypedDict

import feedparser
import httpx
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from connectors._feed_fastpath import NotPlain, read_plain_rss
from connectors._normalize import (
    ItemError,
    coerce_config,
    html_to_text,
    http_url,
    join_text,
    language_tag,
    map_items,
    parse_timestamp,
    utcnow,
)
from connectors._parse_pool import TooExpensive, parse_in_pool
from connectors.base import FetchResult, RejectedItem, WriteAction
from connectors.http import InvalidPayload, fetch, redact_url
from connectors.items import AuthorIn, EngagementIn, MentionIn

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
# Remembered entry ids per feed; Media Cloud caps a feed at 2000 stories for the same reason.
MAX_SEEN = 2000
MAX_TEXT = 100_000
MAX_HTML = 500_000
MAX_ID = 512
# Entries read from one document (feeds list the newest first); the rest are not parsed into
# mentions. As many as the seen list remembers, so a long feed is not re-ingested every poll.
MAX_ENTRIES = MAX_SEEN
# Element nesting a document may have. Real feeds nest a few dozen deep at most; 2 MB of
# unclosed <div>s nest 400,000 deep and take feedparser ~10 s of CPU.
MAX_DEPTH = 512

_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")


class FeedTooExpensive(TooExpensive):
    """A feed document over its CPU budget, or nested deeper than any real feed."""


class FeedConfig(BaseModel):
    """Settings of one feed source."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: AnyHttpUrl = Field(examples=["https://blog.example.com/feed.xml"])
    language: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        description="Use this language for every entry instead of what the feed declares",
    )


class FeedCursor(TypedDict, total=False):
    """What a feed poll remembers: HTTP validators, the last body's hash and the ids seen."""

    etag: str
    last_modified: str
    body_sha256: str
    seen: list[str]


class FeedConnector:
    """Polls one RSS, Atom or JSON Feed URL."""

    kind: ClassVar[str] = "rss"
    config_model: ClassVar[type[BaseModel]] = FeedConfig
    write_actions: ClassVar[frozenset[WriteAction]] = frozenset()

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: FeedCursor
    ) -> FetchResult[FeedCursor]:
        """Fetch the feed unless it is unchanged; return its entries not seen before."""
        settings = coerce_config(config, FeedConfig)
        response = await fetch(client, str(settings.url), headers=_request_headers(cursor))
        next_cursor: FeedCursor = {**cursor, **_validators(response.headers)}
        if response.status == 304:
            return FetchResult(items=[], cursor=next_cursor, not_modified=True)
        digest = hashlib.sha256(response.body).hexdigest()
        if digest == cursor.get("body_sha256"):
            return FetchResult(items=[], cursor=next_cursor, not_modified=True)
        content_type = response.headers.get("content-type", "")
        try:
            items, rejected = await parse_in_pool(
                read_document,
                response.body,
                content_type,
                response.url,
                settings.language,
                what=redact_url(response.url),
            )
        except TooExpensive as exc:
            if isinstance(exc, FeedTooExpensive):
                raise
            raise FeedTooExpensive(str(exc)) from None
        seen = list(cursor.get("seen") or [])
        fresh = _unseen(items, set(seen))
        next_cursor["body_sha256"] = digest
        next_cursor["seen"] = ([_short(m.external_id) for m in fresh] + seen)[:MAX_SEEN]
        return FetchResult(items=fresh, cursor=next_cursor, rejected=rejected)


def _request_headers(cursor: FeedCursor) -> dict[str, str]:
    headers = {"Accept": ACCEPT}
    # RFC 9110: a server ignores If-Modified-Since when If-None-Match is present.
    if cursor.get("etag"):
        headers["If-None-Match"] = str(cursor["etag"])
    elif cursor.get("last_modified"):
        headers["If-Modified-Since"] = str(cursor["last_modified"])
    return headers


def _validators(headers: httpx.Headers) -> FeedCursor:
    found: FeedCursor = {}
    if etag := headers.get("etag"):
        found["etag"] = etag
    if last_modified := headers.get("last-modified"):
        found["last_modified"] = last_modified
    return found


def _short(external_id: str) -> str:
    """A compact, fixed-size key for the seen list, so the cursor stays small."""
    return hashlib.sha256(external_id.encode()).hexdigest()[:16]


def _unseen(items: Iterable[MentionIn], seen: set[str]) -> list[MentionIn]:
    """Items whose id was neither in an earlier poll nor earlier in this feed."""
    fresh: list[MentionIn] = []
    for item in items:
        key = _short(item.external_id)
        if key not in seen:
            seen.add(key)
            fresh.append(item)
    return fresh


def _raw_id(entry: Any) -> str | None:
    if not isinstance(entry, Mapping):
        return None
    value = entry.get("id") or entry.get("link") or entry.get("url")
    return str(value) if value else None


# -- parsing (in the parse pool's worker process) -------------------------------------------


def read_document(
    body: bytes, content_type: str, url: str, language: str | None
) -> tuple[list[MentionIn], list[RejectedItem]]:
    """A feed document's entries as mentions, and the entries that could not become one.

    Runs in a worker process of the parse pool, so everything it takes and returns pickles.
    `language`, when set, overrides what the feed declares.
    """
    entries, feed_language = parse_feed(body, content_type, url)
    language = language or feed_language
    return map_items(entries, lambda entry: entry_to_mention(entry, language), id_of=_raw_id)


def parse_feed(body: bytes, content_type: str, url: str) -> tuple[list[dict[str, Any]], str | None]:
    """Entries in one common shape plus the feed's language, from XML or JSON Feed bytes.

    Plain RSS 2.0 is read by the fast reader (`connectors._feed_fastpath`), which gives the
    entries feedparser would give; everything else, and anything unusual, by feedparser.
    """
    if _looks_like_json(body, content_type):
        return _parse_json_feed(body, url)
    try:
        entries, language = read_plain_rss(body, content_type or "application/xml", url, MAX_DEPTH)
    except NotPlain:
        pass  # anything but plain RSS 2.0 in UTF-8: feedparser reads it
    else:
        shaped = [_shaped(_plain_entry, entry) for entry in entries[:MAX_ENTRIES]]
        return shaped, language_tag(language)
    return parse_with_feedparser(body, content_type, url)


def parse_with_feedparser(
    body: bytes, content_type: str, url: str
) -> tuple[list[dict[str, Any]], str | None]:
    """`parse_feed` for any XML feed (RSS 0.9x to 2.0, RDF, Atom, CDF), by feedparser."""
    if _nests_deeper_than(body, MAX_DEPTH):
        raise FeedTooExpensive(
            f"{redact_url(url)}: elements nested more than {MAX_DEPTH:,} deep; not parsed"
        )
    parsed = feedparser.parse(
        io.BytesIO(_defuse_doctype(body)),
        response_headers={
            "content-type": content_type or "application/xml",
            "content-location": url,
        },
        # Raw HTML is stored as received and sanitised once, on output, by the one nh3 cleaner
        # so stored text stays faithful; feedparser's own sanitiser would cost a third of a poll.
        sanitize_html=False,
        resolve_relative_uris=True,
    )
    if parsed.bozo and not parsed.entries and not parsed.get("version"):
        reason = str(parsed.get("bozo_exception") or "unrecognised format").splitlines()[0]
        raise InvalidPayload(f"{redact_url(url)} is not a feed: {reason}")
    # A bozo feed that still yielded entries is served as is: feeds in the wild are sloppy.
    feed_language = language_tag(parsed.feed.get("language"))
    return [_shaped(_xml_entry, entry) for entry in parsed.entries[:MAX_ENTRIES]], feed_language


# The key of an entry that could not be read at all; `entry_to_mention` rejects it with the reason.
_UNREADABLE = "_unreadable"
_ENTRY_ERRORS = (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, RecursionError)


def _shaped(shape: Any, entry: Any) -> Any:
    """`shape(entry)`, or an unreadable marker: one broken entry never fails its feed."""
    if not isinstance(entry, Mapping):
        return entry  # map_items rejects it with the reason
    try:
        shaped: dict[str, Any] = shape(entry)
    except _ENTRY_ERRORS as exc:
        return {_UNREADABLE: f"unreadable entry: {type(exc).__name__}: {exc}"[:500], "raw": None}
    return shaped


# Start, end and empty tags; CDATA sections and comments are skipped by hand (linear time).
_MARKUP = re.compile(rb"<!\[CDATA\[|<!--|<(/?)([A-Za-z_][\w:.-]*)[^<>]*?(/?)>")
# HTML elements that never have content, and those a sibling of the same name closes.
_VOID = frozenset(b"area base br col embed hr img input link meta param source track wbr".split())
_SELF_CLOSING = frozenset(b"p li dt dd tr td th option".split())


def _nests_deeper_than(body: bytes, limit: int) -> bool:
    """Whether elements nest more than `limit` deep, counted as a forgiving HTML parser would:
    an end tag closes what was opened since its start tag; void and paragraph-like tags that
    are never closed do not nest."""
    stack: list[bytes] = []
    open_count: dict[bytes, int] = {}
    position = 0
    while (match := _MARKUP.search(body, position)) is not None:
        position = match.end()
        token = match.group(0)
        if token in (b"<![CDATA[", b"<!--"):
            end = body.find(b"]]>" if token == b"<![CDATA[" else b"-->", position)
            if end < 0:
                return False
            position = end + 3
            continue
        closing, name, empty = match.group(1), match.group(2).lower(), match.group(3)
        if empty or name in _VOID:
            continue
        if (closing or name in _SELF_CLOSING) and open_count.get(name):
            while stack:
                top = stack.pop()
                open_count[top] -= 1
                if top == name:
                    break
        if closing:
            continue
        stack.append(name)
        open_count[name] = open_count.get(name, 0) + 1
        if len(stack) > limit:
            return True
    return False


def _looks_like_json(body: bytes, content_type: str) -> bool:
    if "json" in content_type.lower():
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _defuse_doctype(body: bytes) -> bytes:
    """Drop a DOCTYPE that declares entities before feedparser sees it.

    feedparser strips entity declarations only when each starts a line; declared on one line,
    a billion-laughs feed reaches expat, whose guard stops it only after ~8 MB of expansion.
    No real feed needs its own entities, so the whole DOCTYPE goes.
    """
    first = _FIRST_ELEMENT.search(body)
    end = first.start() if first else len(body)
    head = body[:end]
    start = head.find(b"<!DOCTYPE")
    if start < 0 or b"<!ENTITY" not in head:
        return body
    return body[:start] + body[end:]


def _plain_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """`_xml_entry` of an entry from the fast reader, whose values are already plain JSON data
    (strings, booleans, None, lists and dicts of them) but for the `*_parsed` dates."""
    raw = {key: value for key, value in entry.items() if not key.endswith("_parsed")}
    return _xml_entry(entry, raw=raw)


def _xml_entry(entry: Mapping[str, Any], raw: dict[str, Any] | None = None) -> dict[str, Any]:
    """A feedparser entry as plain JSON-safe data in the shape `entry_to_mention` reads."""
    content = entry.get("content") or []
    body = _main_body(content, entry.get("summary_detail"))
    is_html = "html" in str(body.get("type", ""))
    title_detail = entry.get("title_detail") or {}
    title = entry.get("title") or ""
    if "html" in str(title_detail.get("type", "")):
        title = html_to_text(title)
    author = entry.get("author_detail") or {}
    details = (body, entry.get("summary_detail") or {}, title_detail)
    published = (
        entry.get("published_parsed") or entry.get("updated_parsed") or entry.get("created_parsed")
    )
    return {
        "id": entry.get("id") or None,
        "url": entry.get("link") or None,
        "title": title,
        "body_html": body.get("value") if is_html else None,
        "body_text": None if is_html else body.get("value"),
        # With full content present, the summary is only a fallback for an empty body.
        "summary_html": entry.get("summary") if content else None,
        "published": _struct_time_iso(published),
        "author_name": author.get("name") or entry.get("author"),
        "author_url": author.get("href"),
        "language": next((d["language"] for d in details if d.get("language")), None),
        "comments": entry.get("slash_comments"),
        "raw": _jsonable(entry) if raw is None else raw,
    }


def _main_body(content: list[Mapping[str, Any]], summary: Any) -> Mapping[str, Any]:
    """The richest body an entry has: HTML content, any content, else the summary."""
    for part in content:
        if "html" in str(part.get("type", "")):
            return part
    if content:
        return content[0]
    return summary if isinstance(summary, Mapping) else {}


def _struct_time_iso(value: Any) -> str | None:
    """The parsed date as ISO 8601; None when there is none or it is impossible (year 0)."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC).isoformat()
    except (ValueError, OverflowError):
        return None


def _jsonable(value: Any, depth: int = 0, *, keep_parsed: bool = False) -> Any:
    """Plain JSON data for the raw payload (feedparser returns struct_time and its own dicts),
    at most 8 levels deep; feedparser's `*_parsed` twins of fields are left out unless
    `keep_parsed` (JSON Feed items, whose keys are the publisher's own)."""
    if depth > 8:
        return None
    if isinstance(value, time.struct_time):
        return _struct_time_iso(value)
    if isinstance(value, Mapping):
        return {
            str(k): _jsonable(v, depth + 1, keep_parsed=keep_parsed)
            for k, v in value.items()
            if keep_parsed or not str(k).endswith("_parsed")
        }
    if isinstance(value, list | tuple):
        return [_jsonable(v, depth + 1, keep_parsed=keep_parsed) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _parse_json_feed(body: bytes, url: str) -> tuple[list[dict[str, Any]], str | None]:
    """JSON Feed 1.0 and 1.1 (jsonfeed.org) in the same entry shape as XML feeds."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"{redact_url(url)} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise InvalidPayload(f"{redact_url(url)} is JSON nested too deeply to read") from None
    version = document.get("version", "") if isinstance(document, dict) else ""
    if not isinstance(version, str) or "jsonfeed.org" not in version:
        raise InvalidPayload(f"{redact_url(url)} is JSON but not a JSON Feed")
    items = document.get("items")
    if not isinstance(items, list):
        raise InvalidPayload(f"{redact_url(url)} is a JSON Feed without an items list")
    entries = [_shaped(_json_entry, item) for item in items[:MAX_ENTRIES]]
    return entries, language_tag(document.get("language"))


def _json_entry(item: Mapping[str, Any]) -> dict[str, Any]:
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    author = authors[0] if authors and isinstance(authors[0], dict) else {}
    item_id = item.get("id")
    return {
        "id": str(item_id)
        if isinstance(item_id, str | int) and not isinstance(item_id, bool)
        else None,
        "url": item.get("url") or item.get("external_url"),
        "title": item.get("title") or "",
        "body_html": item.get("content_html"),
        "body_text": item.get("content_text"),
        "summary_html": None,
        "summary_text": item.get("summary"),
        "published": item.get("date_published") or item.get("date_modified"),
        "author_name": author.get("name"),
        "author_url": author.get("url"),
        "language": item.get("language"),
        "comments": None,
        "raw": _jsonable(item, keep_parsed=True),
    }


# -- normalizing --------------------------------------------------------------------------


def entry_to_mention(entry: Mapping[str, Any], feed_language: str | None) -> MentionIn:
    """One normalized entry as a mention; raises `ItemError` when it has nothing to say."""
    if entry.get(_UNREADABLE):
        raise ItemError(str(entry[_UNREADABLE]))
    title = str(entry.get("title") or "").strip()
    body_html = entry.get("body_html") if isinstance(entry.get("body_html"), str) else None
    body = (
        html_to_text(body_html)
        or str(entry.get("body_text") or "").strip()
        or html_to_text(entry.get("summary_html"))
        or str(entry.get("summary_text") or "").strip()
    )
    text = join_text(title, body if body != title else None)[:MAX_TEXT]
    if not text:
        raise ItemError("entry has neither title nor content")
    published = entry.get("published")
    created_at = parse_timestamp(published) if published else utcnow()
    return MentionIn(
        platform="rss",
        external_id=_external_id(entry, title, published),
        url=http_url(entry.get("url")),
        text=text,
        html=body_html if body_html and len(body_html) <= MAX_HTML else None,
        language=language_tag(entry.get("language")) or feed_language,
        created_at=created_at,
        author=_author(entry),
        engagement=EngagementIn(replies=_count(entry.get("comments"))),
        raw=entry.get("raw") if isinstance(entry.get("raw"), dict) else None,
    )


def _external_id(entry: Mapping[str, Any], title: str, published: Any) -> str:
    """The entry id, else its link, else a hash of title and date (feeds omit ids)."""
    candidate = str(entry.get("id") or entry.get("url") or "").strip()
    if not candidate:
        candidate = "sha256:" + hashlib.sha256(f"{title}\x1f{published or ''}".encode()).hexdigest()
    if len(candidate) > MAX_ID:
        candidate = "sha256:" + hashlib.sha256(candidate.encode()).hexdigest()
    return candidate


def _author(entry: Mapping[str, Any]) -> AuthorIn | None:
    name = str(entry.get("author_name") or "").strip()[:512] or None
    url = http_url(entry.get("author_url"))
    if not (name or url):
        return None
    return AuthorIn(platform_id=(url or name or "")[:512], display_name=name, profile_url=url)


def _count(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None
