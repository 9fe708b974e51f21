"""The normalized mention every connector and importer produces."""

from __future__ import annotations

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


class AuthorIn(BaseModel):
    """Who wrote a mention, as the platform identifies them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    platform_id: str = Field(min_length=1, max_length=512, description="Stable id on the platform")
    handle: str | None = Field(default=None, max_length=512, examples=["@anna@mastodon.social"])
    display_name: str | None = Field(default=None, max_length=512)
    profile_url: AnyHttpUrl | None = None
    followers: int | None = Field(default=None, ge=0, description="Follower count, the reach")


class EngagementIn(BaseModel):
    """Engagement counters as the platform reports them; absent means unknown."""

    model_config = ConfigDict(extra="forbid")

    likes: int | None = Field(default=None, ge=0)
    reposts: int | None = Field(default=None, ge=0)
    replies: int | None = Field(default=None, ge=0)
    score: int | None = Field(default=None, description="Net votes (Reddit, HN, Stack Exchange)")
    views: int | None = Field(default=None, ge=0)


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
        default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", examples=["nl"]
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
        return value.astimezone(UTC)

    @field_validator("text")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        # PostgreSQL text cannot hold NUL; strip it rather than reject the post.
        return value.replace("\x00", "")
