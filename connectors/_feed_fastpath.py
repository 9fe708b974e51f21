"""A fast reader for plain RSS 2.0 feeds, giving exactly what feedparser gives, or giving up.

feedparser is general and slow: its per-element bookkeeping costs most of a poll's CPU. Most
feeds are plain RSS 2.0 whose items hold a title, a link, a guid, a description, a date and
perhaps `content:encoded`. For those, this module walks the document once with expat (C) and
builds the entries feedparser would build, reusing feedparser's own helpers for every value
transformation (relative URIs, "looks like HTML", dates, its encoding repairs), so the
mentions are identical.

Anything else raises `NotPlain`, and the caller parses with feedparser as before: Atom, RSS
0.9x/1.0, another encoding than UTF-8, any DOCTYPE (so no entity is ever declared, let alone
expanded: billion laughs and external entities never reach this parser's expansion), an
`xml:base` or `xml:lang`, an attribute or element in an item it does not know, an element
repeated in an item, markup inside a text element, or a document that is not well-formed.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, NoReturn
from xml.parsers import expat

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri, resolve_relative_uris

_CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
_SEP = "\x1f"  # expat's namespace separator: "uri\x1flocal"
_CONTENT_ENCODED = _CONTENT_NS + _SEP + "encoded"
# Item children read here, by their element name (namespace-qualified with _SEP).
_ITEM_TEXT = frozenset({"title", "link", "guid", "description", "pubDate", _CONTENT_ENCODED})
_ENTRY_OR_LANGUAGE = frozenset({"item", "entry", "language"})
_XML_DECLARATION = re.compile(rb"<\?xml[^>]*?\?>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_MEDIA_TYPES = frozenset({"application/rss+xml", "application/xml", "application/atom+xml"})
_CAN_BE_RELATIVE = _FeedParserMixin.can_be_relative_uri
_CAN_CONTAIN_RELATIVE = _FeedParserMixin.can_contain_relative_uris
_looks_like_html = _FeedParserMixin.looks_like_html
_ENTITY_LIKE = re.compile("&([A-Za-z0-9_]+);")


class NotPlain(Exception):
    """The document is not one this reader handles; parse it with feedparser."""


def plain_utf8(body: bytes, content_type: str) -> bool:
    """Whether feedparser would read `body` as UTF-8 with nothing to guess (cheap checks)."""
    media, _, params = content_type.partition(";")
    if media.strip().lower() not in _MEDIA_TYPES:
        return False
    charset = params.lower().replace(" ", "")
    if charset and charset not in ("charset=utf-8", 'charset="utf-8"'):
        return False
    if body[:1] != b"<":  # a byte-order mark or leading space: feedparser's rules apply
        return False
    declaration = _XML_DECLARATION.match(body)
    if declaration:
        encoding = _ENCODING.search(declaration.group(0))
        if encoding and encoding.group(1).lower() not in (b"utf-8", b"utf8"):
            return False
    return True


def _finish(value: str) -> str:
    """feedparser's last repairs to every value (UTF-8 read as Latin-1, cp1252 code points)."""
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_cp1252)


class _Reader:
    """expat callbacks collecting the items of one RSS 2.0 document."""

    def __init__(self, base: str, max_depth: int) -> None:
        self.base = base
        self.max_depth = max_depth
        self.path: list[str] = []
        self.items: list[dict[str, Any]] = []
        self.item: dict[str, Any] | None = None
        self.fields: dict[str, str] = {}
        self.permalink = True
        self.text: list[str] | None = None
        self.language: str | None = None
        self.language_text: list[str] | None = None
        self.channels = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        path = self.path
        depth = len(path)
        if depth >= self.max_depth:
            raise NotPlain("nested too deep")
        for key in attrs:
            if key.startswith("http://www.w3.org/XML/1998/namespace") or key.lower() in (
                "lang",
                "base",
            ):
                raise NotPlain("xml:base or xml:lang")
        if self.text is not None or self.language_text is not None:
            raise NotPlain("markup inside a text element")
        if depth == 0:
            if name != "rss" or attrs.get("version") != "2.0":
                raise NotPlain("not RSS 2.0")
        elif depth == 1:
            if name != "channel" or self.channels or attrs:
                raise NotPlain("unusual channel")
            self.channels += 1
        elif self.item is not None:
            if depth != 3 or name not in _ITEM_TEXT or name in self.fields:
                raise NotPlain(f"item element {name!r}")
            if name == "guid":
                if set(attrs) - {"isPermaLink"}:
                    raise NotPlain("guid attributes")
                self.permalink = attrs.get("isPermaLink", "true") == "true"
            elif attrs:
                raise NotPlain(f"attributes on {name!r}")
            self.text = []
        elif name == "item":
            if depth != 2 or attrs:
                raise NotPlain("item outside the channel")
            self.item = {}
            self.fields = {}
            self.permalink = True
        elif depth == 2 and name == "language":
            if self.language is not None or attrs:
                raise NotPlain("unusual language")
            self.language_text = []
        elif name.rpartition(_SEP)[2].lower() in _ENTRY_OR_LANGUAGE:
            # feedparser lower-cases names and maps known namespaces: an <ITEM>, an Atom
            # <entry> or a <dc:language> would change its entries or the feed's language.
            raise NotPlain(f"{name!r} where this reader does not expect it")
        path.append(name)

    def data(self, text: str) -> None:
        if self.text is not None:
            self.text.append(text)
        elif self.language_text is not None:
            self.language_text.append(text)

    def end(self, name: str) -> None:
        self.path.pop()
        if self.text is not None:
            self.fields[name] = "".join(self.text)
            self.text = None
            return
        if self.language_text is not None:
            self.language = _finish("".join(self.language_text).strip())
            self.language_text = None
        elif name == "item" and len(self.path) == 2 and self.item is not None:
            self.items.append(self._entry())
            self.item = None

    # -- one item as feedparser's entry ---------------------------------------------------

    def _value(self, element: str, raw: str, content_type: str | None) -> tuple[str, str | None]:
        """One value through feedparser's `pop`: its text and its (possibly guessed) type."""
        output = raw.strip()
        if element in _CAN_BE_RELATIVE and output and (element != "id" or self.permalink):
            output = _urljoin(self.base, output)
        if content_type == "text/plain" and _looks_like_html(output):
            content_type = "text/html"
        if (
            (content_type or "text/html") in ("text/html", "application/xhtml+xml")
            and element in _CAN_CONTAIN_RELATIVE
            # Text without markup or references comes out of feedparser's HTML pass unchanged.
            and ("<" in output or "&" in output)
        ):
            output = resolve_relative_uris(output, self.base, "utf-8", content_type or "text/html")
        return _finish(output), content_type

    def _detail(self, content_type: str | None, value: str) -> dict[str, Any]:
        return {"type": content_type, "language": None, "base": self.base, "value": value}

    def _entry(self) -> dict[str, Any]:
        fields = self.fields
        entry: dict[str, Any] = {}
        # feedparser fills the entry element by element, so the order of the item's children
        # decides some keys; these follow its handlers for each order.
        for name in fields:
            raw = fields[name]
            if name == "title":
                value, kind = self._value("title", raw, "text/plain")
                entry["title"] = value
                entry["title_detail"] = self._detail(kind, value)
            elif name == "link":
                value, _ = self._value("link", raw, None)
                value = _ENTITY_LIKE.sub(r"&\g<1>", value.replace("&amp;", "&"))
                link: dict[str, Any] = {"rel": "alternate", "type": "text/html"}
                entry.setdefault("links", []).append(link)
                entry["link"] = value
                if value:
                    link["href"] = value
            elif name == "guid":
                value, _ = self._value("id", raw, None)
                entry["id"] = value
                entry.setdefault("guidislink", self.permalink and "link" not in entry)
                if self.permalink:
                    entry.setdefault("link", value)
            elif name == "description":
                value, kind = self._value("description", raw, "text/html")
                entry["summary"] = value
                entry["summary_detail"] = self._detail(kind, value)
            elif name == "pubDate":
                value, _ = self._value("published", raw, None)
                entry["published"] = value
                entry["published_parsed"] = _parse_date(value)
            else:  # content:encoded
                value, kind = self._value("content", raw, "text/html")
                entry["content"] = [self._detail(kind, value)]
                if kind in ("text/plain", "text/html", "application/xhtml+xml"):
                    entry.setdefault("summary", value)
        return entry


def read_plain_rss(
    body: bytes, content_type: str, url: str, max_depth: int
) -> tuple[list[dict[str, Any]], str | None]:
    """The entries (as feedparser's entry dicts) and the declared language of a plain RSS 2.0
    document; `NotPlain` for anything else."""
    if not plain_utf8(body, content_type):
        raise NotPlain("not plainly UTF-8")
    base = make_safe_absolute_uri("", url) or make_safe_absolute_uri(url) or ""
    reader = _Reader(base, max_depth)
    parser = expat.ParserCreate("utf-8", _SEP)
    parser.buffer_text = True
    parser.ordered_attributes = False
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.data

    def refuse(*_args: Any) -> NoReturn:
        raise NotPlain("a DOCTYPE or an entity declaration")

    # No DOCTYPE at all: no entity is declared, none expanded, nothing external is fetched.
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise NotPlain(f"not well-formed: {exc}") from None
    if reader.path:
        raise NotPlain("unfinished document")
    return reader.items, reader.language
