"""Writing to a platform: replies, new posts, likes and boosts, and what can go wrong.

Connectors that can write implement `Writer`. The staff side keeps the outbox row; a connector
only checks the platform's rules, sends, and says exactly what happened: created (a
`WriteResult` naming the new post the way mentions name posts), refused for good, refused for
now, or *unknown* (the request left, no answer came back). After an unknown outcome the caller
must not resend blindly: `find_own_reply` looks in the thread for the reply we may have made.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx
import regex
from pydantic import BaseModel

from connectors.base import FetchResult, NoCursor, WriteAction
from connectors.http import FetchError, RateLimited, server_wait
from connectors.items import MentionIn


class TextFormat(enum.StrEnum):
    """How a platform reads the text we send."""

    PLAIN = "plain"
    MARKDOWN = "markdown"


@dataclass(frozen=True)
class PostRef:
    """A post on the platform as the database knows it: enough to reply to or like it."""

    external_id: str
    url: str | None = None
    #: The id the platform's API takes, when known to be valid for the writing account
    #: (a Mastodon status id is local to one instance, so it is left out for foreign ones).
    platform_id: str | None = None
    author_handle: str | None = None
    thread_external_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteRequest:
    """A reply (with `target`) or a new post (with `title` where the platform needs one)."""

    action: WriteAction
    text: str
    idempotency_key: str
    target: PostRef | None = None
    title: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class WriteResult:
    """What the platform created: ids in the same form the connector gives mentions."""

    external_id: str
    platform_id: str
    url: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class WriteError(Exception):
    """A write that did not (certainly) happen; `str()` is one line for staff to read."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RuleViolation(WriteError):
    """The text or target breaks a platform rule; nothing was sent. Fix it, then send."""

    def __init__(self, message: str, field: str = "text") -> None:
        super().__init__(message)
        self.field = field


class WriteRejected(WriteError):
    """The platform answered and refused (bad token, deleted post, locked thread)."""


class WriteDeferred(WriteError):
    """Certainly not created, but may work later (rate limit, outage before processing)."""

    retryable = True


class OutcomeUnknown(WriteError):
    """The request went out and no clear answer came back: the post may exist."""

    retryable = True


@runtime_checkable
class Writer(Protocol):
    """A connector that can write. Every method is stateless; credentials come in `config`."""

    kind: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    write_actions: ClassVar[frozenset[WriteAction]]
    text_format: ClassVar[TextFormat]
    #: True when the platform itself drops a repeated request carrying the same key.
    honours_idempotency_key: ClassVar[bool]

    async def check(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteRequest:
        """Apply the platform's rules; return the request as it will be sent."""
        ...

    async def reply(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Answer `request.target` under it, in its thread."""
        ...

    async def post(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Start a new post or topic."""
        ...

    async def like(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Like, favourite or upvote `target`."""
        ...

    async def boost(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Boost or repost `target` (where the platform has it)."""
        ...

    async def undo(
        self,
        *,
        client: httpx.AsyncClient,
        config: BaseModel,
        action: WriteAction,
        target: PostRef,
        done: WriteResult,
    ) -> None:
        """Take back a like or boost."""
        ...

    async def thread(
        self, *, client: httpx.AsyncClient, config: BaseModel, root: PostRef
    ) -> FetchResult[NoCursor]:
        """The replies under `root` (all depths) as mentions."""
        ...

    async def own_identities(self, *, client: httpx.AsyncClient, config: BaseModel) -> set[str]:
        """Author ids and handles the writing account appears under in mentions."""
        ...

    def result_from_mention(self, item: MentionIn) -> WriteResult:
        """A WriteResult for a post found in a thread (our earlier reply)."""
        ...


def writer_for(connector: object) -> Writer | None:
    """The connector as a `Writer`, or None when it cannot write."""
    return connector if isinstance(connector, Writer) else None


# -- failures of the HTTP exchange ----------------------------------------------------------


def classify_send_failure(exc: BaseException, platform: str) -> WriteError:
    """What a failed create request means: certainly not sent, or perhaps sent."""
    if isinstance(exc, WriteError):
        return exc
    if isinstance(exc, RateLimited):
        return WriteDeferred(f"{platform}: {exc}", retry_after=exc.retry_after)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        # The connection never opened, so the platform cannot have seen the request.
        return WriteDeferred(f"{platform}: cannot connect ({type(exc).__name__})")
    if isinstance(exc, FetchError | httpx.HTTPError):
        return OutcomeUnknown(f"{platform}: no answer to the request ({exc})")
    raise exc


def check_response(response: httpx.Response, platform: str) -> None:
    """Raise the right WriteError for an error status; return quietly on success."""
    status = response.status_code
    if status < 400:
        return
    hint = _error_hint(response)
    message = f"{platform} answered HTTP {status}{hint}"
    if status == 429:
        raise WriteDeferred(message, retry_after=server_wait(status, response.headers) or 60.0)
    if status in (502, 503, 504):
        # A gateway error means the application may or may not have processed it.
        raise OutcomeUnknown(message, retry_after=server_wait(status, response.headers))
    if status >= 500:
        raise OutcomeUnknown(message)
    raise WriteRejected(message)


def _error_hint(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, Mapping):
        return ""
    for key in ("error", "message", "error_message", "errors"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return f": {value[:200]}"
        if isinstance(value, list) and value:
            return f": {str(value[0])[:200]}"
    return ""


def json_body(response: httpx.Response, platform: str) -> Mapping[str, Any]:
    """The JSON object of a successful create; a garbled one leaves the outcome unknown."""
    check_response(response, platform)
    try:
        body = response.json()
    except ValueError as exc:
        raise OutcomeUnknown(f"{platform} accepted the request but sent no JSON") from exc
    if not isinstance(body, Mapping):
        raise OutcomeUnknown(f"{platform} accepted the request but sent no object")
    return body


# -- text rules --------------------------------------------------------------------------------

_URL = re.compile(r"https?://[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\"]")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~|`)(?=\S)(.+?)(?<=\S)\1")
_MENTION = re.compile(r"(?<![\w/])@[\w.\-]+(?:@[\w.\-]+)?")


def grapheme_count(text: str) -> int:
    """User-perceived characters (extended grapheme clusters), as Bluesky counts them."""
    return len(regex.findall(r"\X", text))


def find_urls(text: str) -> list[re.Match[str]]:
    """The http(s) URLs in plain text."""
    return list(_URL.finditer(text))


def markdown_to_plain(text: str) -> str:
    """Markdown links and emphasis turned into what a plain-text platform shows well."""
    text = _MD_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    return _MD_EMPHASIS.sub(lambda m: m.group(2), text)


def require_text(text: str, *, minimum: int = 1) -> str:
    """The stripped text, or a RuleViolation when it is (nearly) empty."""
    stripped = text.strip()
    if len(stripped) < minimum:
        raise RuleViolation(
            f"the text must be at least {minimum} characters" if minimum > 1 else "empty text"
        )
    return stripped


def require_target(request: WriteRequest) -> PostRef:
    """The reply's target, or a RuleViolation saying it is missing."""
    if request.target is None:
        raise RuleViolation("a reply needs the post it answers", field="target")
    return request.target


# -- finding our own earlier reply -------------------------------------------------------------


def _words(text: str) -> list[str]:
    # Platforms render what we send: links get shortened or titled, @mentions lose their
    # domain, Markdown becomes HTML. Compare the words that survive all of that.
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _MENTION.sub(" ", _URL.sub(" ", text))
    words: list[str] = regex.findall(r"\w+", text.casefold())
    return words


def same_text(sent: str, seen: str) -> bool:
    """Whether `seen` (as the platform shows it) is the text we sent."""
    ours, theirs = _words(sent), _words(seen)
    if not ours or not theirs:
        return False
    if ours == theirs:
        return True
    # A platform may cut a long text; a long common start still identifies it.
    shorter = min(len(ours), len(theirs))
    return shorter >= 8 and ours[:shorter] == theirs[:shorter]


def pick_own_reply(
    candidates: Iterable[MentionIn],
    *,
    request: WriteRequest,
    identities: set[str],
    since: datetime,
) -> MentionIn | None:
    """The candidate that is our reply to the request's target with the request's text."""
    target = request.target
    # Clocks differ between us and the platform; allow some slack before the attempt.
    not_before = since - timedelta(minutes=5)
    for item in candidates:
        author = item.author
        if author is None or not ({author.platform_id, author.handle or ""} & identities):
            continue
        if target is not None and item.reply_to_external_id not in (target.external_id, None):
            continue
        if item.created_at >= not_before and same_text(request.text, item.text):
            return item
    return None


async def find_own_reply(
    writer: Writer,
    *,
    client: httpx.AsyncClient,
    config: BaseModel,
    request: WriteRequest,
    since: datetime,
) -> WriteResult | None:
    """Our reply to `request.target` made since `since`, if the platform has it."""
    target = require_target(request)
    identities = await writer.own_identities(client=client, config=config)
    thread = await writer.thread(client=client, config=config, root=target)
    found = pick_own_reply(thread.items, request=request, identities=identities, since=since)
    return None if found is None else writer.result_from_mention(found)
