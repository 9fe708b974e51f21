"""Lemmy: a community's new posts and comments (or a search), on API v4 with a v3 fallback."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors._normalize import (
    ItemError,
    KeyedLocks,
    PausedCursor,
    PlatformError,
    as_mapping,
    clean_base_url,
    coerce_config,
    host_of,
    http_url,
    join_text,
    language_tag,
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
    WriteDeferred,
    WriteRequest,
    WriteResult,
    classify_send_failure,
    json_body,
    require_target,
    require_text,
)

Api = Literal["v4", "v3"]
_COMMUNITY = re.compile(r"^[a-z0-9_]{1,100}(@[a-z0-9.\-]{1,253})?$")
# Status codes that mean "this API version is not served here", not "the instance is down".
_NOT_SERVED = frozenset({400, 404, 405, 501})
# Error names Lemmy answers (400 on 0.19, 404 on 1.0) for a post or comment it does not have.
_NOT_FOUND_ERRORS = frozenset({"couldnt_find_comment", "couldnt_find_post", "not_found"})


_SHARED_LANGUAGES: dict[str, dict[int, str]] = {}
# Login tokens per (instance, user) and the API version each instance speaks, per process.
_JWTS: dict[tuple[str, str], str] = {}
_APIS: dict[str, Api] = {}
_LOGIN_LOCKS = KeyedLocks()
_LOGIN_PATH: dict[Api, str] = {"v3": "user/login", "v4": "account/auth/login"}
# Lemmy's defaults: comments up to 10,000 characters, post titles up to 200.
_MAX_TEXT, _MAX_TITLE = 10_000, 200


class LemmyConfig(BaseModel):
    """A community on a Lemmy instance (`name` or `name@home.instance`)."""

    model_config = ConfigDict(extra="forbid")

    instance_url: str = Field(examples=["https://lemmy.example"])
    community: str = Field(examples=["fietsen@lemmy.example"])
    query: str | None = Field(default=None, max_length=500, description="Search inside it")
    include_comments: bool = True
    page_size: int = Field(default=50, ge=1, le=50)
    max_pages: int = Field(default=5, ge=1, le=50)
    username: str | None = Field(default=None, description="Account that replies and likes")
    password: SecretStr | None = None

    @field_validator("instance_url")
    @classmethod
    def _instance_url(cls, value: str) -> str:
        return clean_base_url(value)

    @field_validator("community")
    @classmethod
    def _community(cls, value: str) -> str:
        name = value.strip().removeprefix("!").lower()
        if not _COMMUNITY.match(name):
            raise ValueError("a community is name or name@instance")
        return name

    @model_validator(mode="after")
    def _login_pair(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class LemmyCursor(PausedCursor, total=False):
    """The API version the instance answered on and the highest post and comment ids seen."""

    api: Api | None
    post_mark: int | None
    comment_mark: int | None


class LemmyConnector:
    """Polls posts and comments newest first down to the highest local ids already seen.

    Local ids grow as content arrives on this instance, so an item federated late (with an
    older `published` time) still counts as new; it is found when it sorts onto a page the
    poll reads, which stops at the first page holding an id it has seen.
    """

    kind: ClassVar[str] = "lemmy"
    config_model: ClassVar[type[BaseModel]] = LemmyConfig
    write_actions: ClassVar[frozenset[WriteAction]] = frozenset(
        {WriteAction.REPLY, WriteAction.POST, WriteAction.LIKE}
    )
    text_format: ClassVar[TextFormat] = TextFormat.MARKDOWN
    honours_idempotency_key: ClassVar[bool] = False

    def __init__(self, languages: dict[str, dict[int, str]] | None = None) -> None:
        # Language ids are per instance and change rarely: one table per instance per process.
        self._languages = languages if languages is not None else _SHARED_LANGUAGES

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: LemmyCursor
    ) -> FetchResult[LemmyCursor]:
        """Fetch posts and comments with ids above the cursor's marks."""
        cfg = coerce_config(config, LemmyConfig)
        if paused_until(cursor, utcnow()):
            return FetchResult(items=[], cursor=cursor.copy())
        api: Api | None = cursor.get("api") if cursor.get("api") in ("v4", "v3") else None
        if api is None or cfg.instance_url not in self._languages:
            api = await self._probe(client, cfg, api)
        marks = {
            "post": _int_or_none(cursor.get("post_mark")),
            "comment": _int_or_none(cursor.get("comment_mark")),
        }
        try:
            views, new_marks = await self._walk_all(client, cfg, api, marks)
        except PlatformError as exc:
            # The instance changed versions since the cursor was written: probe again, once.
            if exc.status not in _NOT_SERVED:
                raise
            api = await self._probe(client, cfg, None)
            views, new_marks = await self._walk_all(client, cfg, api, marks)
        items, rejected = self._map(cfg, views)
        next_cursor: LemmyCursor = {
            "api": api,
            "post_mark": new_marks["post"],
            "comment_mark": new_marks["comment"],
        }
        return FetchResult(items=items, cursor=next_cursor, rejected=rejected)

    async def check(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteRequest:
        """Markdown up to 10,000 characters, as a logged-in account; posts need a title."""
        cfg = coerce_config(config, LemmyConfig)
        if cfg.username is None:
            raise RuleViolation("writing needs the source's username and password", "config")
        text = require_text(request.text)
        if len(text) > _MAX_TEXT:
            raise RuleViolation(f"{len(text)} characters where Lemmy allows {_MAX_TEXT}")
        if request.action is WriteAction.REPLY:
            if not isinstance(_ids_of(require_target(request))[0], int):
                raise RuleViolation("the post to answer has no Lemmy post id", field="target")
        elif not 0 < len((request.title or "").strip()) <= _MAX_TITLE:
            raise RuleViolation(
                f"a new post needs a title of 1 to {_MAX_TITLE} characters", "title"
            )
        return request

    async def reply(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Comment on the target's post, under the target comment when it is one."""
        await self.check(client=client, config=config, request=request)
        post_id, comment_id = _ids_of(require_target(request))
        body: dict[str, Any] = {"content": request.text.strip(), "post_id": post_id}
        if comment_id is not None:
            body["parent_id"] = comment_id
        created = await self._send(client, config, "comment", body)
        return self._result(config, as_mapping(created.get("comment_view")))

    async def post(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Create a post in the source's community."""
        await self.check(client=client, config=config, request=request)
        cfg = coerce_config(config, LemmyConfig)
        api = await self._api(client, cfg)
        response = await client.get(
            f"{cfg.instance_url}/api/{api}/community", params={"name": cfg.community}
        )
        view = as_mapping(as_mapping(read_json(response, "Lemmy")).get("community_view"))
        community_id = as_mapping(view.get("community")).get("id")
        if not isinstance(community_id, int):
            raise RuleViolation(f"Lemmy has no community {cfg.community}", field="config")
        body = {"name": str(request.title).strip(), "body": request.text.strip()}
        created = await self._send(client, config, "post", {**body, "community_id": community_id})
        return self._result(config, as_mapping(created.get("post_view")))

    async def like(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Upvote the post or comment."""
        await self._vote(client, config, target, 1)
        return WriteResult(target.external_id, target.external_id, target.url)

    async def boost(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Lemmy has no boost."""
        raise RuleViolation("Lemmy has no boost; upvote instead", field="action")

    async def undo(
        self,
        *,
        client: httpx.AsyncClient,
        config: BaseModel,
        action: WriteAction,
        target: PostRef,
        done: WriteResult,
    ) -> None:
        """Take the vote back (score 0)."""
        await self._vote(client, config, target, 0)

    async def thread(
        self, *, client: httpx.AsyncClient, config: BaseModel, root: PostRef
    ) -> FetchResult[NoCursor]:
        """The comments on the root's post (newest 50, all depths)."""
        cfg = coerce_config(config, LemmyConfig)
        api = await self._api(client, cfg)
        post_id, _ = _ids_of(root)
        response = await client.get(
            f"{cfg.instance_url}/api/{api}/comment/list",
            params={"post_id": str(post_id), "sort": "New", "limit": 50, "type_": "All"},
            headers=await self._auth(client, cfg),
        )
        views = _views_of_kind(as_mapping(read_json(response, "Lemmy")), "comment")
        items, rejected = self._map(cfg, views)
        return FetchResult(items=items, cursor={}, rejected=rejected)

    async def own_identities(self, *, client: httpx.AsyncClient, config: BaseModel) -> set[str]:
        """The account, as authors are named (`@name@instance` and the actor URL)."""
        cfg = coerce_config(config, LemmyConfig)
        return {
            f"@{cfg.username}@{host_of(cfg.instance_url)}",
            f"{cfg.instance_url}/u/{cfg.username}",
        }

    def result_from_mention(self, item: MentionIn) -> WriteResult:
        """Our comment as found in a thread."""
        comment = as_mapping(as_mapping(item.raw).get("comment"))
        return WriteResult(
            item.external_id, str(comment.get("id")), item.external_id, item.raw or {}
        )

    async def recheck(
        self, *, client: httpx.AsyncClient, config: BaseModel, refs: Sequence[ItemRef]
    ) -> RecheckResult:
        """Which posts and comments are gone: `GET /api/v{3,4}/comment?id=` (or `post?id=`)
        answers not found, or the item (or a comment's post) is flagged `deleted` by its
        author or `removed` by a moderator."""
        cfg = coerce_config(config, LemmyConfig)
        tally = Tally()
        try:
            api = await self._api(client, cfg)
        except httpx.HTTPError as exc:
            tally.stop(describe_error(exc))
            return tally.result()
        for ref in refs[:MAX_REFS]:
            target = _recheck_target(ref)
            if target is None:
                continue
            kind, item_id = target
            try:
                response = await client.get(
                    f"{cfg.instance_url}/api/{api}/{kind}", params={"id": item_id}
                )
                verdict = _view_verdict(response, kind)
            except httpx.HTTPError as exc:
                tally.stop(describe_error(exc))
                break
            tally.record(ref.external_id, verdict)
        return tally.result()

    def _result(self, config: BaseModel, view: Mapping[str, Any]) -> WriteResult:
        items, _ = self._map(coerce_config(config, LemmyConfig), [view])
        if not items:
            raise PlatformError("Lemmy accepted the write but returned nothing usable")
        subject = as_mapping(view.get("comment") or view.get("post"))
        return WriteResult(items[0].external_id, str(subject.get("id")), items[0].external_id, view)

    async def _vote(
        self, client: httpx.AsyncClient, config: BaseModel, target: PostRef, score: int
    ) -> None:
        post_id, comment_id = _ids_of(target)
        if comment_id is not None:
            await self._send(
                client, config, "comment/like", {"comment_id": comment_id, "score": score}
            )
        else:
            await self._send(client, config, "post/like", {"post_id": post_id, "score": score})

    async def _api(self, client: httpx.AsyncClient, cfg: LemmyConfig) -> Api:
        if cfg.instance_url not in _APIS:
            _APIS[cfg.instance_url] = await self._probe(client, cfg, None)
        return _APIS[cfg.instance_url]

    async def _auth(self, client: httpx.AsyncClient, cfg: LemmyConfig) -> dict[str, str]:
        if cfg.username is None or cfg.password is None:
            return {}
        key = (cfg.instance_url, cfg.username.lower())
        async with _LOGIN_LOCKS(key):
            if key not in _JWTS:
                api = await self._api(client, cfg)
                response = await client.post(
                    f"{cfg.instance_url}/api/{api}/{_LOGIN_PATH[api]}",
                    json={
                        "username_or_email": cfg.username,
                        "password": cfg.password.get_secret_value(),
                    },
                )
                jwt = as_mapping(read_json(response, "Lemmy")).get("jwt")
                if not isinstance(jwt, str):
                    raise RuleViolation("Lemmy refused the login (no jwt)", field="config")
                _JWTS[key] = jwt
            return {"Authorization": f"Bearer {_JWTS[key]}"}

    async def _send(
        self, client: httpx.AsyncClient, config: BaseModel, path: str, body: dict[str, Any]
    ) -> Mapping[str, Any]:
        cfg = coerce_config(config, LemmyConfig)
        api, headers = await self._api(client, cfg), await self._auth(client, cfg)
        try:
            response = await client.post(
                f"{cfg.instance_url}/api/{api}/{path}", json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise classify_send_failure(exc, "Lemmy") from exc
        if response.status_code == 401:
            # A stale login is refused before anything is written: log in again next time.
            _JWTS.pop((cfg.instance_url, str(cfg.username).lower()), None)
            raise WriteDeferred("Lemmy refused the login token; logging in again next time")
        return json_body(response, "Lemmy")

    async def _walk_all(
        self, client: httpx.AsyncClient, cfg: LemmyConfig, api: Api, marks: dict[str, int | None]
    ) -> tuple[list[Any], dict[str, int | None]]:
        """New views of every wanted kind, and the marks to store."""
        views: list[Any] = []
        new_marks = dict(marks)
        for kind in ("post", "comment") if cfg.include_comments else ("post",):
            found, newest = await self._walk(client, cfg, api, kind, marks[kind])
            views.extend(found)
            new_marks[kind] = max(filter(None, (marks[kind], newest)), default=None)
        return views, new_marks

    async def _probe(self, client: httpx.AsyncClient, cfg: LemmyConfig, known: Api | None) -> Api:
        """Find the API version (v4 first, unless v3 is already known) and load languages."""
        # Two polls probing at once cost one extra request each; not worth a lock.
        order: tuple[Api, ...] = ("v3",) if known == "v3" else ("v4", "v3")
        for version in order:
            response = await client.get(f"{cfg.instance_url}/api/{version}/site")
            if response.status_code in _NOT_SERVED:
                continue
            site = as_mapping(read_json(response, "Lemmy"))
            self._languages[cfg.instance_url] = _language_table(site.get("all_languages"))
            return version
        raise PlatformError("Lemmy answered neither /api/v4/site nor /api/v3/site")

    async def _walk(
        self,
        client: httpx.AsyncClient,
        cfg: LemmyConfig,
        api: Api,
        kind: Literal["post", "comment"],
        mark: int | None,
    ) -> tuple[list[Any], int | None]:
        """Views of one kind above `mark`, newest first, and the highest id among them."""
        found: list[Any] = []
        newest: int | None = None
        page_cursor: str | None = None
        for page in range(1, cfg.max_pages + 1):
            body = await self._list(client, cfg, api, kind, page, page_cursor)
            views = _views_of_kind(body, kind)
            reached_old = False
            for view in views:
                item_id = as_mapping(as_mapping(view).get(kind)).get("id")
                if not isinstance(item_id, int):
                    found.append(view)  # the mapper rejects it with a reason
                elif mark is None or item_id > mark:
                    found.append(view)
                    newest = item_id if newest is None else max(newest, item_id)
                else:
                    reached_old = True
            next_page = body.get("next_page")
            page_cursor = next_page if isinstance(next_page, str) else None
            no_more = len(views) < cfg.page_size or (api == "v4" and page_cursor is None)
            # The first poll reads one page: listening starts now, not at the archive's start.
            if reached_old or no_more or mark is None:
                break
        return found, newest

    async def _list(
        self,
        client: httpx.AsyncClient,
        cfg: LemmyConfig,
        api: Api,
        kind: Literal["post", "comment"],
        page: int,
        page_cursor: str | None,
    ) -> Mapping[str, Any]:
        params: dict[str, str | int] = {"sort": "New", "limit": cfg.page_size}
        if api == "v4":
            # 1.0 pre-releases renamed community_name to community_name_or_id for some lists.
            params |= {"community_name": cfg.community, "community_name_or_id": cfg.community}
            if page_cursor:
                params["page_cursor"] = page_cursor
        else:
            params |= {"community_name": cfg.community, "page": page}
        if cfg.query is not None:
            path = "search"
            params |= {"type_": "Posts" if kind == "post" else "Comments", "listing_type": "All"}
            params["search_term" if api == "v4" else "q"] = cfg.query
        else:
            path = f"{kind}/list"
            params["type_"] = "All"
        response = await client.get(f"{cfg.instance_url}/api/{api}/{path}", params=params)
        return as_mapping(read_json(response, "Lemmy"))

    def _map(
        self, cfg: LemmyConfig, views: list[Any]
    ) -> tuple[list[MentionIn], list[RejectedItem]]:
        languages = self._languages.get(cfg.instance_url, {})
        # A comment's parent is named by local id in `path`; map the ones on these pages.
        ap_by_comment = {
            c["id"]: c.get("ap_id")
            for c in (as_mapping(as_mapping(v).get("comment")) for v in views)
            if isinstance(c.get("id"), int)
        }
        return map_items(
            views,
            lambda raw: view_to_mention(raw, languages=languages, ap_by_comment=ap_by_comment),
            id_of=lambda raw: as_mapping(raw.get("comment") or raw.get("post")).get("ap_id"),
        )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _language_table(languages: Any) -> dict[int, str]:
    table: dict[int, str] = {}
    for language in languages if isinstance(languages, list) else []:
        entry = as_mapping(language)
        if isinstance(entry.get("id"), int) and isinstance(entry.get("code"), str):
            table[entry["id"]] = entry["code"]
    return table


def _views_of_kind(body: Mapping[str, Any], kind: Literal["post", "comment"]) -> list[Any]:
    """The post or comment views of a list or search answer, whatever the wrapper is called."""
    views: list[Any] = []
    for key in ("items", "results", f"{kind}s"):
        value = body.get(key)
        if isinstance(value, list):
            views.extend(value)
    if not views and not any(key in body for key in ("items", "results", f"{kind}s")):
        raise PlatformError(f"Lemmy answered without a list of {kind}s")
    # Search results mix kinds; a comment view is the one carrying a `comment`.
    return [v for v in views if ("comment" in as_mapping(v)) == (kind == "comment")]


def view_to_mention(
    view: Mapping[str, Any], *, languages: Mapping[int, str], ap_by_comment: Mapping[int, Any]
) -> MentionIn:
    """Map a PostView or CommentView (v3 or v4 shape) to a mention."""
    post = as_mapping(view.get("post"))
    comment = as_mapping(view.get("comment"))
    subject = comment or post
    ap_id = http_url(subject.get("ap_id"))
    if ap_id is None:
        raise ItemError("missing ap_id")
    post_ap_id = http_url(post.get("ap_id"))
    if comment:
        text = join_text(comment.get("content"))
        reply_to = _parent_ap_id(comment, ap_by_comment) or post_ap_id
    else:
        text = join_text(post.get("name"), post.get("body"), http_url(post.get("url")))
        reply_to = None
    if not text:
        raise ItemError("no text")
    # v3 keeps counters in `counts`; v4 moved them onto the post or comment itself.
    counts = as_mapping(view.get("counts")) or subject
    language_id = subject.get("language_id")
    return MentionIn(
        platform="lemmy",
        external_id=ap_id,
        url=ap_id,
        text=text,
        language=language_tag(languages.get(language_id)) if isinstance(language_id, int) else None,
        created_at=parse_timestamp(subject.get("published_at") or subject.get("published")),
        author=_author(as_mapping(view.get("creator"))),
        reply_to_external_id=reply_to,
        thread_external_id=post_ap_id,
        engagement=EngagementIn(
            likes=optional_int(counts.get("upvotes")),
            score=counts.get("score") if isinstance(counts.get("score"), int) else None,
            replies=optional_int(counts.get("child_count" if comment else "comments")),
        ),
        raw=dict(view),
    )


def _parent_ap_id(comment: Mapping[str, Any], ap_by_comment: Mapping[int, Any]) -> str | None:
    """The parent comment's ap_id from `path` ("0.<root>.….<parent>.<self>"), when known."""
    path = comment.get("path")
    if not isinstance(path, str):
        return None
    parts = path.split(".")
    if len(parts) < 3:
        return None  # a top-level comment: it answers the post
    try:
        parent = int(parts[-2])
    except ValueError:
        return None
    found = ap_by_comment.get(parent)
    return found if isinstance(found, str) else None


def _author(creator: Mapping[str, Any]) -> AuthorIn | None:
    actor = http_url(creator.get("ap_id") or creator.get("actor_id"))
    name = creator.get("name")
    if actor is None or not isinstance(name, str):
        return None
    return AuthorIn(
        platform_id=actor,
        handle=f"@{name}@{host_of(actor)}",
        display_name=creator.get("display_name") or None,
        profile_url=actor,
    )


def _ids_of(target: PostRef) -> tuple[Any, int | None]:
    """The Lemmy post id and (for a comment) comment id in the stored view."""
    raw = as_mapping(target.raw)
    comment = as_mapping(raw.get("comment"))
    post_id = as_mapping(raw.get("post")).get("id") or comment.get("post_id")
    comment_id = comment.get("id")
    return post_id, comment_id if isinstance(comment_id, int) else None


def _recheck_target(ref: ItemRef) -> tuple[Literal["post", "comment"], int] | None:
    """Which kind of item the stored view is, and its id on the source's instance."""
    raw = as_mapping(ref.raw)
    comment, post = as_mapping(raw.get("comment")), as_mapping(raw.get("post"))
    subject: Mapping[str, Any] = comment or post
    if subject.get("ap_id") != ref.external_id:
        return None
    item_id = _int_or_none(subject.get("id"))
    if item_id is None:
        return None
    return ("comment" if comment else "post"), item_id


def _flagged(item: Mapping[str, Any]) -> bool:
    return item.get("deleted") is True or item.get("removed") is True


def _view_verdict(response: httpx.Response, kind: Literal["post", "comment"]) -> Verdict:
    """Gone when Lemmy cannot find it or flags it (or, for a comment, its post) deleted/removed."""
    if response.status_code in (404, 410):
        return Verdict.GONE
    if response.status_code == 400:
        try:
            error = as_mapping(response.json()).get("error")
        except ValueError:
            error = None
        if error in _NOT_FOUND_ERRORS:
            return Verdict.GONE
    view = as_mapping(as_mapping(read_json(response, "Lemmy")).get(f"{kind}_view"))
    subject = as_mapping(view.get(kind))
    if not subject:
        raise PlatformError(f"Lemmy answered without a {kind}_view")
    if _flagged(subject) or (kind == "comment" and _flagged(as_mapping(view.get("post")))):
        return Verdict.GONE
    return Verdict.ALIVE
