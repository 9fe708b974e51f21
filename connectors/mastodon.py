"""Mastodon: public hashtag timelines on any instance, or full-text search with a user token."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Literal, Self
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors._normalize import (
    ItemError,
    PausedCursor,
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
    WriteRejected,
    WriteRequest,
    WriteResult,
    check_response,
    classify_send_failure,
    find_urls,
    json_body,
    markdown_to_plain,
    require_target,
    require_text,
)

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
    max_characters: int | None = Field(
        default=None, ge=1, description="Status length limit; unset: asked from the instance"
    )
    visibility: Literal["public", "unlisted"] = Field(
        default="public", description="Visibility of what Luister posts"
    )

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


class MastodonCursor(PausedCursor, total=False):
    """The newest status id seen (`min_id` of the next request)."""

    min_id: str | None


class MastodonConnector:
    """Polls a tag timeline (or search) with `min_id`, oldest unseen page first."""

    kind: ClassVar[str] = "mastodon"
    config_model: ClassVar[type[BaseModel]] = MastodonConfig
    write_actions: ClassVar[frozenset[WriteAction]] = frozenset(
        {WriteAction.REPLY, WriteAction.POST, WriteAction.LIKE, WriteAction.BOOST}
    )
    text_format: ClassVar[TextFormat] = TextFormat.PLAIN
    honours_idempotency_key: ClassVar[bool] = True

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: MastodonCursor
    ) -> FetchResult[MastodonCursor]:
        """Fetch statuses newer than the cursor's `min_id` and return them with the next one."""
        cfg = coerce_config(config, MastodonConfig)
        now = utcnow()
        if paused_until(cursor, now):
            return FetchResult(items=[], cursor=cursor.copy())
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
        next_cursor: MastodonCursor = {"min_id": min_id}
        if not_before is not None:
            next_cursor["not_before"] = isoformat(not_before)
        return FetchResult(items=items, cursor=next_cursor, rejected=rejected)

    async def check(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteRequest:
        """Plain text, the author mentioned so they are notified, within the instance limit."""
        cfg, _ = _write_config(config)
        text = markdown_to_plain(require_text(request.text))
        if request.action is WriteAction.REPLY:
            handle = require_target(request).author_handle
            if handle:
                handle = handle if handle.startswith("@") else f"@{handle}"
                if handle.casefold() not in text.casefold():
                    text = f"{handle} {text}"
        limit = cfg.max_characters or await _max_characters(client, cfg)
        used = status_length(text)
        if used > limit:
            raise RuleViolation(
                f"{used} characters where {host_of(cfg.instance_url)} allows {limit} "
                "(links count as 23, mentions by their username)"
            )
        return replace(request, text=text)

    async def reply(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Post a status with `in_reply_to_id` set to the target's id on our instance."""
        request = await self.check(client=client, config=config, request=request)
        cfg, headers = _write_config(config)
        in_reply_to = await _local_id(client, cfg, headers, require_target(request))
        return await _create_status(client, cfg, headers, request, in_reply_to)

    async def post(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Post a new public status."""
        request = await self.check(client=client, config=config, request=request)
        cfg, headers = _write_config(config)
        return await _create_status(client, cfg, headers, request, None)

    async def like(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Favourite the status."""
        return await _status_action(client, config, target, "favourite")

    async def boost(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Boost (reblog) the status."""
        return await _status_action(client, config, target, "reblog")

    async def undo(
        self,
        *,
        client: httpx.AsyncClient,
        config: BaseModel,
        action: WriteAction,
        target: PostRef,
        done: WriteResult,
    ) -> None:
        """Unfavourite or unreblog."""
        verb = {WriteAction.LIKE: "unfavourite", WriteAction.BOOST: "unreblog"}.get(action)
        if verb is None:
            raise RuleViolation(f"cannot undo a {action.value} on Mastodon", field="action")
        await _status_action(client, config, replace(target, platform_id=done.platform_id), verb)

    async def thread(
        self, *, client: httpx.AsyncClient, config: BaseModel, root: PostRef
    ) -> FetchResult[NoCursor]:
        """Every reply under the status (its context's descendants)."""
        cfg, headers = _write_config(config)
        local_id = await _local_id(client, cfg, headers, root)
        response = await client.get(
            f"{cfg.instance_url}/api/v1/statuses/{local_id}/context", headers=headers
        )
        descendants = as_mapping(read_json(response, "Mastodon")).get("descendants")
        if not isinstance(descendants, list):
            raise PlatformError("Mastodon context answer has no descendants list")
        uri_by_id = {local_id: root.external_id}
        uri_by_id |= {
            s["id"]: s["uri"]
            for s in map(as_mapping, descendants)
            if isinstance(s.get("id"), str) and isinstance(s.get("uri"), str)
        }
        host = host_of(cfg.instance_url)
        items, rejected = map_items(
            descendants,
            lambda raw: status_to_mention(raw, instance_host=host, uri_by_id=uri_by_id),
            id_of=lambda raw: raw.get("uri"),
        )
        return FetchResult(items=items, cursor={}, rejected=rejected)

    async def own_identities(self, *, client: httpx.AsyncClient, config: BaseModel) -> set[str]:
        """The token's account, as `status_to_mention` names authors."""
        cfg, headers = _write_config(config)
        response = await client.get(
            f"{cfg.instance_url}/api/v1/accounts/verify_credentials", headers=headers
        )
        author = _author(as_mapping(read_json(response, "Mastodon")), host_of(cfg.instance_url))
        if author is None:
            raise PlatformError("Mastodon did not say which account the token belongs to")
        return {author.platform_id, author.handle or author.platform_id}

    def result_from_mention(self, item: MentionIn) -> WriteResult:
        """Our status as found in a thread."""
        raw = item.raw or {}
        return WriteResult(
            external_id=item.external_id,
            platform_id=str(raw.get("id") or item.external_id),
            url=str(item.url) if item.url else None,
            raw=raw,
        )

    async def recheck(
        self, *, client: httpx.AsyncClient, config: BaseModel, refs: Sequence[ItemRef]
    ) -> RecheckResult:
        """Which statuses are gone: `GET /api/v1/statuses/:id` answers 404 or 410, the status is
        no longer public, or (for a remote status the instance no longer has) its origin
        answers 404/410 or a Tombstone."""
        cfg = coerce_config(config, MastodonConfig)
        headers = {}
        if cfg.access_token is not None:
            headers["Authorization"] = f"Bearer {cfg.access_token.get_secret_value()}"
        instance = urlsplit(cfg.instance_url).netloc.lower()
        tally = Tally()
        for ref in refs[:MAX_REFS]:
            local = _recheck_id(ref, instance)
            if local is None:
                continue  # no id this instance knows: nothing to ask
            status_id, is_local = local
            try:
                response = await client.get(
                    f"{cfg.instance_url}/api/v1/statuses/{quote(status_id, safe='')}",
                    headers=headers,
                )
                if response.status_code in (404, 410):
                    # A local status's id is the instance's own: its 404 is the answer. A
                    # remote one's stored id may be another instance's: ask the origin.
                    verdict = Verdict.GONE if is_local else await _origin_verdict(client, ref)
                else:
                    verdict = _status_verdict(response, ref.external_id)
            except httpx.HTTPError as exc:
                tally.stop(describe_error(exc))
                break
            tally.record(ref.external_id, verdict)
            if tally.spent(response.headers, "Mastodon"):
                break
        return tally.result()

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


# -- writing ----------------------------------------------------------------------------------

# Mastodon counts every link as 23 characters and a mention by its username only.
_URL_LENGTH = 23
_MENTION_DOMAIN = re.compile(r"(?<![\w/])(@[\w.]+)@[\w.\-]+")
_DEFAULT_MAX_CHARACTERS = 500
_INSTANCE_LIMITS: dict[str, int] = {}


def status_length(text: str) -> int:
    """The length Mastodon checks against its limit."""
    counted = _MENTION_DOMAIN.sub(r"\1", text)
    for match in find_urls(counted):
        counted = counted.replace(match.group(0), "x" * _URL_LENGTH, 1)
    return len(counted)


def _write_config(config: BaseModel) -> tuple[MastodonConfig, dict[str, str]]:
    cfg = coerce_config(config, MastodonConfig)
    if cfg.access_token is None:
        raise RuleViolation(
            "writing needs the source's access_token (scopes write:statuses, "
            "write:favourites) and the account it belongs to",
            field="config",
        )
    return cfg, {"Authorization": f"Bearer {cfg.access_token.get_secret_value()}"}


async def _max_characters(client: httpx.AsyncClient, cfg: MastodonConfig) -> int:
    """The instance's status limit (Mastodon 4's `configuration.statuses.max_characters`)."""
    known = _INSTANCE_LIMITS.get(cfg.instance_url)
    if known is not None:
        return known
    try:
        response = await client.get(f"{cfg.instance_url}/api/v2/instance")
        config = as_mapping(as_mapping(read_json(response, "Mastodon")).get("configuration"))
        limit = as_mapping(config.get("statuses")).get("max_characters")
    except (httpx.HTTPError, PlatformError):
        return _DEFAULT_MAX_CHARACTERS  # not cached: ask again next time
    found = limit if isinstance(limit, int) and limit > 0 else _DEFAULT_MAX_CHARACTERS
    _INSTANCE_LIMITS[cfg.instance_url] = found
    return found


async def _local_id(
    client: httpx.AsyncClient, cfg: MastodonConfig, headers: dict[str, str], target: PostRef
) -> str:
    """The target's status id on our instance; a foreign status is resolved by search."""
    if target.platform_id:
        return target.platform_id
    response = await client.get(
        f"{cfg.instance_url}/api/v2/search",
        params={"q": target.external_id, "type": "statuses", "resolve": "true", "limit": 1},
        headers=headers,
    )
    statuses = as_mapping(read_json(response, "Mastodon")).get("statuses")
    found = as_mapping(statuses[0]) if isinstance(statuses, list) and statuses else {}
    if not isinstance(found.get("id"), str):
        raise WriteRejected(
            f"{host_of(cfg.instance_url)} cannot find the status {target.external_id[:200]}"
        )
    return str(found["id"])


async def _create_status(
    client: httpx.AsyncClient,
    cfg: MastodonConfig,
    headers: dict[str, str],
    request: WriteRequest,
    in_reply_to: str | None,
) -> WriteResult:
    body: dict[str, Any] = {"status": request.text, "visibility": cfg.visibility}
    if in_reply_to is not None:
        body["in_reply_to_id"] = in_reply_to
    if request.language:
        body["language"] = request.language.split("-")[0]
    # Mastodon keeps the key for an hour and answers a repeat with the status it created.
    sent_headers = {**headers, "Idempotency-Key": request.idempotency_key}
    try:
        response = await client.post(
            f"{cfg.instance_url}/api/v1/statuses", json=body, headers=sent_headers
        )
    except httpx.HTTPError as exc:
        raise classify_send_failure(exc, "Mastodon") from exc
    status = json_body(response, "Mastodon")
    return WriteResult(
        external_id=str(status.get("uri") or status.get("url") or status.get("id")),
        platform_id=str(status.get("id")),
        url=http_url(status.get("url")),
        raw=dict(status),
    )


async def _status_action(
    client: httpx.AsyncClient, config: BaseModel, target: PostRef, verb: str
) -> WriteResult:
    cfg, headers = _write_config(config)
    local_id = await _local_id(client, cfg, headers, target)
    try:
        response = await client.post(
            f"{cfg.instance_url}/api/v1/statuses/{local_id}/{verb}", headers=headers
        )
    except httpx.HTTPError as exc:
        raise classify_send_failure(exc, "Mastodon") from exc
    check_response(response, "Mastodon")
    return WriteResult(external_id=target.external_id, platform_id=local_id, url=target.url)


# -- re-checking ------------------------------------------------------------------------------

# Mastodon (and GoToSocial) status URIs: https://host/users/{name}/statuses/{id}.
_STATUS_URI_PATH = re.compile(r"^/users/[^/]+/statuses/([^/?#]+)$")
_TOMBSTONE = "Tombstone"


def _recheck_id(ref: ItemRef, instance: str) -> tuple[str, bool] | None:
    """The status id to ask the instance (`host[:port]`) about, and whether it is local there."""
    parts = urlsplit(ref.external_id)
    found = _STATUS_URI_PATH.match(parts.path)
    if parts.netloc.lower() == instance and found:
        return found.group(1), True
    raw = as_mapping(ref.raw)
    status = as_mapping(raw.get("reblog")) or raw
    status_id = status.get("id")
    if status.get("uri") == ref.external_id and isinstance(status_id, str) and status_id:
        return status_id, False
    return None


def _status_verdict(response: httpx.Response, uri: str) -> Verdict | None:
    """What an instance's answer (other than 404/410) about a status says."""
    status = as_mapping(read_json(response, "Mastodon"))
    if status.get("type") == _TOMBSTONE:
        return Verdict.GONE
    if status.get("uri") != uri:
        return None  # the stored id belongs to another instance: no answer here
    if status.get("visibility", "public") not in _PUBLIC_VISIBILITIES:
        return Verdict.GONE  # made private: no longer a public post
    return Verdict.ALIVE


async def _origin_verdict(client: httpx.AsyncClient, ref: ItemRef) -> Verdict | None:
    """Ask the status's own server (ActivityPub): 404, 410 or a Tombstone mean deleted."""
    if http_url(ref.external_id) is None:
        return None
    try:
        response = await client.get(
            ref.external_id, headers={"Accept": "application/activity+json"}
        )
    except httpx.HTTPError:
        return None  # one unreachable origin says nothing about the other statuses
    if response.status_code in (404, 410):
        return Verdict.GONE
    if response.status_code != 200:
        return None  # 401/403: the origin wants signed fetches; ask again another time
    try:
        body = as_mapping(response.json())
    except ValueError:
        return None
    if body.get("type") == _TOMBSTONE:
        return Verdict.GONE
    return Verdict.ALIVE if body.get("id") == ref.external_id else None
