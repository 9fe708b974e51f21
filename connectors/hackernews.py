"""Hacker News through Algolia's `search_by_date`, windowed by `created_at_i`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors._normalize import (
    ItemError,
    NewestFirstWalk,
    PlatformError,
    WalkCursor,
    Watermark,
    as_mapping,
    clean_base_url,
    coerce_config,
    html_to_text,
    http_url,
    join_text,
    map_items,
    optional_int,
    parse_timestamp,
    paused_until,
    read_json,
    require_str,
    utcnow,
)
from connectors.base import FetchResult, RejectedItem, WriteAction
from connectors.items import AuthorIn, EngagementIn, MentionIn


class HackerNewsConfig(BaseModel):
    """An Algolia HN search for stories and comments."""

    model_config = ConfigDict(extra="forbid")

    api_url: str = "https://hn.algolia.com/api/v1"
    site_url: str = Field(default="https://news.ycombinator.com", description="Where links point")
    query: str = Field(min_length=1, max_length=500)
    tags: str = Field(
        default="(story,comment)", max_length=200, description="Algolia tags: comma AND, () OR"
    )
    page_size: int = Field(default=100, ge=1, le=1000)
    max_pages: int = Field(default=5, ge=1, le=50)

    @field_validator("api_url", "site_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return clean_base_url(value)


class HackerNewsCursor(WalkCursor, total=False):
    """A newest-first walk over Algolia hits; `resume` is the backlog's upper mark."""


class HackerNewsConnector:
    """Pages newest first inside a `created_at_i` window instead of paging deep."""

    kind: ClassVar[str] = "hackernews"
    config_model: ClassVar[type[BaseModel]] = HackerNewsConfig
    # Hacker News has no write API: staff answer on the site itself.
    write_actions: ClassVar[frozenset[WriteAction]] = frozenset()

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: HackerNewsCursor
    ) -> FetchResult[HackerNewsCursor]:
        """Fetch hits created since the cursor's watermark."""
        cfg = coerce_config(config, HackerNewsConfig)
        if paused_until(cursor, utcnow()):
            return FetchResult(items=[], cursor=cursor.copy())
        walk = NewestFirstWalk.from_cursor(cursor)
        # The backlog's upper edge is itself a mark: items at that second already seen stay out.
        ceiling = Watermark.from_json(walk.resume)
        seen, oldest = Watermark(), Watermark()
        items: list[MentionIn] = []
        rejected: list[RejectedItem] = []
        drained = False
        for page in range(cfg.max_pages):
            body = await self._search(client, cfg, walk.mark, ceiling, page)
            hits = body.get("hits")
            if not isinstance(hits, list):
                raise PlatformError("Algolia answered without a hits list")
            fresh, reached_old = [], False
            for hit in hits:
                data = as_mapping(hit)
                at, object_id = data.get("created_at_i"), data.get("objectID")
                if not isinstance(at, int) or not isinstance(object_id, str):
                    fresh.append(hit)  # the mapper rejects it with a reason
                elif not walk.mark.is_new(at, object_id):
                    reached_old = True
                elif _under(ceiling, at, object_id):
                    fresh.append(hit)
                    seen.include(at, object_id)
                    _lower(oldest, at, object_id)
            page_items, page_rejected = map_items(
                fresh, lambda raw: hit_to_mention(raw, site_url=cfg.site_url), id_of=_object_id
            )
            items.extend(page_items)
            rejected.extend(page_rejected)
            pages = body.get("nbPages")
            last_page = not isinstance(pages, int) or page + 1 >= pages
            if reached_old or not hits or last_page or walk.first_poll:
                drained = True
                break
        resume = oldest.to_json() if oldest.at is not None else walk.resume
        walk.finish(seen=seen, drained=drained, resume=resume)
        return FetchResult(items=items, cursor=walk.to_cursor(), rejected=rejected)

    @staticmethod
    async def _search(
        client: httpx.AsyncClient,
        cfg: HackerNewsConfig,
        mark: Watermark,
        ceiling: Watermark,
        page: int,
    ) -> Mapping[str, Any]:
        filters = []
        # >= rather than >: hits in the mark's own second may still be unseen.
        if mark.at is not None:
            filters.append(f"created_at_i>={mark.at}")
        if ceiling.at is not None:
            filters.append(f"created_at_i<={ceiling.at}")
        params: dict[str, str | int] = {
            "query": cfg.query,
            "tags": cfg.tags,
            "hitsPerPage": cfg.page_size,
            "page": page,
        }
        if filters:
            params["numericFilters"] = ",".join(filters)
        response = await client.get(f"{cfg.api_url}/search_by_date", params=params)
        return as_mapping(read_json(response, "Hacker News search"))


def _under(ceiling: Watermark, at: int, item_id: str) -> bool:
    """True when a backlog's upper edge has not yet covered this item."""
    if ceiling.at is None or at < ceiling.at:
        return True
    return at == ceiling.at and item_id not in ceiling.ids


def _lower(mark: Watermark, at: int, item_id: str) -> None:
    """Track the oldest position seen (a mark that moves down instead of up)."""
    if mark.at is None or at < mark.at:
        mark.at, mark.ids = at, [item_id]
    elif at == mark.at and item_id not in mark.ids:
        mark.ids.append(item_id)


def _object_id(raw: Any) -> str | None:
    value = as_mapping(raw).get("objectID")
    return value if isinstance(value, str) else None


def hit_to_mention(hit: Mapping[str, Any], *, site_url: str) -> MentionIn:
    """Map an Algolia story or comment hit to a mention."""
    object_id = require_str(hit, "objectID")
    raw_tags = hit.get("_tags")
    tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
    comment_html = hit.get("comment_text")
    is_comment = "comment" in tags or isinstance(comment_html, str)
    if is_comment:
        html = comment_html if isinstance(comment_html, str) else None
        text = html_to_text(html)
        reply_to, thread = _id_str(hit.get("parent_id")), _id_str(hit.get("story_id"))
    else:
        html = hit.get("story_text") if isinstance(hit.get("story_text"), str) else None
        text = join_text(hit.get("title"), html_to_text(html), http_url(hit.get("url")))
        reply_to, thread = None, object_id
    if not text:
        raise ItemError("hit has no text")
    created = hit.get("created_at_i")
    points = hit.get("points")
    return MentionIn(
        platform="hackernews",
        external_id=object_id,
        url=f"{site_url}/item?id={object_id}",
        text=text,
        html=html or None,
        created_at=parse_timestamp(created if created is not None else hit.get("created_at")),
        author=_author(hit.get("author"), site_url),
        reply_to_external_id=reply_to,
        thread_external_id=thread,
        engagement=EngagementIn(
            score=points if isinstance(points, int) and not isinstance(points, bool) else None,
            replies=optional_int(hit.get("num_comments")),
        ),
        raw=dict(hit),
    )


def _id_str(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def _author(name: Any, site_url: str) -> AuthorIn | None:
    if not isinstance(name, str) or not name:
        return None
    return AuthorIn(platform_id=name, handle=name, profile_url=f"{site_url}/user?id={name}")
