"""Discourse: the latest posts (`/posts.json`, paged with `before`) or a search, newest first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors._normalize import (
    ItemError,
    NewestFirstWalk,
    PlatformError,
    Watermark,
    as_mapping,
    clean_base_url,
    coerce_config,
    host_of,
    html_to_text,
    map_items,
    optional_int,
    parse_timestamp,
    paused_until,
    read_json,
    utc_now,
)
from connectors.base import FetchResult, RejectedItem, WriteAction
from connectors.items import AuthorIn, EngagementIn, MentionIn


class DiscourseConfig(BaseModel):
    """One Discourse forum: every new post, or the posts a search finds."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(examples=["https://forum.example"])
    query: str | None = Field(
        default=None, max_length=500, description="Search terms; without one, every new post"
    )
    api_key: SecretStr | None = Field(default=None, description="Only for non-public categories")
    api_username: str | None = None
    fetch_full_posts: bool = Field(
        default=True, description="Search results without `cooked` are fetched one by one"
    )
    max_pages: int = Field(default=5, ge=1, le=50)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return clean_base_url(value)

    @model_validator(mode="after")
    def _key_with_user(self) -> Self:
        if (self.api_key is None) != (self.api_username is None):
            raise ValueError("api_key and api_username go together")
        return self


class DiscourseConnector:
    """Walks posts newest first down to the highest post id of the previous poll."""

    kind: ClassVar[str] = "discourse"
    config_model: ClassVar[type[BaseModel]] = DiscourseConfig
    write_actions: ClassVar[frozenset[WriteAction]] = frozenset(
        {WriteAction.REPLY, WriteAction.POST, WriteAction.LIKE}
    )

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: dict[str, Any]
    ) -> FetchResult:
        """Fetch posts with ids above the cursor's watermark."""
        cfg = coerce_config(config, DiscourseConfig)
        if paused_until(cursor, utc_now()):
            return FetchResult(items=[], cursor=dict(cursor))
        walk = NewestFirstWalk.from_cursor(cursor)
        headers = {"Accept": "application/json"}
        if cfg.api_key is not None and cfg.api_username is not None:
            headers |= {"Api-Key": cfg.api_key.get_secret_value(), "Api-Username": cfg.api_username}
        seen = Watermark()
        items: list[MentionIn] = []
        rejected: list[RejectedItem] = []
        # `resume` is the `before` post id (latest posts) or the next page number (search).
        position = walk.resume if isinstance(walk.resume, int) else None
        drained = False
        for _ in range(cfg.max_pages):
            posts, topics, more = await self._page(client, cfg, headers, position)
            fresh, reached_old = [], False
            for post in posts:
                post_id = as_mapping(post).get("id")
                if not isinstance(post_id, int):
                    fresh.append(post)  # the mapper rejects it with a reason
                elif walk.mark.is_new(post_id, str(post_id)):
                    fresh.append(post)
                    seen.include(post_id, str(post_id))
                else:
                    reached_old = True
            if cfg.query is not None and cfg.fetch_full_posts:
                fresh = [await self._full_post(client, cfg, headers, post) for post in fresh]
            page_items, page_rejected = self._map(cfg, fresh, topics)
            items.extend(page_items)
            rejected.extend(page_rejected)
            ids = [p["id"] for p in posts if isinstance(as_mapping(p).get("id"), int)]
            if cfg.query is not None:
                position = (position or 1) + 1
            elif ids:
                position = min(ids)
            if reached_old or not posts or not more or walk.first_poll:
                drained = True
                break
        walk.finish(seen=seen, drained=drained, resume=position)
        return FetchResult(items=items, cursor=walk.to_cursor(), rejected=rejected)

    async def _page(
        self,
        client: httpx.AsyncClient,
        cfg: DiscourseConfig,
        headers: dict[str, str],
        position: int | None,
    ) -> tuple[list[Any], dict[int, Mapping[str, Any]], bool]:
        """One page of posts, the topics it mentions, and whether more pages exist."""
        if cfg.query is None:
            params = {"before": position} if position else {}
            url = f"{cfg.base_url}/posts.json"
            response = await client.get(url, params=params, headers=headers)
            posts = as_mapping(read_json(response, "Discourse")).get("latest_posts")
            if not isinstance(posts, list):
                raise PlatformError("Discourse answered without latest_posts")
            return posts, {}, True
        response = await client.get(
            f"{cfg.base_url}/search.json",
            params={"q": f"{cfg.query} order:latest", "page": position or 1},
            headers=headers,
        )
        body = as_mapping(read_json(response, "Discourse"))
        posts = body.get("posts", [])
        if not isinstance(posts, list):
            raise PlatformError("Discourse search answered without a posts list")
        topics = {
            topic["id"]: topic
            for topic in body.get("topics") or []
            if isinstance(as_mapping(topic).get("id"), int)
        }
        grouped = as_mapping(body.get("grouped_search_result"))
        more = bool(grouped.get("more_full_page_results") or grouped.get("more_posts"))
        return posts, topics, more

    @staticmethod
    async def _full_post(
        client: httpx.AsyncClient, cfg: DiscourseConfig, headers: dict[str, str], post: Any
    ) -> Any:
        """The post with its `cooked` HTML: search results may carry only a truncated blurb."""
        data = as_mapping(post)
        if isinstance(data.get("cooked"), str) or not isinstance(data.get("id"), int):
            return post
        response = await client.get(f"{cfg.base_url}/posts/{data['id']}.json", headers=headers)
        if response.status_code >= 400:
            return post  # the blurb still says what the post is about
        full = as_mapping(read_json(response, "Discourse"))
        return {**data, **full}

    @staticmethod
    def _map(
        cfg: DiscourseConfig, posts: list[Any], topics: Mapping[int, Mapping[str, Any]]
    ) -> tuple[list[MentionIn], list[RejectedItem]]:
        host = host_of(cfg.base_url)
        # reply_to_post_number names a post in the same topic; map it when it is on this page.
        by_number = {
            (p.get("topic_id"), p.get("post_number")): p.get("id")
            for p in (as_mapping(post) for post in posts)
        }
        return map_items(
            posts,
            lambda raw: post_to_mention(
                raw, base_url=cfg.base_url, host=host, topics=topics, by_number=by_number
            ),
            id_of=lambda raw: f"{host}:{raw.get('id')}",
        )


def post_to_mention(
    post: Mapping[str, Any],
    *,
    base_url: str,
    host: str,
    topics: Mapping[int, Mapping[str, Any]],
    by_number: Mapping[tuple[Any, Any], Any],
) -> MentionIn | None:
    """Map a Discourse post to a mention; small-action posts ("closed the topic") skip."""
    post_id, topic_id = post.get("id"), post.get("topic_id")
    if not isinstance(post_id, int) or not isinstance(topic_id, int):
        raise ItemError("missing id or topic_id")
    # post_type 3 is a moderator action note, 4 a whisper: neither is a public mention.
    if post.get("post_type") in (3, 4):
        return None
    cooked = post.get("cooked") if isinstance(post.get("cooked"), str) else None
    text = html_to_text(cooked) or _plain(post.get("raw")) or _plain(post.get("blurb"))
    if not text:
        raise ItemError("post has no text")
    topic = topics.get(topic_id, {})
    slug = post.get("topic_slug") or topic.get("slug") or "-"
    number = post.get("post_number")
    url = f"{base_url}/t/{slug}/{topic_id}" + (f"/{number}" if isinstance(number, int) else "")
    parent = by_number.get((topic_id, post.get("reply_to_post_number")))
    return MentionIn(
        platform="discourse",
        external_id=f"{host}:{post_id}",
        url=url,
        text=text,
        html=cooked,
        created_at=parse_timestamp(post.get("created_at")),
        author=_author(post, base_url),
        reply_to_external_id=f"{host}:{parent}" if isinstance(parent, int) else None,
        thread_external_id=f"{host}:topic:{topic_id}",
        engagement=EngagementIn(
            likes=optional_int(post.get("like_count")),
            replies=optional_int(post.get("reply_count")),
            views=optional_int(post.get("reads")),
        ),
        raw=dict(post),
    )


def _plain(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _author(post: Mapping[str, Any], base_url: str) -> AuthorIn | None:
    username = post.get("username")
    if not isinstance(username, str) or not username:
        return None
    user_id = post.get("user_id")
    return AuthorIn(
        platform_id=str(user_id) if isinstance(user_id, int) else username,
        handle=f"@{username}",
        display_name=post.get("name") or None,
        profile_url=f"{base_url}/u/{username}",
    )
