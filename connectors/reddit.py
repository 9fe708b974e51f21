"""Reddit: OAuth listings (search, a subreddit's new posts or comments) walked with `after`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, Self, TypedDict

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
    isoformat,
    join_text,
    map_items,
    optional_int,
    parse_timestamp,
    paused_until,
    rate_limit_pause,
    read_json,
    require_str,
    utcnow,
)
from connectors._recheck import Tally, Verdict, batches
from connectors._reddit_token import SHARED_TOKENS, TokenCache
from connectors.base import FetchResult, ItemRef, NoCursor, RecheckResult, RejectedItem, WriteAction
from connectors.http import describe_error
from connectors.items import AuthorIn, EngagementIn, MentionIn
from connectors.writes import (
    PostRef,
    RuleViolation,
    TextFormat,
    WriteDeferred,
    WriteRejected,
    WriteRequest,
    WriteResult,
    classify_send_failure,
    json_body,
    require_target,
    require_text,
)

_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
# Only posts (t3) and comments (t1) can be answered or voted on, named by their fullname.
_REPLYABLE = re.compile(r"^t[13]_[0-9a-z]+$")
_MAX_COMMENT = 10_000
# /api/info takes up to 100 fullnames per request.
_INFO_BATCH = 100
# What Reddit leaves in place of a deleted or removed text, and in place of a deleted author.
_GONE_TEXTS = frozenset({"[deleted]", "[removed]"})
_MAX_TITLE = 300
# "you are doing that too much. try again in 7 minutes."
_TRY_AGAIN = re.compile(r"try again in (\d+) (second|minute)")


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


class RedditRateLimit(TypedDict, total=False):
    """Reddit's X-Ratelimit-* budget at the last request."""

    remaining: float
    used: float
    reset_at: str


class RedditCursor(WalkCursor, total=False):
    """A newest-first walk over a listing (`resume` is `after`), and the rate-limit budget."""

    ratelimit: RedditRateLimit


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

    text_format: ClassVar[TextFormat] = TextFormat.MARKDOWN
    honours_idempotency_key: ClassVar[bool] = False

    def __init__(self, tokens: TokenCache | None = None) -> None:
        self._tokens = tokens if tokens is not None else SHARED_TOKENS

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: RedditCursor
    ) -> FetchResult[RedditCursor]:
        """Fetch listing items newer than the cursor's watermark."""
        cfg = coerce_config(config, RedditConfig)
        now = utcnow()
        if paused_until(cursor, now):
            return FetchResult(items=[], cursor=cursor.copy())
        walk = NewestFirstWalk.from_cursor(cursor)
        seen = Watermark()
        items: list[MentionIn] = []
        rejected: list[RejectedItem] = []
        after = walk.resume if isinstance(walk.resume, str) else None
        drained, not_before = False, None
        limits: RedditRateLimit = {}
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
        next_cursor: RedditCursor = {**walk.to_cursor(), "ratelimit": limits}
        if not_before is not None:
            next_cursor["not_before"] = isoformat(not_before)
        return FetchResult(items=items, cursor=next_cursor, rejected=rejected)

    async def check(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteRequest:
        """Markdown up to 10,000 characters, as an account, to a fullname (or a subreddit)."""
        cfg = coerce_config(config, RedditConfig)
        if cfg.username is None:
            raise RuleViolation("writing needs a script app's username and password", "config")
        text = require_text(request.text)
        if len(text) > _MAX_COMMENT:
            raise RuleViolation(f"{len(text)} characters where Reddit allows {_MAX_COMMENT}")
        if request.action is WriteAction.REPLY:
            _fullname_of(require_target(request))
        else:
            title = (request.title or "").strip()
            if not title or len(title) > _MAX_TITLE or cfg.subreddit is None:
                raise RuleViolation(
                    f"a new post needs a title of 1 to {_MAX_TITLE} characters and the "
                    "source's subreddit",
                    "title",
                )
        return request

    async def reply(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Comment on the post or comment named by the target's fullname."""
        await self.check(client=client, config=config, request=request)
        cfg = coerce_config(config, RedditConfig)
        form = {"thing_id": require_target(request).external_id, "text": request.text.strip()}
        data = await self._send(client, cfg, "/api/comment", form)
        things = as_mapping(data.get("data")).get("things")
        thing = as_mapping(things[0]) if isinstance(things, list) and things else {}
        item = thing_to_mention(thing, web_url=cfg.web_url) if thing else None
        if item is None:
            raise PlatformError("Reddit accepted the comment but did not return it")
        return self.result_from_mention(item)

    async def post(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Submit a self post to the source's subreddit."""
        await self.check(client=client, config=config, request=request)
        cfg = coerce_config(config, RedditConfig)
        form = {
            "sr": str(cfg.subreddit),
            "kind": "self",
            "title": str(request.title).strip(),
            "text": request.text.strip(),
        }
        data = as_mapping((await self._send(client, cfg, "/api/submit", form)).get("data"))
        name = data.get("name")
        if not isinstance(name, str):
            raise PlatformError("Reddit accepted the post but did not say its name")
        url = data.get("url") if isinstance(data.get("url"), str) else None
        return WriteResult(name, name, url, dict(data))

    async def like(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Upvote."""
        await self._send(client, coerce_config(config, RedditConfig), "/api/vote", _vote(target, 1))
        return WriteResult(target.external_id, target.external_id, target.url)

    async def boost(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Reddit has no boost."""
        raise RuleViolation("Reddit has no boost; upvote instead", field="action")

    async def undo(
        self,
        *,
        client: httpx.AsyncClient,
        config: BaseModel,
        action: WriteAction,
        target: PostRef,
        done: WriteResult,
    ) -> None:
        """Take the vote back (direction 0)."""
        await self._send(client, coerce_config(config, RedditConfig), "/api/vote", _vote(target, 0))

    async def thread(
        self, *, client: httpx.AsyncClient, config: BaseModel, root: PostRef
    ) -> FetchResult[NoCursor]:
        """Every comment on the root's post, from `/comments/{article}`."""
        cfg = coerce_config(config, RedditConfig)
        post = root.thread_external_id or root.external_id
        if not post.startswith("t3_"):
            raise RuleViolation(f"{post[:60]} names no post", field="target")
        token = await self._tokens.get(client, cfg)
        response = await client.get(
            f"{cfg.api_url}/comments/{post.removeprefix('t3_')}",
            params={"raw_json": 1, "limit": 500, "sort": "new"},
            headers={"User-Agent": cfg.agent(), "Authorization": f"bearer {token}"},
        )
        body = read_json(response, "Reddit")
        listing = as_mapping(body[1]) if isinstance(body, list) and len(body) > 1 else {}
        children, pending = [], list(as_mapping(listing.get("data")).get("children") or [])
        while pending:
            child = as_mapping(pending.pop())
            if child.get("kind") == "t1":
                children.append(child)
                replies = as_mapping(as_mapping(child.get("data")).get("replies"))
                pending.extend(as_mapping(replies.get("data")).get("children") or [])
        items, rejected = map_items(
            children, lambda raw: thing_to_mention(raw, web_url=cfg.web_url), id_of=_fullname
        )
        return FetchResult(items=items, cursor={}, rejected=rejected)

    async def own_identities(self, *, client: httpx.AsyncClient, config: BaseModel) -> set[str]:
        """The script app's account, as authors' handles read."""
        return {f"u/{coerce_config(config, RedditConfig).username}"}

    def result_from_mention(self, item: MentionIn) -> WriteResult:
        """Our comment as found in a thread."""
        url = str(item.url) if item.url else None
        return WriteResult(item.external_id, item.external_id, url, item.raw or {})

    async def recheck(
        self, *, client: httpx.AsyncClient, config: BaseModel, refs: Sequence[ItemRef]
    ) -> RecheckResult:
        """Which posts and comments are gone, asked 100 fullnames at a time (`/api/info`).

        Reddit keeps the husk: a deleted comment reads `[deleted]` (body and author), a removed
        one `[removed]`, a deleted or removed post says so in `selftext` or
        `removed_by_category`. A fullname missing from the answer is left unchecked.
        """
        cfg = coerce_config(config, RedditConfig)
        names = [ref.external_id for ref in refs if _REPLYABLE.match(ref.external_id)]
        tally = Tally()
        for batch in batches(names, _INFO_BATCH):
            try:
                token = await self._tokens.get(client, cfg)
                response = await client.get(
                    f"{cfg.api_url}/api/info",
                    params={"id": ",".join(batch), "raw_json": 1},
                    headers={"User-Agent": cfg.agent(), "Authorization": f"bearer {token}"},
                )
                if response.status_code == 401:
                    self._tokens.forget(cfg, token)  # fetched anew on the next cycle
                listing = as_mapping(as_mapping(read_json(response, "Reddit")).get("data"))
            except httpx.HTTPError as exc:
                tally.stop(describe_error(exc))
                break
            children = listing.get("children")
            if not isinstance(children, list):
                tally.stop("Reddit answered /api/info with something other than a Listing")
                break
            found = {_fullname(child): child for child in children}
            for name in batch:
                child = found.get(name)
                if child is not None:
                    tally.record(name, _thing_verdict(as_mapping(as_mapping(child).get("data"))))
            if tally.spent(response.headers, "Reddit"):
                break
        return tally.result()

    async def _send(
        self, client: httpx.AsyncClient, cfg: RedditConfig, path: str, form: dict[str, str]
    ) -> Mapping[str, Any]:
        """POST a form as the account; Reddit reports refusals inside a 200 `json.errors`."""
        token = await self._tokens.get(client, cfg)
        try:
            response = await client.post(
                f"{cfg.api_url}{path}",
                data={"api_type": "json", **form},
                headers={"User-Agent": cfg.agent(), "Authorization": f"bearer {token}"},
            )
        except httpx.HTTPError as exc:
            raise classify_send_failure(exc, "Reddit") from exc
        if response.status_code == 401:
            self._tokens.forget(cfg, token)  # refused before anything was written
            raise WriteDeferred("Reddit refused the token; a new one is fetched next time")
        body = as_mapping(json_body(response, "Reddit").get("json"))
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            raise _refusal(errors)
        return body

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


def _rate_limits(headers: Mapping[str, str], now: datetime) -> RedditRateLimit:
    """The X-Ratelimit-* budget as the cursor exposes it (remaining, used, reset_at)."""
    limits: RedditRateLimit = {}
    if (remaining := _header_float(headers, "x-ratelimit-remaining")) is not None:
        limits["remaining"] = remaining
    if (used := _header_float(headers, "x-ratelimit-used")) is not None:
        limits["used"] = used
    try:
        reset = float(headers["x-ratelimit-reset"])
        limits["reset_at"] = isoformat(now + timedelta(seconds=reset))
    except (KeyError, ValueError):
        pass
    return limits


def _header_float(headers: Mapping[str, str], name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


def _split_new(children: list[Any], mark: Watermark, seen: Watermark) -> tuple[list[Any], bool]:
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


def _fullname_of(target: PostRef) -> str:
    if not _REPLYABLE.match(target.external_id):
        raise RuleViolation(f"{target.external_id[:60]} is not a t1_/t3_ fullname", "target")
    return target.external_id


def _vote(target: PostRef, direction: int) -> dict[str, str]:
    return {"id": _fullname_of(target), "dir": str(direction)}


def _refusal(errors: list[Any]) -> RuleViolation | WriteDeferred | WriteRejected:
    """The error for Reddit's `[[code, message, field], ...]` list."""
    first = errors[0] if isinstance(errors[0], list) else [str(errors[0])]
    code, message = str(first[0]), str(first[1]) if len(first) > 1 else ""
    if code == "RATELIMIT":
        found = _TRY_AGAIN.search(message)
        wait = 60.0
        if found:
            wait = float(found.group(1)) * (60 if found.group(2) == "minute" else 1)
        return WriteDeferred(f"Reddit rate limit: {message[:200]}", retry_after=wait)
    if code in ("TOO_LONG", "NO_TEXT", "BAD_SR_NAME", "NO_SELFS", "SUBMIT_VALIDATION_TITLE"):
        return RuleViolation(f"Reddit {code}: {message[:200]}")
    return WriteRejected(f"Reddit {code}: {message[:200]}")


def _thing_verdict(data: Mapping[str, Any]) -> Verdict:
    """Gone when the text or the author was replaced by Reddit's markers, or it was removed."""
    if data.get("author") == "[deleted]" or data.get("removed_by_category"):
        return Verdict.GONE
    for key in ("body", "selftext"):
        value = data.get(key)
        if isinstance(value, str) and value.strip() in _GONE_TEXTS:
            return Verdict.GONE
    return Verdict.ALIVE
