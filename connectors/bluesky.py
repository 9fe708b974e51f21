"""Bluesky: authenticated `app.bsky.feed.searchPosts` in since/until windows."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectors._normalize import (
    ItemError,
    KeyedLocks,
    NewestFirstWalk,
    PlatformError,
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
    utc_now,
)
from connectors.base import FetchResult, RejectedItem, WriteAction
from connectors.http import server_wait
from connectors.items import AuthorIn, EngagementIn, MentionIn

_POST_COLLECTION = "app.bsky.feed.post"
# Errors the PDS gives for a stale access token; anything else is a real failure.
_STALE_TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})
# Renew a little before the token's own expiry so a poll never starts with a dying token.
_EXPIRY_MARGIN = timedelta(seconds=60)
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


@dataclass
class Session:
    """An atproto session: the tokens and when the access token stops working."""

    access_jwt: str
    refresh_jwt: str
    did: str
    expires_at: datetime | None

    def fresh(self, now: datetime) -> bool:
        """True while the access token has more than a minute to live (or its expiry is unknown)."""
        return self.expires_at is None or self.expires_at - _EXPIRY_MARGIN > now


def _jwt_expiry(token: str) -> datetime | None:
    """The `exp` claim of a JWT, read without verifying (the PDS verifies; we only schedule)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def _session_from(body: Any) -> Session:
    data = as_mapping(body)
    access, refresh, did = data.get("accessJwt"), data.get("refreshJwt"), data.get("did")
    if not (isinstance(access, str) and isinstance(refresh, str) and isinstance(did, str)):
        raise PlatformError("Bluesky session answer lacks accessJwt, refreshJwt or did")
    return Session(access, refresh, did, _jwt_expiry(access))


class SessionCache:
    """Sessions per (service, identifier), so polls reuse them: createSession is rate limited."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str], Session] = {}
        self._locks = KeyedLocks()

    async def get(self, client: httpx.AsyncClient, cfg: BlueskyConfig) -> Session:
        """A usable session: the cached one, a refreshed one, or a new one."""
        key = (cfg.service_url, cfg.identifier.lower())
        async with self._locks(key):
            session = self._sessions.get(key)
            if session is None or not session.fresh(utc_now()):
                session = await self._renew(client, cfg, session)
                self._sessions[key] = session
            return session

    async def replace(
        self, client: httpx.AsyncClient, cfg: BlueskyConfig, stale: Session
    ) -> Session:
        """Renew a session the server rejected (unless another poll already did)."""
        key = (cfg.service_url, cfg.identifier.lower())
        async with self._locks(key):
            current = self._sessions.get(key)
            if current is not None and current.access_jwt != stale.access_jwt:
                return current
            session = await self._renew(client, cfg, stale)
            self._sessions[key] = session
            return session

    async def _renew(
        self, client: httpx.AsyncClient, cfg: BlueskyConfig, old: Session | None
    ) -> Session:
        if old is not None:
            response = await client.post(
                f"{cfg.service_url}/xrpc/com.atproto.server.refreshSession",
                headers={"Authorization": f"Bearer {old.refresh_jwt}"},
            )
            # A refresh token that expired or was revoked means logging in again; an outage
            # does not, since new sessions are the scarce resource.
            if response.status_code not in (400, 401):
                return _session_from(read_json(response, "Bluesky"))
        response = await client.post(
            f"{cfg.service_url}/xrpc/com.atproto.server.createSession",
            json={
                "identifier": cfg.identifier,
                "password": cfg.app_password.get_secret_value(),
            },
        )
        if response.status_code == 429:
            raise PlatformError(
                "Bluesky refused a new session: createSession rate limit reached",
                status=429,
                retry_after=server_wait(response.status_code, response.headers),
            )
        return _session_from(read_json(response, "Bluesky"))


_SHARED_SESSIONS = SessionCache()


class BlueskyConnector:
    """Searches posts newest first, down to the watermark of the previous poll."""

    kind: ClassVar[str] = "bluesky"
    config_model: ClassVar[type[BaseModel]] = BlueskyConfig
    write_actions: ClassVar[frozenset[WriteAction]] = frozenset(
        {WriteAction.REPLY, WriteAction.POST, WriteAction.LIKE, WriteAction.BOOST}
    )

    def __init__(self, sessions: SessionCache | None = None) -> None:
        self._sessions = sessions if sessions is not None else _SHARED_SESSIONS

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: dict[str, Any]
    ) -> FetchResult:
        """Fetch posts matching the query since the cursor's watermark."""
        cfg = coerce_config(config, BlueskyConfig)
        if paused_until(cursor, utc_now()):
            return FetchResult(items=[], cursor=dict(cursor))
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
        response = await client.get(url, params=params, headers=_bearer(session))
        if _stale_token(response):
            session = await self._sessions.replace(client, cfg, session)
            response = await client.get(url, params=params, headers=_bearer(session))
        return as_mapping(read_json(response, "Bluesky"))


def _bearer(session: Session) -> dict[str, str]:
    return {"Authorization": f"Bearer {session.access_jwt}"}


def _stale_token(response: httpx.Response) -> bool:
    if response.status_code not in (400, 401):
        return False
    try:
        return as_mapping(response.json()).get("error") in _STALE_TOKEN_ERRORS
    except ValueError:
        return False


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
