"""Bluesky: authenticated `app.bsky.feed.searchPosts` in since/until windows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectors._bluesky_session import SHARED_SESSIONS, SessionCache, bearer, stale_token
from connectors._normalize import (
    ItemError,
    NewestFirstWalk,
    PlatformError,
    WalkCursor,
    Watermark,
    as_mapping,
    clean_base_url,
    coerce_config,
    isoformat,
    join_text,
    language_tag,
    map_items,
    optional_int,
    parse_timestamp,
    paused_until,
    read_json,
    require_str,
    utcnow,
)
from connectors._recheck import Tally, Verdict, batches
from connectors.base import FetchResult, ItemRef, NoCursor, RecheckResult, RejectedItem, WriteAction
from connectors.http import describe_error
from connectors.items import AuthorIn, EngagementIn, MentionIn
from connectors.writes import (
    PostRef,
    RuleViolation,
    TextFormat,
    WriteRejected,
    WriteRequest,
    WriteResult,
    classify_send_failure,
    find_urls,
    grapheme_count,
    json_body,
    markdown_to_plain,
    require_target,
    require_text,
)

_POST_COLLECTION = "app.bsky.feed.post"
_RECORD_OF = {WriteAction.LIKE: "app.bsky.feed.like", WriteAction.BOOST: "app.bsky.feed.repost"}
# app.bsky.feed.post: text maxGraphemes 300, maxLength 3000 (bytes of UTF-8).
_MAX_GRAPHEMES = 300
_MAX_BYTES = 3000
# app.bsky.feed.getPosts: uris maxLength 25.
_GET_POSTS_BATCH = 25
# Watermarks are whole microseconds since the epoch: exact, unlike float timestamps.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BlueskyConfig(BaseModel):
    """A Bluesky search run through an account's PDS with an app password."""

    model_config = ConfigDict(extra="forbid")

    service_url: str = Field(
        default="https://bsky.social", description="PDS (or entryway) that holds the account"
    )
    web_url: str = Field(default="https://bsky.app", description="Where post links point")
    identifier: str = Field(min_length=1, max_length=253, description="Handle, DID or e-mail")
    app_password: SecretStr
    query: str = Field(min_length=1, max_length=500, description="Lucene-style search terms")
    lang: str | None = Field(default=None, description="Only posts tagged with this language")
    page_size: int = Field(default=100, ge=1, le=100)
    max_pages: int = Field(default=5, ge=1, le=50)

    @field_validator("service_url", "web_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return clean_base_url(value)


class BlueskyCursor(WalkCursor, total=False):
    """A newest-first walk over search results; `resume` is the ISO time to continue below."""


class BlueskyConnector:
    """Searches posts newest first, down to the watermark of the previous poll."""

    kind: ClassVar[str] = "bluesky"
    config_model: ClassVar[type[BaseModel]] = BlueskyConfig
    write_actions: ClassVar[frozenset[WriteAction]] = frozenset(
        {WriteAction.REPLY, WriteAction.POST, WriteAction.LIKE, WriteAction.BOOST}
    )

    text_format: ClassVar[TextFormat] = TextFormat.PLAIN
    honours_idempotency_key: ClassVar[bool] = False

    def __init__(self, sessions: SessionCache | None = None) -> None:
        self._sessions = sessions if sessions is not None else SHARED_SESSIONS

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: BlueskyCursor
    ) -> FetchResult[BlueskyCursor]:
        """Fetch posts matching the query since the cursor's watermark."""
        cfg = coerce_config(config, BlueskyConfig)
        if paused_until(cursor, utcnow()):
            return FetchResult(items=[], cursor=cursor.copy())
        walk = NewestFirstWalk.from_cursor(cursor)
        seen = Watermark()
        oldest: int | None = None
        items: list[MentionIn] = []
        rejected: list[RejectedItem] = []
        page_cursor: str | None = None
        drained = False
        for _ in range(cfg.max_pages):
            body = await self._search(client, cfg, walk, page_cursor)
            posts = body.get("posts")
            if not isinstance(posts, list):
                raise PlatformError("Bluesky search answer has no posts list")
            fresh, reached_old = [], False
            for post in posts:
                key = _sort_key(post)
                uri = as_mapping(post).get("uri")
                if key is None or not isinstance(uri, str):
                    fresh.append(post)  # the mapper rejects it with a reason
                elif walk.mark.is_new(key, uri):
                    fresh.append(post)
                    seen.include(key, uri)
                    oldest = key if oldest is None else min(oldest, key)
                else:
                    reached_old = True
            page_items, page_rejected = map_items(
                fresh, lambda raw: post_to_mention(raw, web_url=cfg.web_url), id_of=_uri_of
            )
            items.extend(page_items)
            rejected.extend(page_rejected)
            page_cursor = body.get("cursor") if isinstance(body.get("cursor"), str) else None
            if reached_old or not posts or page_cursor is None or walk.first_poll:
                drained = True
                break
        # An unfinished window continues next time below the oldest post seen (cursors are not
        # kept across polls: the AppView caps how deep one cursor goes).
        resume = _iso_from_key(oldest) if oldest is not None else walk.resume
        walk.finish(seen=seen, drained=drained, resume=resume)
        return FetchResult(items=items, cursor=walk.to_cursor(), rejected=rejected)

    async def check(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteRequest:
        """Plain text of at most 300 graphemes and 3000 bytes."""
        text = markdown_to_plain(require_text(request.text))
        graphemes, size = grapheme_count(text), len(text.encode())
        if graphemes > _MAX_GRAPHEMES or size > _MAX_BYTES:
            raise RuleViolation(
                f"{graphemes} graphemes ({size} bytes) where Bluesky allows "
                f"{_MAX_GRAPHEMES} graphemes and {_MAX_BYTES} bytes"
            )
        if request.action is WriteAction.REPLY:
            require_target(request)
        return replace(request, text=text)

    async def reply(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Create a post whose `reply` names the thread root and the parent (strong refs)."""
        request = await self.check(client=client, config=config, request=request)
        cfg = coerce_config(config, BlueskyConfig)
        parent = await self._post_view(client, cfg, require_target(request))
        parent_ref = {"uri": parent["uri"], "cid": parent["cid"]}
        root = as_mapping(as_mapping(as_mapping(parent.get("record")).get("reply")).get("root"))
        root_ref = (
            {"uri": root["uri"], "cid": root["cid"]}
            if isinstance(root.get("uri"), str) and isinstance(root.get("cid"), str)
            else parent_ref
        )
        return await self._create_post(
            client, cfg, request, {"root": root_ref, "parent": parent_ref}
        )

    async def post(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Create a new top-level post."""
        request = await self.check(client=client, config=config, request=request)
        return await self._create_post(client, coerce_config(config, BlueskyConfig), request, None)

    async def like(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Create a like record for the post."""
        return await self._subject_record(client, config, target, WriteAction.LIKE)

    async def boost(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Create a repost record for the post."""
        return await self._subject_record(client, config, target, WriteAction.BOOST)

    async def undo(
        self,
        *,
        client: httpx.AsyncClient,
        config: BaseModel,
        action: WriteAction,
        target: PostRef,
        done: WriteResult,
    ) -> None:
        """Delete the like or repost record we created."""
        cfg = coerce_config(config, BlueskyConfig)
        collection = _RECORD_OF.get(action)
        if collection is None:
            raise RuleViolation(f"cannot undo a {action.value} on Bluesky", field="action")
        session = await self._sessions.get(client, cfg)
        body = {"repo": session.did, "collection": collection, "rkey": _rkey(done.platform_id)}
        await self._write(client, cfg, "com.atproto.repo.deleteRecord", body)

    async def thread(
        self, *, client: httpx.AsyncClient, config: BaseModel, root: PostRef
    ) -> FetchResult[NoCursor]:
        """Every reply under the post, from `app.bsky.feed.getPostThread`."""
        cfg = coerce_config(config, BlueskyConfig)
        body = await self._get(
            client,
            cfg,
            "app.bsky.feed.getPostThread",
            {"uri": root.external_id, "depth": 20, "parentHeight": 0},
        )
        posts: list[Any] = []
        pending = list(as_mapping(body.get("thread")).get("replies") or [])
        while pending:
            node = as_mapping(pending.pop())
            if isinstance(node.get("post"), Mapping):  # blocked and deleted replies carry none
                posts.append(node["post"])
                pending.extend(node.get("replies") or [])
        items, rejected = map_items(
            posts, lambda raw: post_to_mention(raw, web_url=cfg.web_url), id_of=_uri_of
        )
        return FetchResult(items=items, cursor={}, rejected=rejected)

    async def own_identities(self, *, client: httpx.AsyncClient, config: BaseModel) -> set[str]:
        """The account's DID (authors are keyed by DID)."""
        cfg = coerce_config(config, BlueskyConfig)
        session = await self._sessions.get(client, cfg)
        return {session.did}

    def result_from_mention(self, item: MentionIn) -> WriteResult:
        """Our post as found in a thread."""
        url = str(item.url) if item.url else None
        return WriteResult(item.external_id, item.external_id, url, item.raw or {})

    async def recheck(
        self, *, client: httpx.AsyncClient, config: BaseModel, refs: Sequence[ItemRef]
    ) -> RecheckResult:
        """Which posts are gone: `app.bsky.feed.getPosts` (25 URIs a request) leaves out every
        post whose record was deleted (or whose author left or was taken down)."""
        cfg = coerce_config(config, BlueskyConfig)
        uris = [ref.external_id for ref in refs if _is_post_uri(ref.external_id)]
        tally = Tally()
        for batch in batches(uris, _GET_POSTS_BATCH):
            try:
                body = await self._get(client, cfg, "app.bsky.feed.getPosts", {"uris": list(batch)})
            except httpx.HTTPError as exc:
                tally.stop(describe_error(exc))
                break
            posts = body.get("posts")
            if not isinstance(posts, list):
                tally.stop("Bluesky getPosts answered without a posts list")
                break
            present = {_uri_of(post) for post in posts}
            for uri in batch:
                tally.record(uri, Verdict.ALIVE if uri in present else Verdict.GONE)
        return tally.result()

    async def _post_view(
        self, client: httpx.AsyncClient, cfg: BlueskyConfig, target: PostRef
    ) -> Mapping[str, Any]:
        """The target's postView: as stored, or fetched when the stored one lacks its cid."""
        stored = as_mapping(target.raw)
        if isinstance(stored.get("cid"), str) and stored.get("uri") == target.external_id:
            return stored
        body = await self._get(client, cfg, "app.bsky.feed.getPosts", {"uris": target.external_id})
        posts = body.get("posts")
        found = as_mapping(posts[0]) if isinstance(posts, list) and posts else {}
        if not isinstance(found.get("cid"), str) or not isinstance(found.get("uri"), str):
            raise WriteRejected(f"Bluesky has no post {target.external_id[:200]} any more")
        return found

    async def _create_post(
        self,
        client: httpx.AsyncClient,
        cfg: BlueskyConfig,
        request: WriteRequest,
        reply: dict[str, Any] | None,
    ) -> WriteResult:
        record: dict[str, Any] = {
            "$type": _POST_COLLECTION,
            "text": request.text,
            "createdAt": isoformat(utcnow()),
        }
        if facets := link_facets(request.text):
            record["facets"] = facets
        if request.language:
            record["langs"] = [request.language]
        if reply is not None:
            record["reply"] = reply
        session = await self._sessions.get(client, cfg)
        body = {"repo": session.did, "collection": _POST_COLLECTION, "record": record}
        created = await self._write(client, cfg, "com.atproto.repo.createRecord", body)
        uri = created.get("uri")
        if not isinstance(uri, str):
            raise PlatformError("Bluesky created a record but did not say its uri")
        return WriteResult(uri, uri, web_url_of(uri, None, cfg.web_url), dict(created))

    async def _subject_record(
        self, client: httpx.AsyncClient, config: BaseModel, target: PostRef, action: WriteAction
    ) -> WriteResult:
        cfg = coerce_config(config, BlueskyConfig)
        view = await self._post_view(client, cfg, target)
        session = await self._sessions.get(client, cfg)
        record = {
            "$type": _RECORD_OF[action],
            "subject": {"uri": view["uri"], "cid": view["cid"]},
            "createdAt": isoformat(utcnow()),
        }
        body = {"repo": session.did, "collection": _RECORD_OF[action], "record": record}
        created = await self._write(client, cfg, "com.atproto.repo.createRecord", body)
        return WriteResult(target.external_id, str(created.get("uri")), target.url, dict(created))

    async def _get(
        self, client: httpx.AsyncClient, cfg: BlueskyConfig, method: str, params: dict[str, Any]
    ) -> Mapping[str, Any]:
        url = f"{cfg.service_url}/xrpc/{method}"
        session = await self._sessions.get(client, cfg)
        response = await client.get(url, params=params, headers=bearer(session))
        if stale_token(response):
            session = await self._sessions.replace(client, cfg, session)
            response = await client.get(url, params=params, headers=bearer(session))
        return as_mapping(read_json(response, "Bluesky"))

    async def _write(
        self, client: httpx.AsyncClient, cfg: BlueskyConfig, method: str, body: dict[str, Any]
    ) -> Mapping[str, Any]:
        url = f"{cfg.service_url}/xrpc/{method}"
        session = await self._sessions.get(client, cfg)
        try:
            response = await client.post(url, json=body, headers=bearer(session))
            if stale_token(response):
                # A stale token is refused before anything is written: safe to send again.
                session = await self._sessions.replace(client, cfg, session)
                response = await client.post(url, json=body, headers=bearer(session))
        except httpx.HTTPError as exc:
            raise classify_send_failure(exc, "Bluesky") from exc
        return json_body(response, "Bluesky")

    async def _search(
        self,
        client: httpx.AsyncClient,
        cfg: BlueskyConfig,
        walk: NewestFirstWalk,
        page_cursor: str | None,
    ) -> Mapping[str, Any]:
        params: dict[str, str | int] = {"q": cfg.query, "sort": "latest", "limit": cfg.page_size}
        if walk.mark.at is not None:
            params["since"] = _iso_from_key(walk.mark.at)
        if isinstance(walk.resume, str):
            params["until"] = walk.resume
        if cfg.lang:
            params["lang"] = cfg.lang
        if page_cursor:
            params["cursor"] = page_cursor
        url = f"{cfg.service_url}/xrpc/app.bsky.feed.searchPosts"
        session = await self._sessions.get(client, cfg)
        response = await client.get(url, params=params, headers=bearer(session))
        if stale_token(response):
            session = await self._sessions.replace(client, cfg, session)
            response = await client.get(url, params=params, headers=bearer(session))
        return as_mapping(read_json(response, "Bluesky"))


def _uri_of(raw: Any) -> str | None:
    uri = as_mapping(raw).get("uri")
    return uri if isinstance(uri, str) else None


def _sort_key(post: Any) -> int | None:
    """Microseconds of the post's sortAt: the earlier of createdAt and indexedAt."""
    data = as_mapping(post)
    moments = []
    for value in (as_mapping(data.get("record")).get("createdAt"), data.get("indexedAt")):
        try:
            moments.append(parse_timestamp(value))
        except ItemError:
            continue
    if not moments:
        return None
    return (min(moments) - _EPOCH) // timedelta(microseconds=1)


def _iso_from_key(key: int) -> str:
    return isoformat(_EPOCH + timedelta(microseconds=key))


def web_url_of(uri: str, handle: str | None, web_url: str) -> str:
    """https://bsky.app/profile/{handle}/post/{rkey} for an at:// post URI."""
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3 or parts[1] != _POST_COLLECTION or not parts[2]:
        raise ItemError(f"not a post URI: {uri[:100]}")
    # A handle that failed verification is shown as "handle.invalid"; the DID always works.
    who = handle if handle and handle != "handle.invalid" else parts[0]
    return f"{web_url}/profile/{who}/post/{parts[2]}"


def post_to_mention(post: Mapping[str, Any], *, web_url: str) -> MentionIn:
    """Map a postView to a mention."""
    uri = require_str(post, "uri")
    record = as_mapping(post.get("record"))
    author = as_mapping(post.get("author"))
    handle = author.get("handle") if isinstance(author.get("handle"), str) else None
    raw_text = record.get("text")
    text = raw_text if isinstance(raw_text, str) and raw_text.strip() else ""
    text = text or join_text(*_alt_texts(post))
    if not text:
        raise ItemError("post has no text")
    try:
        created_at = parse_timestamp(record.get("createdAt"))
    except ItemError:
        created_at = parse_timestamp(post.get("indexedAt"))
    reply = as_mapping(record.get("reply"))
    langs = record.get("langs")
    return MentionIn(
        platform="bluesky",
        external_id=uri,
        url=web_url_of(uri, handle, web_url),
        text=text,
        language=language_tag(langs[0]) if isinstance(langs, list) and langs else None,
        created_at=created_at,
        author=_author(author, web_url),
        reply_to_external_id=_ref_uri(reply.get("parent")),
        thread_external_id=_ref_uri(reply.get("root")),
        engagement=EngagementIn(
            likes=optional_int(post.get("likeCount")),
            reposts=optional_int(post.get("repostCount")),
            replies=optional_int(post.get("replyCount")),
        ),
        raw=dict(post),
    )


def _alt_texts(post: Mapping[str, Any]) -> list[str]:
    embed = as_mapping(post.get("embed")) or as_mapping(as_mapping(post.get("record")).get("embed"))
    images = embed.get("images") or as_mapping(embed.get("media")).get("images") or []
    return [alt for image in images if isinstance(alt := as_mapping(image).get("alt"), str)]


def _ref_uri(ref: Any) -> str | None:
    uri = as_mapping(ref).get("uri")
    return uri if isinstance(uri, str) and uri.startswith("at://") else None


def _author(author: Mapping[str, Any], web_url: str) -> AuthorIn | None:
    did = author.get("did")
    if not isinstance(did, str) or not did:
        return None
    handle = author.get("handle") if isinstance(author.get("handle"), str) else None
    return AuthorIn(
        platform_id=did,
        handle=f"@{handle}" if handle else None,
        display_name=author.get("displayName") or None,
        profile_url=f"{web_url}/profile/{handle or did}",
        followers=optional_int(author.get("followersCount")),
    )


def _rkey(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def link_facets(text: str) -> list[dict[str, Any]]:
    """Link facets for the URLs in `text`: Bluesky does not auto-link, and offsets are bytes."""
    facets = []
    for match in find_urls(text):
        start = len(text[: match.start()].encode())
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": start + len(match.group(0).encode())},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": match.group(0)}],
            }
        )
    return facets


def _is_post_uri(uri: str) -> bool:
    parts = uri.removeprefix("at://").split("/")
    return uri.startswith("at://") and len(parts) == 3 and parts[1] == _POST_COLLECTION
