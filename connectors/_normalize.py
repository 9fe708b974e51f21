"""Helpers the platform connectors share: HTML to text, times, URLs, errors, paging state."""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, Protocol, TypedDict, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from connectors.base import RejectedItem
from connectors.http import FetchError, server_wait
from connectors.items import MentionIn

ConfigT = TypeVar("ConfigT", bound=BaseModel)

# Tags whose start or end breaks the line in rendered text.
_BLOCK_TAGS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption"),
        *("figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main"),
        *("nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead"),
        *("tr", "ul"),
    }
)
_PARAGRAPH_TAGS = frozenset({"p", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6"})
_SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript", "head", "title"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class PlatformError(FetchError):
    """The platform answered, but not usefully. Messages never contain credentials or URLs.

    A `FetchError`, so a source's failure handling treats it like any other failed fetch and
    honours `retry_after` the same way.
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class KeyedLocks:
    """One asyncio lock per key and event loop, so concurrent polls share a login, not two."""

    def __init__(self) -> None:
        # A lock belongs to the loop it first waited on; a process that runs several loops
        # (tests, repeated CLI runs) gets fresh locks per loop instead of a RuntimeError.
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[Hashable, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def __call__(self, key: Hashable) -> asyncio.Lock:
        """The lock for `key` on the running loop."""
        locks = self._by_loop.setdefault(asyncio.get_running_loop(), {})
        return locks.setdefault(key, asyncio.Lock())


class ItemError(ValueError):
    """One platform item cannot become a mention; the reason goes to quarantine."""


class _TextExtractor(HTMLParser):
    """Collects the readable text of an HTML fragment with line breaks where blocks end."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0

    def _break(self, newlines: int) -> None:
        """End the current block with at least `newlines` line breaks (never stacking more)."""
        tail = "".join(self.parts[-2:])
        missing = newlines - (len(tail) - len(tail.rstrip("\n")))
        if missing > 0:
            self.parts.append("\n" * missing)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self._break(2 if tag in _PARAGRAPH_TAGS else 1)
            if tag == "pre":
                self._pre_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self._break(1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._break(2 if tag in _PARAGRAPH_TAGS else 1)
            if tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        # Outside <pre>, HTML treats any run of whitespace (newlines too) as one space.
        self.parts.append(data if self._pre_depth else re.sub(r"\s+", " ", data))


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, paragraphs kept."""
    if not fragment:
        return ""
    extractor = _TextExtractor()
    extractor.feed(fragment)
    extractor.close()
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(extractor.parts).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def join_text(*parts: str | None) -> str:
    """Join the non-empty parts as paragraphs (title and body, warning and content)."""
    return "\n\n".join(part.strip() for part in parts if part and part.strip())


def parse_timestamp(value: Any) -> datetime:
    """A UTC datetime from an ISO 8601 string or Unix seconds; naive values are taken as UTC."""
    if isinstance(value, bool):
        raise ItemError("timestamp is a boolean")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ItemError(f"timestamp {value!r} out of range") from exc
    if not isinstance(value, str) or not value.strip():
        raise ItemError("missing timestamp")
    try:
        parsed = datetime.fromisoformat(value.strip())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # year 0, or past year 9999 once in UTC
        raise ItemError(f"unreadable timestamp {value[:40]!r}") from exc


def isoformat(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, the form cursors and query parameters use."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utcnow() -> datetime:
    """The current time, aware and in UTC: Luister's one clock (`listener.kit` re-exports it)."""
    return datetime.now(UTC)


def http_url(value: Any) -> str | None:
    """The value if it is an absolute http(s) URL, else None (at://, javascript: and junk drop)."""
    if not isinstance(value, str) or len(value) > 2048:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return value.strip()


def clean_base_url(value: str) -> str:
    """Validate a configured base URL (http or https) and drop its trailing slash."""
    if http_url(value) is None:
        raise ValueError("must be an absolute http(s) URL")
    return value.strip().rstrip("/")


def host_of(url: str) -> str:
    """The host name of a URL, lower-cased."""
    return (urlsplit(url).hostname or "").lower()


def optional_int(value: Any) -> int | None:
    """An int for counters the platform may omit or send as null; negatives become None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value) if value >= 0 else None
    return None


def language_tag(value: Any) -> str | None:
    """A BCP 47-ish tag the mention model accepts ("en", "pt-BR"), else None."""
    if not isinstance(value, str):
        return None
    tag = value.strip().replace("_", "-")
    primary, _, rest = tag.partition("-")
    primary = primary.lower()
    if not re.fullmatch(r"[a-z]{2,3}", primary) or primary in ("und", "mul", "zxx"):
        return None
    if rest and re.fullmatch(r"[A-Za-z0-9]{2,8}(-[A-Za-z0-9]{2,8})*", rest):
        return f"{primary}-{rest}"
    return primary


def coerce_config(config: BaseModel, model: type[ConfigT]) -> ConfigT:
    """The connector's own config model, validated from whatever model the caller passed."""
    if isinstance(config, model):
        return config
    return model.model_validate(config.model_dump())


class ValidationErrors(Protocol):
    """Pydantic's `ValidationError` or FastAPI's `RequestValidationError`."""

    def errors(self) -> Sequence[Any]:
        """The individual errors, each a mapping with `loc` and `msg`."""
        ...


def describe_validation_error(exc: ValidationErrors) -> str:
    """A short reason naming the failing fields, without echoing their (possibly huge) input."""
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ())) or "item"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(problems)


def map_items(
    raws: Iterable[Any],
    to_mention: Callable[[Mapping[str, Any]], MentionIn | None],
    *,
    id_of: Callable[[Any], str | None] = lambda raw: None,
) -> tuple[list[MentionIn], list[RejectedItem]]:
    """Map each raw item; one that fails becomes a RejectedItem and the rest of the page stays."""
    items: list[MentionIn] = []
    rejected: list[RejectedItem] = []
    for raw in raws:
        external_id = _safe_id(id_of, raw)
        try:
            if not isinstance(raw, Mapping):
                raise ItemError(f"expected an object, got {type(raw).__name__}")
            mention = to_mention(raw)
        except ValidationError as exc:
            rejected.append(RejectedItem(raw, describe_validation_error(exc), external_id))
        except (
            ItemError,
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            ArithmeticError,
            RecursionError,
        ) as exc:
            reason = str(exc) if isinstance(exc, ItemError) else f"{type(exc).__name__}: {exc}"
            rejected.append(RejectedItem(raw, reason[:500], external_id))
        else:
            if mention is not None:
                items.append(mention)
    return items, rejected


def _safe_id(id_of: Callable[[Any], str | None], raw: Any) -> str | None:
    try:
        value = id_of(raw)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return str(value)[:512] if value is not None else None


def require_str(mapping: Mapping[str, Any], key: str) -> str:
    """A non-empty string field, or an ItemError naming the field."""
    value = mapping.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise ItemError(f"missing {key}")
    return value


def as_mapping(value: Any) -> Mapping[str, Any]:
    """The value if it is a JSON object, else an empty mapping (for optional nested objects)."""
    return value if isinstance(value, Mapping) else {}


def read_json(response: httpx.Response, platform: str) -> Any:
    """The decoded JSON body of a successful response, or a PlatformError saying what went wrong."""
    if response.status_code >= 400:
        raise PlatformError(
            f"{platform} answered HTTP {response.status_code}{_error_hint(response)}",
            status=response.status_code,
            retry_after=server_wait(response.status_code, response.headers),
        )
    try:
        return response.json()
    except ValueError as exc:
        raise PlatformError(
            f"{platform} answered HTTP {response.status_code} with a body that is not JSON",
            status=response.status_code,
        ) from exc
    except RecursionError as exc:
        raise PlatformError(
            f"{platform} answered HTTP {response.status_code} with JSON nested too deeply to read",
            status=response.status_code,
        ) from exc


def _error_hint(response: httpx.Response) -> str:
    # Platforms put a short machine-readable reason in the body; show that, never the request.
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return ""
    if not isinstance(body, Mapping):
        return ""
    for key in ("error_name", "error", "message", "error_description", "errors"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return f": {value[:200]}"
        if isinstance(value, list) and value and isinstance(value[0], str):
            return f": {value[0][:200]}"
    return ""


def rate_limit_pause(headers: Mapping[str, str], *, now: datetime) -> datetime | None:
    """When X-RateLimit-* or RateLimit-* headers say the budget is spent, when it returns."""
    wait = server_wait(200, headers, now)
    return None if wait is None else now + timedelta(seconds=wait)


def paused_until(cursor: PausedCursor, now: datetime) -> datetime | None:
    """The cursor's not-before moment if it is still in the future."""
    value = cursor.get("not_before")
    if not value:
        return None
    try:
        moment = parse_timestamp(value)
    except ItemError:
        return None
    return moment if moment > now else None


class WatermarkJson(TypedDict):
    """A watermark as a cursor keeps it."""

    at: int
    ids: list[str]


# Where a walk continues: a timestamp, a post id or page number, a paging token, or a mark.
Resume = str | int | WatermarkJson | None


class PausedCursor(TypedDict, total=False):
    """Cursor keys every connector honours: `not_before` pauses polling until that moment."""

    not_before: str


class WalkCursor(PausedCursor, total=False):
    """The cursor of a connector that walks a newest-first listing (see `NewestFirstWalk`)."""

    mark: WatermarkJson | None
    resume: Resume
    pending: WatermarkJson | None


@dataclass
class Watermark:
    """The newest position fully seen: an ordering key plus the ids that share that key."""

    at: int | None = None
    ids: list[str] = field(default_factory=list)

    def is_new(self, at: int, item_id: str) -> bool:
        """True for an item past the mark, or at the mark but not yet seen."""
        if self.at is None or at > self.at:
            return True
        return at == self.at and item_id not in self.ids

    def include(self, at: int, item_id: str) -> None:
        """Raise the mark to cover this item."""
        if self.at is None or at > self.at:
            self.at, self.ids = at, [item_id]
        elif at == self.at and item_id not in self.ids:
            self.ids.append(item_id)

    def merged(self, other: Watermark) -> Watermark:
        """The higher of two marks (ids united when they are level)."""
        if other.at is None:
            return Watermark(self.at, list(self.ids))
        if self.at is None or other.at > self.at:
            return Watermark(other.at, list(other.ids))
        if other.at < self.at:
            return Watermark(self.at, list(self.ids))
        return Watermark(self.at, list(dict.fromkeys([*self.ids, *other.ids])))

    def to_json(self) -> WatermarkJson | None:
        """The JSON form kept in a cursor (ids capped: only ties at one instant matter)."""
        return None if self.at is None else {"at": self.at, "ids": self.ids[-200:]}

    @classmethod
    def from_json(cls, value: Any) -> Watermark:
        """Read a mark back from a cursor, tolerating absence and junk."""
        data = as_mapping(value)
        at = data.get("at")
        ids = data.get("ids")
        if not isinstance(at, int) or isinstance(at, bool):
            return cls()
        return cls(at, [str(i) for i in ids] if isinstance(ids, list) else [])


@dataclass
class NewestFirstWalk:
    """Paging state for newest-first listings polled against a watermark.

    A poll walks from the newest item down until it meets the watermark. When the page budget
    runs out first, the rest becomes a backlog: `resume` says where to continue (a timestamp or
    a paging token) and `pending` holds the newest mark seen, applied once the backlog drains.
    """

    mark: Watermark = field(default_factory=Watermark)
    resume: Resume = None
    pending: Watermark = field(default_factory=Watermark)

    @classmethod
    def from_cursor(cls, cursor: WalkCursor) -> NewestFirstWalk:
        """Read the walk state from a cursor."""
        return cls(
            mark=Watermark.from_json(cursor.get("mark")),
            resume=cursor.get("resume"),
            pending=Watermark.from_json(cursor.get("pending")),
        )

    @property
    def first_poll(self) -> bool:
        """True before anything was ever seen: the first poll takes one window, not all history."""
        return self.mark.at is None and self.resume is None

    def finish(self, *, seen: Watermark, drained: bool, resume: Resume = None) -> None:
        """Fold one poll's newest mark in; keep a backlog when the walk stopped early."""
        if drained or self.first_poll:
            self.mark = self.mark.merged(self.pending).merged(seen)
            self.resume, self.pending = None, Watermark()
        else:
            self.pending = self.pending.merged(seen)
            self.resume = resume

    def to_cursor(self) -> WalkCursor:
        """The JSON-ready cursor fields."""
        return {
            "mark": self.mark.to_json(),
            "resume": self.resume,
            "pending": self.pending.to_json(),
        }
