"""Stack Exchange API 2.3: `/search/advanced` from a `fromdate`, within quota and backoff."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors._normalize import (
    ItemError,
    PausedCursor,
    PlatformError,
    Watermark,
    WatermarkJson,
    as_mapping,
    clean_base_url,
    coerce_config,
    html_to_text,
    http_url,
    isoformat,
    join_text,
    map_items,
    optional_int,
    parse_timestamp,
    paused_until,
    utcnow,
)
from connectors.base import FetchResult, NoCursor, RejectedItem, WriteAction
from connectors.http import note_backoff
from connectors.items import AuthorIn, EngagementIn, MentionIn
from connectors.writes import (
    OutcomeUnknown,
    PostRef,
    RuleViolation,
    TextFormat,
    WriteDeferred,
    WriteError,
    WriteRejected,
    WriteRequest,
    WriteResult,
    classify_send_failure,
    require_target,
    require_text,
)

# "too many requests from this IP, more requests available in 8450 seconds"
_AVAILABLE_IN = re.compile(r"available in (\d+) seconds?")
_THROTTLE_ERRORS = frozenset({"throttle_violation"})
_DEFAULT_THROTTLE_WAIT = 60.0
# Stack Exchange's limits: answers 30 to 30,000 characters, comments 15 to 600.
_ANSWER = (30, 30_000)
_COMMENT = (15, 600)


class StackExchangeConfig(BaseModel):
    """A question search on one Stack Exchange site."""

    model_config = ConfigDict(extra="forbid")

    api_url: str = "https://api.stackexchange.com/2.3"
    site: str = Field(default="stackoverflow", pattern=r"^[a-z0-9.\-]{2,100}$")
    query: str | None = Field(default=None, max_length=500, description="Free text (q)")
    tagged: list[str] = Field(default_factory=list, max_length=5)
    key: SecretStr | None = Field(default=None, description="App key: 10,000 requests a day")
    access_token: SecretStr | None = None
    filter: str = Field(default="withbody", description="Must include question bodies")
    page_size: int = Field(default=100, ge=1, le=100)
    max_pages: int = Field(default=3, ge=1, le=25)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return clean_base_url(value)

    @model_validator(mode="after")
    def _has_criteria(self) -> Self:
        if not self.query and not self.tagged:
            raise ValueError("set a query, tags, or both")
        return self


class StackExchangeCursor(PausedCursor, total=False):
    """The creation-time watermark and the daily quota the API reported."""

    mark: WatermarkJson | None
    quota_max: int
    quota_remaining: int


class StackExchangeConnector:
    """Reads questions oldest first from the watermark, so a poll can stop anywhere safely.

    Writes answer questions (a comment when the target is an answer) and upvote; asking new
    questions as an organisation is left to people, as the sites expect.
    """

    kind: ClassVar[str] = "stackexchange"
    config_model: ClassVar[type[BaseModel]] = StackExchangeConfig
    write_actions: ClassVar[frozenset[WriteAction]] = frozenset(
        {WriteAction.REPLY, WriteAction.LIKE}
    )
    text_format: ClassVar[TextFormat] = TextFormat.MARKDOWN
    honours_idempotency_key: ClassVar[bool] = False

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: StackExchangeCursor
    ) -> FetchResult[StackExchangeCursor]:
        """Fetch questions created since the cursor's watermark."""
        cfg = coerce_config(config, StackExchangeConfig)
        now = utcnow()
        if paused_until(cursor, now):
            return FetchResult(items=[], cursor=cursor.copy())
        mark = Watermark.from_json(cursor.get("mark"))
        first_poll = mark.at is None
        seen = Watermark(mark.at, list(mark.ids))
        items: list[MentionIn] = []
        rejected: list[RejectedItem] = []
        quota: StackExchangeCursor = {}
        not_before: datetime | None = None
        for page in range(1, cfg.max_pages + 1):
            url = f"{cfg.api_url}/search/advanced"
            response = await client.get(url, params=self._params(cfg, mark, page))
            body = _read_envelope(response)
            quota = _quota(body)
            not_before = _pause_from(body, now)
            if (backoff := optional_int(body.get("backoff"))) is not None:
                # The guarded client then holds every request to this host, not just ours.
                note_backoff(client, url, backoff)
            questions = body.get("items")
            if not isinstance(questions, list):
                raise PlatformError("Stack Exchange answered without an items list")
            fresh = [q for q in questions if _is_new(q, mark, seen)]
            page_items, page_rejected = map_items(fresh, question_to_mention, id_of=_question_id)
            items.extend(page_items)
            rejected.extend(page_rejected)
            # The first poll reads the newest page only: listening starts now, not in 2008.
            if first_poll or not body.get("has_more") or not_before is not None:
                break
        next_cursor: StackExchangeCursor = {"mark": seen.to_json(), **quota}
        if not_before is not None:
            next_cursor["not_before"] = isoformat(not_before)
        return FetchResult(items=items, cursor=next_cursor, rejected=rejected)

    async def check(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteRequest:
        """An answer of 30 to 30,000 characters (a comment on an answer: 15 to 600)."""
        _write_params(config)
        if request.action is not WriteAction.REPLY:
            raise RuleViolation("on Stack Exchange Luister answers; it does not ask", "action")
        low, high = _COMMENT if _is_answer(require_target(request)) else _ANSWER
        text = require_text(request.text, minimum=low)
        if len(text) > high:
            raise RuleViolation(f"{len(text)} characters where Stack Exchange allows {high}")
        return request

    async def reply(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Answer the question (or comment on the answer)."""
        await self.check(client=client, config=config, request=request)
        cfg, target = coerce_config(config, StackExchangeConfig), require_target(request)
        post_id = _post_id(target)
        path = (
            f"/posts/{post_id}/comments/add"
            if _is_answer(target)
            else (f"/questions/{post_id}/answers/add")
        )
        body = await _send(client, cfg, path, {"body": request.text.strip()})
        items = body.get("items")
        created = as_mapping(items[0]) if isinstance(items, list) and items else {}
        new_id = created.get("answer_id") or created.get("comment_id")
        if not isinstance(new_id, int):
            raise OutcomeUnknown("Stack Exchange accepted the answer but did not return it")
        link = http_url(created.get("link"))
        return WriteResult(str(new_id), str(new_id), link, dict(created))

    async def post(
        self, *, client: httpx.AsyncClient, config: BaseModel, request: WriteRequest
    ) -> WriteResult:
        """Not offered: see the class docstring."""
        raise RuleViolation("on Stack Exchange Luister answers; it does not ask", "action")

    async def like(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Upvote the question or answer."""
        cfg = coerce_config(config, StackExchangeConfig)
        await _send(client, cfg, f"/posts/{_post_id(target)}/upvote", {})
        return WriteResult(target.external_id, str(_post_id(target)), target.url)

    async def boost(
        self, *, client: httpx.AsyncClient, config: BaseModel, target: PostRef
    ) -> WriteResult:
        """Stack Exchange has no boost."""
        raise RuleViolation("Stack Exchange has no boost; upvote instead", field="action")

    async def undo(
        self,
        *,
        client: httpx.AsyncClient,
        config: BaseModel,
        action: WriteAction,
        target: PostRef,
        done: WriteResult,
    ) -> None:
        """Take the upvote back."""
        cfg = coerce_config(config, StackExchangeConfig)
        await _send(client, cfg, f"/posts/{_post_id(target)}/upvote/undo", {})

    async def thread(
        self, *, client: httpx.AsyncClient, config: BaseModel, root: PostRef
    ) -> FetchResult[NoCursor]:
        """The answers to the root's question."""
        cfg = coerce_config(config, StackExchangeConfig)
        question = root.thread_external_id or root.external_id
        response = await client.get(
            f"{cfg.api_url}/questions/{question}/answers",
            params={**_read_params(cfg), "sort": "creation", "order": "desc", "pagesize": 100},
        )
        answers = _read_envelope(response).get("items")
        items, rejected = map_items(
            answers if isinstance(answers, list) else [],
            answer_to_mention,
            id_of=lambda raw: raw.get("answer_id"),
        )
        return FetchResult(items=items, cursor={}, rejected=rejected)

    async def own_identities(self, *, client: httpx.AsyncClient, config: BaseModel) -> set[str]:
        """The token's user id (authors are keyed by user id)."""
        cfg = coerce_config(config, StackExchangeConfig)
        response = await client.get(f"{cfg.api_url}/me", params=_read_params(cfg))
        items = _read_envelope(response).get("items")
        me = as_mapping(items[0]) if isinstance(items, list) and items else {}
        if not isinstance(me.get("user_id"), int):
            raise PlatformError("Stack Exchange did not say whose access token this is")
        return {str(me["user_id"])}

    def result_from_mention(self, item: MentionIn) -> WriteResult:
        """Our answer as found under the question."""
        url = str(item.url) if item.url else None
        return WriteResult(item.external_id, item.external_id, url, item.raw or {})

    @staticmethod
    def _params(cfg: StackExchangeConfig, mark: Watermark, page: int) -> dict[str, str | int]:
        params: dict[str, str | int] = {
            "site": cfg.site,
            "sort": "creation",
            "pagesize": cfg.page_size,
            "page": page,
            "filter": cfg.filter,
        }
        if mark.at is None:
            params["order"] = "desc"
        else:
            # fromdate is inclusive, so questions in the mark's own second come back and are
            # told apart by id; ascending order makes every page continue the previous one.
            params.update({"order": "asc", "fromdate": mark.at})
        if cfg.query:
            params["q"] = cfg.query
        if cfg.tagged:
            params["tagged"] = ";".join(cfg.tagged)
        if cfg.key is not None:
            params["key"] = cfg.key.get_secret_value()
        if cfg.access_token is not None:
            params["access_token"] = cfg.access_token.get_secret_value()
        return params


def _quota(body: Mapping[str, Any]) -> StackExchangeCursor:
    """The quota fields of an answer, as the cursor shows them."""
    quota: StackExchangeCursor = {}
    if "quota_max" in body:
        quota["quota_max"] = body["quota_max"]
    if "quota_remaining" in body:
        quota["quota_remaining"] = body["quota_remaining"]
    return quota


def _read_envelope(response: httpx.Response) -> Mapping[str, Any]:
    """The wrapper object, or a PlatformError built from its error_id/error_name fields."""
    try:
        body = as_mapping(response.json())
    except ValueError as exc:
        raise PlatformError(
            f"Stack Exchange answered HTTP {response.status_code} with a body that is not JSON",
            status=response.status_code,
        ) from exc
    error_name = body.get("error_name")
    if response.status_code >= 400 or error_name is not None:
        message = body.get("error_message")
        retry_after = None
        if error_name in _THROTTLE_ERRORS:
            found = _AVAILABLE_IN.search(message) if isinstance(message, str) else None
            retry_after = float(found.group(1)) if found else _DEFAULT_THROTTLE_WAIT
        raise PlatformError(
            f"Stack Exchange error {body.get('error_id')} {error_name or 'unknown'}"
            + (f": {message[:200]}" if isinstance(message, str) else ""),
            status=response.status_code,
            retry_after=retry_after,
        )
    return body


def _pause_from(body: Mapping[str, Any], now: datetime) -> datetime | None:
    """When the next request may go out, if the body asks for a pause."""
    pauses = []
    backoff = optional_int(body.get("backoff"))
    if backoff:
        pauses.append(now + timedelta(seconds=backoff))
    if body.get("quota_remaining") == 0:
        # The daily quota comes back within a day; try again after the next UTC midnight. If it
        # is not back yet, the throttle error says exactly how long to wait.
        pauses.append((now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0))
    return max(pauses) if pauses else None


def _is_new(question: Any, mark: Watermark, seen: Watermark) -> bool:
    data = as_mapping(question)
    created, qid = data.get("creation_date"), _question_id(question)
    if not isinstance(created, int) or qid is None:
        return True  # the mapper rejects it with a reason
    if not mark.is_new(created, qid):
        return False
    seen.include(created, qid)
    return True


def _question_id(raw: Any) -> str | None:
    value = as_mapping(raw).get("question_id")
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else None


def question_to_mention(question: Mapping[str, Any]) -> MentionIn:
    """Map a question (fetched with a filter that includes `body`) to a mention."""
    qid = _question_id(question)
    if qid is None:
        raise ItemError("missing question_id")
    # Titles and names arrive HTML-escaped ("don&#39;t"); bodies are HTML.
    title = html.unescape(question.get("title") or "")
    body_html = question.get("body") if isinstance(question.get("body"), str) else None
    text = join_text(title, html_to_text(body_html))
    if not text:
        raise ItemError("question has no title or body")
    score = question.get("score")
    return MentionIn(
        platform="stackexchange",
        external_id=qid,
        url=http_url(question.get("link")),
        text=text,
        html=body_html,
        created_at=parse_timestamp(question.get("creation_date")),
        author=_owner(as_mapping(question.get("owner"))),
        thread_external_id=qid,
        engagement=EngagementIn(
            score=score if isinstance(score, int) and not isinstance(score, bool) else None,
            replies=optional_int(question.get("answer_count")),
            views=optional_int(question.get("view_count")),
        ),
        raw=dict(question),
    )


def _owner(owner: Mapping[str, Any]) -> AuthorIn | None:
    user_id = owner.get("user_id")
    # Deleted and anonymous owners ("does_not_exist") carry no user_id.
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    name = owner.get("display_name")
    return AuthorIn(
        platform_id=str(user_id),
        display_name=html.unescape(name) if isinstance(name, str) and name else None,
        profile_url=http_url(owner.get("link")),
    )


def answer_to_mention(answer: Mapping[str, Any]) -> MentionIn:
    """Map an answer (fetched with a body) to a mention in its question's thread."""
    answer_id, question_id = answer.get("answer_id"), answer.get("question_id")
    if not isinstance(answer_id, int) or not isinstance(question_id, int):
        raise ItemError("missing answer_id or question_id")
    body_html = answer.get("body") if isinstance(answer.get("body"), str) else None
    text = html_to_text(body_html) or (answer.get("body_markdown") or "").strip()
    if not text:
        raise ItemError("answer has no body")
    return MentionIn(
        platform="stackexchange",
        # Answers and questions share one id space per site.
        external_id=str(answer_id),
        url=http_url(answer.get("link")),
        text=text,
        html=body_html,
        created_at=parse_timestamp(answer.get("creation_date")),
        author=_owner(as_mapping(answer.get("owner"))),
        reply_to_external_id=str(question_id),
        thread_external_id=str(question_id),
        engagement=EngagementIn(score=optional_int(answer.get("score"))),
        raw=dict(answer),
    )


def _is_answer(target: PostRef) -> bool:
    return "answer_id" in as_mapping(target.raw)


def _post_id(target: PostRef) -> int:
    try:
        return int(target.external_id)
    except ValueError:
        raise RuleViolation(
            f"{target.external_id[:60]} is no Stack Exchange id", "target"
        ) from None


def _read_params(cfg: StackExchangeConfig) -> dict[str, str | int]:
    params: dict[str, str | int] = {"site": cfg.site, "filter": cfg.filter}
    if cfg.key is not None:
        params["key"] = cfg.key.get_secret_value()
    if cfg.access_token is not None:
        params["access_token"] = cfg.access_token.get_secret_value()
    return params


def _write_params(config: BaseModel) -> dict[str, str | int]:
    cfg = coerce_config(config, StackExchangeConfig)
    if cfg.key is None or cfg.access_token is None:
        raise RuleViolation(
            "writing needs an app key and an access_token with write_access", "config"
        )
    return _read_params(cfg)


async def _send(
    client: httpx.AsyncClient, cfg: StackExchangeConfig, path: str, form: dict[str, str]
) -> Mapping[str, Any]:
    """POST a write; the envelope's error_id says whether it was refused or throttled."""
    try:
        response = await client.post(f"{cfg.api_url}{path}", data={**_write_params(cfg), **form})
    except httpx.HTTPError as exc:
        raise classify_send_failure(exc, "Stack Exchange") from exc
    try:
        return _read_envelope(response)
    except PlatformError as exc:
        raise _write_error(exc) from exc


def _write_error(exc: PlatformError) -> WriteError:
    if exc.retry_after is not None or exc.status == 429:
        return WriteDeferred(str(exc), retry_after=exc.retry_after)
    if exc.status is not None and exc.status >= 500:
        return OutcomeUnknown(str(exc))
    return WriteRejected(str(exc))
