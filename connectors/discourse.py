"""Discourse: the latest posts (`/posts.json`, paged with `before`) or a search, newest first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors._normalize import (
    ItemError,
    NewestFirstWalk,
    PlatformError,
    WalkCursor,
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
    utcnow,
)
from connectors._recheck import MAX_REFS, Tally, Verdict
from connectors.base import FetchResult, ItemRef, NoCursor, RecheckResult, RejectedItem, WriteAction
from connectors.http import describe_error
from connectors.items import AuthorIn, EngagementIn, MentionIn
from connectors.writes import (
    PostRef,
    RuleViolation,
    TextFormat,
    WriteRequest,
    WriteResult,
    check_response,
    classify_send_failure,
    json_body,
    require_target,
    require_text,
)

# Discourse's default site settings: min_post_length 20, max_post_length 32000,
# min_topic_title_length 15, max_topic_title_length 255.
_MIN_POST, _MAX_POST, _MIN_TITLE, _MAX_TITLE = 20, 32_000, 15, 255
_LIKE = 2  # post_action_type_id of a like


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
    category_id: int | None = Field(default=None, description="Where new topics are started")
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


class DiscourseCursor(WalkCursor, total=False):
    """A newest-first walk over post ids; `resume` is a `before` post id or a search page."""


class DiscourseConnector:
    """Walks posts newest first down to the highest post id of the previous poll."""

    kind: ClassVar[str] = "discourse"
    config_model: ClassVar[type[BaseModel]] = DiscourseConfig
    write_actions: ClassVar[frozenset[WriteAction]] = frozenset(
        {WriteAction.REPLY, WriteAction.POST, WriteAction.LIKE}
    )
    text_format: ClassVar[TextFormat] = TextFormat.MARKDOWN
    honours_idempotency_key: ClassVar[bool] = False

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: DiscourseCursor
    ) -> FetchResult[DiscourseCursor]:
        """Fetch posts with ids above the cursor's watermark."""
        cfg = coerce_config(config, DiscourseConfig)
        if paused_until(cursor, utcnow()):
            return FetchResult(items=[], cursor=cursor.copy())
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

    async def check(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteRequest:
        """Markdown of 20 to 32,000 characters; a new topic also needs a title."""
        _write_headers(config)
        text = require_text(request.text, minimum=_MIN_POST)
        if len(text) > _MAX_POST:
            raise RuleViolation(f"{len(text)} characters where Discourse allows {_MAX_POST}")
        if request.action is WriteAction.REPLY:
            if not isinstance(as_mapping(require_target(request).raw).get("topic_id"), int):
                raise RuleViolation("the post to answer has no topic_id", field="target")
        elif not _MIN_TITLE <= len((request.title or "").strip()) <= _MAX_TITLE:
            raise RuleViolation(
                f"a new topic needs a title of {_MIN_TITLE} to {_MAX_TITLE} characters", "title"
            )
        return request

    async def reply(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Post in the target's topic, as a reply to its post number."""
        await self.check(client=client, config=config, request=request)
        raw = as_mapping(require_target(request).raw)
        body: dict[str, Any] = {"raw": request.text.strip(), "topic_id": raw["topic_id"]}
        # Answering the first post is answering the topic: Discourse leaves the number out.
        if isinstance(raw.get("post_number"), int) and raw["post_number"] > 1:
            body["reply_to_post_number"] = raw["post_number"]
        return await self._create(client, config, body)

    async def post(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Start a topic (in the configured category)."""
        await self.check(client=client, config=config, request=request)
        cfg = coerce_config(config, DiscourseConfig)
        body: dict[str, Any] = {"title": str(request.title).strip(), "raw": request.text.strip()}
        if cfg.category_id is not None:
            body["category"] = cfg.category_id
        return await self._create(client, config, body)

    async def like(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Like the post."""
        cfg, headers = coerce_config(config, DiscourseConfig), _write_headers(config)
        post_id = _post_id(target)
        try:
            response = await client.post(
                f"{cfg.base_url}/post_actions.json",
                json={"id": post_id, "post_action_type_id": _LIKE},
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise classify_send_failure(exc, "Discourse") from exc
        check_response(response, "Discourse")
        return WriteResult(target.external_id, str(post_id), target.url)

    async def boost(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Discourse has no boost."""
        raise RuleViolation("Discourse has no boost; like instead", field="action")

    async def undo(
        self,
        *,
        client: httpx.AsyncClient,
        config: BaseModel,
        action: WriteAction,
        target: PostRef,
        done: WriteResult,
    ) -> None:
        """Remove our like."""
        cfg, headers = coerce_config(config, DiscourseConfig), _write_headers(config)
        try:
            response = await client.delete(
                f"{cfg.base_url}/post_actions/{_post_id(target)}.json",
                params={"post_action_type_id": _LIKE},
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise classify_send_failure(exc, "Discourse") from exc
        check_response(response, "Discourse")

    async def thread(
        self, *, client: httpx.AsyncClient, config: BaseModel, root: PostRef
    ) -> FetchResult[NoCursor]:
        """The posts of the root's topic (`/t/{id}.json`, up to its first 100 posts)."""
        cfg = coerce_config(config, DiscourseConfig)
        topic_id = as_mapping(root.raw).get("topic_id")
        if not isinstance(topic_id, int):
            raise RuleViolation("the post has no topic_id", field="target")
        headers = _write_headers(config) if cfg.api_key else {"Accept": "application/json"}
        response = await client.get(f"{cfg.base_url}/t/{topic_id}.json", headers=headers)
        topic = as_mapping(read_json(response, "Discourse"))
        stream = as_mapping(topic.get("post_stream"))
        posts = list(stream.get("posts") or [])
        have = {as_mapping(p).get("id") for p in posts}
        missing = [i for i in stream.get("stream") or [] if i not in have][:80]
        if missing:
            # The first page holds about 20 posts; the rest come by id.
            response = await client.get(
                f"{cfg.base_url}/t/{topic_id}/posts.json",
                params=[("post_ids[]", str(i)) for i in missing],
                headers=headers,
            )
            more = as_mapping(as_mapping(read_json(response, "Discourse")).get("post_stream"))
            posts.extend(more.get("posts") or [])
        items, rejected = self._map(cfg, posts, {topic_id: topic})
        # The topic's own first post is the root, not a reply to it.
        items = [i for i in items if as_mapping(i.raw).get("post_number") != 1]
        return FetchResult(items=items, cursor={}, rejected=rejected)

    async def own_identities(self, *, client: httpx.AsyncClient, config: BaseModel) -> set[str]:
        """The API user, as authors' handles read."""
        return {f"@{coerce_config(config, DiscourseConfig).api_username}"}

    def result_from_mention(self, item: MentionIn) -> WriteResult:
        """Our post as found in the topic."""
        post_id = as_mapping(item.raw).get("id")
        url = str(item.url) if item.url else None
        return WriteResult(item.external_id, str(post_id), url, item.raw or {})

    async def recheck(
        self, *, client: httpx.AsyncClient, config: BaseModel, refs: Sequence[ItemRef]
    ) -> RecheckResult:
        """Which posts are gone: `/posts/{id}.json` answers 404 (or 410), or, for an API user
        who may still see it, carries `deleted_at` or `user_deleted`."""
        cfg = coerce_config(config, DiscourseConfig)
        headers = {"Accept": "application/json"}
        if cfg.api_key is not None and cfg.api_username is not None:
            headers |= {"Api-Key": cfg.api_key.get_secret_value(), "Api-Username": cfg.api_username}
        host = host_of(cfg.base_url)
        tally = Tally()
        for ref in refs[:MAX_REFS]:
            post_id = _recheck_post_id(ref, host)
            if post_id is None:
                continue
            try:
                response = await client.get(f"{cfg.base_url}/posts/{post_id}.json", headers=headers)
                if response.status_code in (404, 410):
                    verdict = Verdict.GONE
                else:
                    post = as_mapping(read_json(response, "Discourse"))
                    deleted = post.get("deleted_at") or post.get("user_deleted") is True
                    verdict = Verdict.GONE if deleted else Verdict.ALIVE
            except httpx.HTTPError as exc:
                tally.stop(describe_error(exc))
                break
            tally.record(ref.external_id, verdict)
        return tally.result()

    async def _create(
        self, client: httpx.AsyncClient, config: BaseModel, body: dict[str, Any]
    ) -> WriteResult:
        cfg, headers = coerce_config(config, DiscourseConfig), _write_headers(config)
        try:
            response = await client.post(f"{cfg.base_url}/posts.json", json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise classify_send_failure(exc, "Discourse") from exc
        created = json_body(response, "Discourse")
        items, _ = self._map(cfg, [created], {})
        if not items:
            raise PlatformError("Discourse accepted the post but returned no post")
        return self.result_from_mention(items[0])

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


def _write_headers(config: BaseModel) -> dict[str, str]:
    cfg = coerce_config(config, DiscourseConfig)
    if cfg.api_key is None or cfg.api_username is None:
        raise RuleViolation("writing needs the source's api_key and api_username", "config")
    return {
        "Accept": "application/json",
        "Api-Key": cfg.api_key.get_secret_value(),
        "Api-Username": cfg.api_username,
    }


def _post_id(target: PostRef) -> int:
    post_id = as_mapping(target.raw).get("id")
    if not isinstance(post_id, int):
        raise RuleViolation("the post has no Discourse id", field="target")
    return post_id


def _recheck_post_id(ref: ItemRef, host: str) -> int | None:
    """The post id in `host:id` (this forum's posts only), or in the stored post."""
    prefix, _, number = ref.external_id.rpartition(":")
    if prefix == host and number.isdigit():
        return int(number)
    post_id = as_mapping(ref.raw).get("id")
    return post_id if isinstance(post_id, int) and prefix == host else None
