"""The normalized mention every connector and importer produces."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

PLATFORMS = (
    "rss",
    "mastodon",
    "bluesky",
    "reddit",
    "hackernews",
    "stackexchange",
    "discourse",
    "lemmy",
    "other",
)

# The bounds of the integer columns (followers, engagement): PostgreSQL's `integer`. A count
# beyond them is corrupt data, not a big account: the item is rejected with the field named.
MAX_COUNT = 2**31 - 1
MIN_COUNT = -(2**31)
# How deep `raw` is kept: deeper values become null (a payload is evidence, not a bomb).
MAX_RAW_DEPTH = 32

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_UNSTORABLE_REASON = "must not contain NUL or unpaired surrogate characters"


def storable_text(value: str) -> str:
    """`value` without NUL and unpaired surrogates: no database text column can hold them."""
    return _UNSTORABLE.sub("", value)


def storable_json(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of `value` that every database stores: strings (keys too) cleaned,
    NaN and infinities as null, nesting beyond `MAX_RAW_DEPTH` as null, other types as text."""
    if isinstance(value, str):
        return storable_text(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_RAW_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {storable_text(str(k)): storable_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_json(v, depth + 1) for v in value]
    return storable_text(str(value))


def _clean(value: Any) -> Any:
    return storable_text(value) if isinstance(value, str) else value


def _identifier(value: str | None) -> str | None:
    # Ids are compared with the platform's own (dedupe, threads, replies): rewriting one would
    # silently break that, so an id that cannot be stored rejects its item instead.
    if value is not None and _UNSTORABLE.search(value):
        raise ValueError(_UNSTORABLE_REASON)
    return value


class AuthorIn(BaseModel):
    """Who wrote a mention, as the platform identifies them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    platform_id: str = Field(min_length=1, max_length=512, description="Stable id on the platform")
    handle: str | None = Field(default=None, max_length=512, examples=["@anna@mastodon.social"])
    display_name: str | None = Field(default=None, max_length=512)
    profile_url: AnyHttpUrl | None = None
    followers: int | None = Field(
        default=None, ge=0, le=MAX_COUNT, description="Follower count, the reach"
    )

    @field_validator("handle", "display_name", "profile_url", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return _clean(value)

    @field_validator("platform_id")
    @classmethod
    def _storable_id(cls, value: str) -> str:
        _identifier(value)
        return value


class EngagementIn(BaseModel):
    """Engagement counters as the platform reports them; absent means unknown."""

    model_config = ConfigDict(extra="forbid")

    likes: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    reposts: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    replies: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    score: int | None = Field(
        default=None,
        ge=MIN_COUNT,
        le=MAX_COUNT,
        description="Net votes (Reddit, HN, Stack Exchange)",
    )
    views: int | None = Field(default=None, ge=0, le=MAX_COUNT)


class MentionIn(BaseModel):
    """One public post about the organisation, normalized across platforms."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    platform: str = Field(examples=["mastodon"], description=f"One of {', '.join(PLATFORMS)}")
    source: str | None = Field(
        default=None,
        max_length=200,
        description="Name of the source it came from; imports without one use '<platform>-import'",
    )
    external_id: str = Field(min_length=1, max_length=512, description="Id on the platform")
    url: AnyHttpUrl | None = None
    text: str = Field(min_length=1, max_length=100_000, description="Plain text")
    html: str | None = Field(default=None, max_length=500_000, description="Raw HTML as received")
    language: str | None = Field(
        default=None,
        max_length=16,
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        examples=["nl"],
    )
    created_at: datetime
    author: AuthorIn | None = None
    reply_to_external_id: str | None = Field(default=None, max_length=512)
    thread_external_id: str | None = Field(default=None, max_length=512)
    engagement: EngagementIn = Field(default_factory=EngagementIn)
    raw: dict[str, Any] | None = Field(
        default=None, description="The platform payload, as received"
    )

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        value = value.lower()
        if value not in PLATFORMS:
            raise ValueError(f"unknown platform {value!r}; expected one of {', '.join(PLATFORMS)}")
        return value

    @field_validator("created_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        # Platforms disagree on offsets; naive timestamps are taken as UTC.
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise ValueError("date out of range") from exc

    @field_validator("text", "html", "url", mode="before")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        # No database column holds NUL or a lone surrogate; strip them rather than lose the post.
        return _clean(value)

    @field_validator("external_id", "reply_to_external_id", "thread_external_id", "source")
    @classmethod
    def _storable_id(cls, value: str | None) -> str | None:
        return _identifier(value)

    @field_validator("raw", mode="before")
    @classmethod
    def _storable_raw(cls, value: Any) -> Any:
        return storable_json(value) if isinstance(value, Mapping) else value
