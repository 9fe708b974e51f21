"""Reddit: OAuth listings (search, a subreddit's new posts or comments) walked with `after`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

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

_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
# Renew the bearer token a minute early so no poll starts with one about to lapse.
_EXPIRY_MARGIN = timedelta(seconds=60)


class RedditConfig(BaseModel):
    """A Reddit search or subreddit feed read through an approved OAuth app."""

    model_config = ConfigDict(extra="forbid")

    api_url: str = "https://oauth.reddit.com"
    auth_url: str = "https://www.reddit.com/api/v1/access_token"
    web_url: str = Field(default="https://www.reddit.com", description="Where permalinks point")
    client_id: str = Field(min_length=1, max_length=100)
    client_secret: SecretStr
    username: str | None = Field(default=None, description="Script apps: the account to act as")
    password: SecretStr | None = None
    user_agent: str | None = Field(
        default=None, max_length=300, description="Reddit asks for '<platform>:<app>:<v> (by /u/…)'"
    )
    subreddit: str | None = Field(default=None, description="Without the r/ prefix")
    query: str | None = Field(default=None, max_length=512)
    listing: Literal["posts", "comments"] = Field(
        default="posts", description="Without a query: the subreddit's new posts or new comments"
    )
    page_size: int = Field(default=100, ge=1, le=100)
    max_pages: int = Field(default=5, ge=1, le=50)

    @field_validator("api_url", "auth_url", "web_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return clean_base_url(value)

    @field_validator("subreddit")
    @classmethod
    def _subreddit(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = value.strip().removeprefix("/").removeprefix("r/")
        if not _SUBREDDIT.match(name):
            raise ValueError("not a subreddit name")
        return name

    @model_validator(mode="after")
    def _what_to_read(self) -> Self:
        if self.query is None and self.subreddit is None:
            raise ValueError("set a query, a subreddit, or both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together (script app)")
        return self

    def agent(self) -> str:
        """The User-Agent Reddit wants: unique and descriptive."""
        if self.user_agent:
            return self.user_agent
        owner = f" (by /u/{self.username})" if self.username else ""
        return f"server:luister:{self.client_id}:0.1{owner}"


@dataclass
class _Token:
    value: str
    expires_at: datetime


class TokenCache:
    """Bearer tokens per app and account, reused until shortly before they expire."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._locks = KeyedLocks()

    @staticmethod
    def _key(cfg: RedditConfig) -> tuple[str, str, str]:
        return (cfg.auth_url, cfg.client_id, cfg.username or "")

    async def get(self, client: httpx.AsyncClient, cfg: RedditConfig) -> str:
        """A valid bearer token, fetched only when none is cached or it is about to expire."""
        key = self._key(cfg)
        async with self._locks(key):
            token = self._tokens.get(key)
            if token is None or token.expires_at - _EXPIRY_MARGIN <= utc_now():
                token = await self._request(client, cfg)
                self._tokens[key] = token
            return token.value

    def forget(self, cfg: RedditConfig, value: str) -> None:
        """Drop a token the API refused, so the next `get` fetches a new one."""
        key = self._key(cfg)
        if (token := self._tokens.get(key)) is not None and token.value == value:
            del self._tokens[key]

    @staticmethod
    async def _request(client: httpx.AsyncClient, cfg: RedditConfig) -> _Token:
        form = {"grant_type": "client_credentials"}
        if cfg.username is not None and cfg.password is not None:
            form = {
                "grant_type": "password",
                "username": cfg.username,
                "password": cfg.password.get_secret_value(),
            }
        response = await client.post(
            cfg.auth_url,
            data=form,
            auth=(cfg.client_id, cfg.client_secret.get_secret_value()),
            headers={"User-Agent": cfg.agent()},
        )
        body = as_mapping(read_json(response, "Reddit"))
        value, lifetime = body.get("access_token"), body.get("expires_in")
        if not isinstance(value, str) or not value:
            # Reddit reports bad credentials as 200 {"error": "invalid_grant"}.
            error = body.get("error")
            raise PlatformError(f"Reddit gave no access token ({error or 'no reason given'})")
        seconds = lifetime if isinstance(lifetime, int | float) else 3600
        return _Token(value, utc_now() + timedelta(seconds=seconds))


_SHARED_TOKENS = TokenCache()


class RedditConnector:
    """Walks a newest-first listing with `after` until it meets the previous poll's watermark.

    `before=<newest fullname>` is not used: when that item is deleted or removed the listing
    comes back empty for good, and the source would silently stop.
    """

    kind: ClassVar[str] = "reddit"
    config_model: ClassVar[type[BaseModel]] = RedditConfig
    write_actions: ClassVar[frozenset[WriteAction]] = frozenset(
        {WriteAction.REPLY, WriteAction.POST, WriteAction.LIKE}
    )

    def __init__(self, tokens: TokenCache | None = None) -> None:
        self._tokens = tokens if tokens is not None else _SHARED_TOKENS

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: dict[str, Any]
    ) -> FetchResult:
        """Fetch listing items newer than the cursor's watermark."""
        cfg = coerce_config(config, RedditConfig)
        now = utc_now()
        if paused_until(cursor, now):
            return FetchResult(items=[], cursor=dict(cursor))
        walk = NewestFirstWalk.from_cursor(cursor)
        seen = Watermark()
        items: list[MentionIn] = []
        rejected: list[RejectedItem] = []
        after = walk.resume if isinstance(walk.resume, str) else None
        drained, not_before = False, None
        limits: dict[str, Any] = {}
        for _ in range(cfg.max_pages):
            response = await self._get(client, cfg, after)
            limits = _rate_limits(response.headers, now)
            not_before = rate_limit_pause(response.headers, now=now)
            listing = as_mapping(as_mapping(read_json(response, "Reddit")).get("data"))
            children = listing.get("children")
            if not isinstance(children, list):
                raise PlatformError("Reddit answered with something other than a Listing")
            fresh, reached_old = _split_new(children, walk.mark, seen)
            page_items, page_rejected = map_items(
                fresh, lambda raw: thing_to_mention(raw, web_url=cfg.web_url), id_of=_fullname
            )
            items.extend(page_items)
            rejected.extend(page_rejected)
            after = listing.get("after") if isinstance(listing.get("after"), str) else None
            if reached_old or not children or after is None or walk.first_poll:
                drained = True
                break
            if not_before is not None:
                break
        walk.finish(seen=seen, drained=drained, resume=after)
        next_cursor = {**walk.to_cursor(), "ratelimit": limits}
        if not_before is not None:
            next_cursor["not_before"] = isoformat(not_before)
        return FetchResult(items=items, cursor=next_cursor, rejected=rejected)

    async def _get(
        self, client: httpx.AsyncClient, cfg: RedditConfig, after: str | None
    ) -> httpx.Response:
        path, params = _listing_request(cfg)
        if after:
            params["after"] = after
        token = await self._tokens.get(client, cfg)
        url = f"{cfg.api_url}{path}"
        headers = {"User-Agent": cfg.agent()}
        response = await client.get(
            url, params=params, headers={**headers, "Authorization": f"bearer {token}"}
        )
        if response.status_code == 401:
            # Revoked early or rotated elsewhere: fetch a new token once, then give up.
            self._tokens.forget(cfg, token)
            token = await self._tokens.get(client, cfg)
            response = await client.get(
                url, params=params, headers={**headers, "Authorization": f"bearer {token}"}
            )
        return response


def _listing_request(cfg: RedditConfig) -> tuple[str, dict[str, str | int]]:
    # raw_json=1 stops Reddit from HTML-escaping &, < and > inside the JSON strings.
    params: dict[str, str | int] = {"limit": cfg.page_size, "raw_json": 1}
    if cfg.query is not None:
        params.update({"q": cfg.query, "sort": "new", "type": "link"})
        if cfg.subreddit is not None:
            params["restrict_sr"] = "true"
            return f"/r/{cfg.subreddit}/search", params
        return "/search", params
    if cfg.listing == "comments":
        return f"/r/{cfg.subreddit}/comments", params
    return f"/r/{cfg.subreddit}/new", params


def _rate_limits(headers: Mapping[str, str], now: datetime) -> dict[str, Any]:
    """The X-Ratelimit-* budget as the cursor exposes it (remaining, used, reset_at)."""
    limits: dict[str, Any] = {}
    for name in ("remaining", "used"):
        try:
            limits[name] = float(headers[f"x-ratelimit-{name}"])
        except (KeyError, ValueError):
            continue
    try:
        reset = float(headers["x-ratelimit-reset"])
        limits["reset_at"] = isoformat(now + timedelta(seconds=reset))
    except (KeyError, ValueError):
        pass
    return limits


def _split_new(
    children: list[Any], mark: Watermark, seen: Watermark
) -> tuple[list[Any], bool]:
    """The children newer than the watermark, and whether an older one was reached."""
    fresh: list[Any] = []
    reached_old = False
    for child in children:
        data = as_mapping(as_mapping(child).get("data"))
        created, name = data.get("created_utc"), _fullname(child)
        if not isinstance(created, int | float) or name is None:
            fresh.append(child)  # the mapper rejects it with a reason
        elif mark.is_new(int(created), name):
            fresh.append(child)
            seen.include(int(created), name)
        else:
            reached_old = True
    return fresh, reached_old


def _fullname(child: Any) -> str | None:
    data = as_mapping(as_mapping(child).get("data"))
    name = data.get("name")
    if isinstance(name, str) and name:
        return name
    kind, thing_id = as_mapping(child).get("kind"), data.get("id")
    return f"{kind}_{thing_id}" if isinstance(kind, str) and isinstance(thing_id, str) else None


def thing_to_mention(child: Mapping[str, Any], *, web_url: str) -> MentionIn | None:
    """Map a t3 (post) or t1 (comment) listing child to a mention; other kinds are skipped."""
    kind = child.get("kind")
    if kind not in ("t1", "t3"):
        return None
    data = as_mapping(child.get("data"))
    name = _fullname(child)
    if name is None:
        raise ItemError("missing name")
    permalink = require_str(data, "permalink")
    text: str
    html: Any
    reply_to: Any
    thread: Any
    if kind == "t3":
        text = join_text(data.get("title"), data.get("selftext"))
        html, reply_to, thread = data.get("selftext_html"), None, name
        replies = optional_int(data.get("num_comments"))
    else:
        text = join_text(data.get("body"))
        html, reply_to, thread = data.get("body_html"), data.get("parent_id"), data.get("link_id")
        replies = None
    if not text:
        raise ItemError("item has no text")
    score = data.get("score")
    return MentionIn(
        platform="reddit",
        external_id=name,
        url=f"{web_url}{permalink}" if permalink.startswith("/") else None,
        text=text,
        html=html if isinstance(html, str) and html else None,
        created_at=parse_timestamp(data.get("created_utc")),
        author=_author(data, web_url),
        reply_to_external_id=reply_to if isinstance(reply_to, str) else None,
        thread_external_id=thread if isinstance(thread, str) else None,
        engagement=EngagementIn(
            score=score if isinstance(score, int) and not isinstance(score, bool) else None,
            replies=replies,
        ),
        raw=dict(child),
    )


def _author(data: Mapping[str, Any], web_url: str) -> AuthorIn | None:
    name, fullname = data.get("author"), data.get("author_fullname")
    # Deleted accounts show as "[deleted]" with no author_fullname: nobody to credit.
    if not isinstance(name, str) or not isinstance(fullname, str) or name == "[deleted]":
        return None
    return AuthorIn(
        platform_id=fullname,
        handle=f"u/{name}",
        profile_url=f"{web_url}/user/{name}",
    )
