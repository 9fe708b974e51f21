"""Mastodon: public hashtag timelines on any instance, or full-text search with a user token."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors._normalize import (
    ItemError,
    PlatformError,
    as_mapping,
    clean_base_url,
    coerce_config,
    host_of,
    html_to_text,
    http_url,
    isoformat,
    join_text,
    language_tag,
    map_items,
    optional_int,
    parse_timestamp,
    paused_until,
    rate_limit_pause,
    read_json,
    require_str,
    utc_now,
)
from connectors.base import FetchResult, RejectedItem, WriteAction
from connectors.items import AuthorIn, EngagementIn, MentionIn

_TAG = re.compile(r"^\w{1,100}$")
# Only statuses anyone may read are mentions; followers-only and direct ones stay private.
_PUBLIC_VISIBILITIES = frozenset({"public", "unlisted"})


def _clean_tag(value: str) -> str:
    tag = value.strip().lstrip("#")
    if not _TAG.match(tag):
        raise ValueError("a hashtag is letters, digits and underscores")
    return tag


class MastodonConfig(BaseModel):
    """Where and what to listen to on one Mastodon-compatible instance."""

    model_config = ConfigDict(extra="forbid")

    instance_url: str = Field(examples=["https://mastodon.social"])
    hashtag: str | None = Field(default=None, description="Tag timeline to follow, without #")
    any_tags: list[str] = Field(
        default_factory=list, max_length=3, description="Also match these tags (at most 4 in all)"
    )
    local_only: bool = False
    query: str | None = Field(
        default=None, max_length=500, description="Full-text search instead of a tag (needs token)"
    )
    access_token: SecretStr | None = Field(
        default=None, description="User token; required for search or tag feeds an admin restricted"
    )
    page_size: int = Field(default=40, ge=1, le=40)
    max_pages: int = Field(default=5, ge=1, le=50)

    @field_validator("instance_url")
    @classmethod
    def _instance_url(cls, value: str) -> str:
        return clean_base_url(value)

    @field_validator("hashtag")
    @classmethod
    def _hashtag(cls, value: str | None) -> str | None:
        return None if value is None else _clean_tag(value)

    @field_validator("any_tags")
    @classmethod
    def _any_tags(cls, value: list[str]) -> list[str]:
        return [_clean_tag(tag) for tag in value]

    @model_validator(mode="after")
    def _one_mode(self) -> Self:
        if (self.hashtag is None) == (self.query is None):
            raise ValueError("set exactly one of hashtag or query")
        if self.query is not None and self.access_token is None:
            raise ValueError("status search needs access_token (a user token)")
        return self


def _id_key(status_id: str) -> tuple[int, str]:
    # Ids are opaque strings (Snowflakes, flake ids, ULIDs); length then text orders all of them.
    return (len(status_id), status_id)


def _prev_min_id(response: httpx.Response) -> str | None:
    """The min_id the server offers for the next newer page (Link rel="prev")."""
    prev = response.links.get("prev", {}).get("url")
    if not prev:
        return None
    values = parse_qs(urlsplit(prev).query).get("min_id")
    return values[0] if values else None


class MastodonConnector:
    """Polls a tag timeline (or search) with `min_id`, oldest unseen page first."""

    kind: ClassVar[str] = "mastodon"
    config_model: ClassVar[type[BaseModel]] = MastodonConfig
    write_actions: ClassVar[frozenset[WriteAction]] = frozenset(
        {WriteAction.REPLY, WriteAction.POST, WriteAction.LIKE, WriteAction.BOOST}
    )

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: dict[str, Any]
    ) -> FetchResult:
        """Fetch statuses newer than the cursor's `min_id` and return them with the next one."""
        cfg = coerce_config(config, MastodonConfig)
        now = utc_now()
        if paused_until(cursor, now):
            return FetchResult(items=[], cursor=dict(cursor))
        min_id: str | None = cursor.get("min_id") or None
        first_poll = min_id is None
        headers = {}
        if cfg.access_token is not None:
            headers["Authorization"] = f"Bearer {cfg.access_token.get_secret_value()}"
        items: list[MentionIn] = []
        rejected: list[RejectedItem] = []
        seen_uris: set[str] = set()
        not_before = None
        for _ in range(cfg.max_pages):
            response = await client.get(
                self._url(cfg), params=self._params(cfg, min_id), headers=headers
            )
            statuses = self._statuses(cfg, read_json(response, "Mastodon"))
            page_items, page_rejected = self._map_page(statuses, host_of(cfg.instance_url))
            for mention in page_items:
                if mention.external_id not in seen_uris:
                    seen_uris.add(mention.external_id)
                    items.append(mention)
            rejected.extend(page_rejected)
            newest = _prev_min_id(response) or self._newest_id(statuses)
            if newest is not None:
                min_id = newest
            not_before = rate_limit_pause(response.headers, now=now)
            # The first poll takes only the newest page: listening starts now, not in the archive.
            if first_poll or len(statuses) < cfg.page_size or not_before is not None:
                break
        next_cursor: dict[str, Any] = {"min_id": min_id}
        if not_before is not None:
            next_cursor["not_before"] = isoformat(not_before)
        return FetchResult(items=items, cursor=next_cursor, rejected=rejected)

    @staticmethod
    def _url(cfg: MastodonConfig) -> str:
        if cfg.query is not None:
            return f"{cfg.instance_url}/api/v2/search"
        return f"{cfg.instance_url}/api/v1/timelines/tag/{cfg.hashtag}"

    @staticmethod
    def _params(cfg: MastodonConfig, min_id: str | None) -> httpx.QueryParams:
        params: list[tuple[str, str]] = [("limit", str(cfg.page_size))]
        if cfg.query is not None:
            params += [("q", cfg.query), ("type", "statuses"), ("resolve", "false")]
        else:
            params += [("any[]", tag) for tag in cfg.any_tags]
            if cfg.local_only:
                params.append(("local", "true"))
        if min_id is not None:
            params.append(("min_id", min_id))
        return httpx.QueryParams(tuple(params))

    @staticmethod
    def _statuses(cfg: MastodonConfig, body: Any) -> list[Any]:
        searching = cfg.query is not None and isinstance(body, dict)
        statuses = body.get("statuses") if searching else body
        if not isinstance(statuses, list):
            raise PlatformError("Mastodon answered with something other than a list of statuses")
        return statuses

    @staticmethod
    def _newest_id(statuses: list[Any]) -> str | None:
        ids = [s["id"] for s in statuses if isinstance(s, Mapping) and isinstance(s.get("id"), str)]
        return max(ids, key=_id_key) if ids else None

    def _map_page(
        self, statuses: list[Any], instance_host: str
    ) -> tuple[list[MentionIn], list[RejectedItem]]:
        # in_reply_to_id is an id on this instance; only parents on the same page map to a URI.
        uri_by_id: dict[str, str] = {}
        for raw in statuses:
            for status in (as_mapping(raw), as_mapping(as_mapping(raw).get("reblog"))):
                if isinstance(status.get("id"), str) and isinstance(status.get("uri"), str):
                    uri_by_id[status["id"]] = status["uri"]
        return map_items(
            statuses,
            lambda raw: status_to_mention(raw, instance_host=instance_host, uri_by_id=uri_by_id),
            id_of=lambda raw: (as_mapping(raw.get("reblog")) or raw).get("uri"),
        )


def status_to_mention(
    raw: Mapping[str, Any], *, instance_host: str, uri_by_id: Mapping[str, str]
) -> MentionIn | None:
    """Map a Status (a boost maps to the status it boosts) to a mention; private ones skip."""
    reblog = raw.get("reblog")
    status = reblog if isinstance(reblog, Mapping) else raw
    uri = require_str(status, "uri")
    if status.get("visibility", "public") not in _PUBLIC_VISIBILITIES:
        return None
    content = status.get("content") or ""
    text = join_text(status.get("spoiler_text"), html_to_text(content))
    if not text:
        # A picture-only post still says something through its alt text.
        text = join_text(
            *(as_mapping(m).get("description") for m in status.get("media_attachments") or [])
        )
    if not text:
        raise ItemError("status has no text")
    reply_to_id = status.get("in_reply_to_id")
    return MentionIn(
        platform="mastodon",
        external_id=uri,
        url=http_url(status.get("url")) or http_url(uri),
        text=text,
        html=content or None,
        language=language_tag(status.get("language")),
        created_at=parse_timestamp(status.get("created_at")),
        author=_author(as_mapping(status.get("account")), instance_host),
        reply_to_external_id=uri_by_id.get(reply_to_id) if isinstance(reply_to_id, str) else None,
        engagement=EngagementIn(
            likes=optional_int(status.get("favourites_count")),
            reposts=optional_int(status.get("reblogs_count")),
            replies=optional_int(status.get("replies_count")),
        ),
        raw=dict(raw),
    )


def _author(account: Mapping[str, Any], instance_host: str) -> AuthorIn | None:
    acct = account.get("acct")
    if not isinstance(acct, str) or not acct:
        return None
    # Local accounts come without a domain; the queried instance is their home.
    full = acct if "@" in acct else f"{acct}@{instance_host}"
    profile_url = http_url(account.get("url"))
    return AuthorIn(
        platform_id=http_url(account.get("uri")) or profile_url or full,
        handle=f"@{full}",
        display_name=account.get("display_name") or None,
        profile_url=profile_url,
        followers=optional_int(account.get("followers_count")),
    )
