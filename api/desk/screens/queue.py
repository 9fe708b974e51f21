"""The queue screen: the open queue in priority order, triaged by keyboard.

It reads the queue through the same service the API uses (`list_mentions`, sorted by priority,
with the API's default page size), so its first page is the API's first page. Every write goes
through the queue's services with the version the row was rendered at: a stale version or a
colleague's claim answers with the row as it is now and a toast saying who changed it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.desk.render import error_page, render
from api.desk.screens.common import desk_router
from api.desk.session import Desk, DeskDep, WriterDesk
from listener.errors import LuisterError
from listener.kit import MAX_DB_INT, BadCursor, is_db_int
from listener.kit.stems import STEMMED_LANGUAGES, stems
from listener.models import (
    AuditEntry,
    Author,
    Mention,
    MentionTopic,
    QueueItem,
    Role,
    Source,
    Status,
    Topic,
    User,
    utcnow,
)
from listener.models.privacy import ERASED_PREFIX
from listener.nlp.labels import INTENTS
from listener.rest.deps import SessionDep
from listener.rest.params import IdPath
from moderation.queue import bulk, claims, views, workflow
from moderation.queue.bulk import BulkParams
from moderation.queue.errors import ClaimedByOther, IllegalTransition, NotFound, StaleVersion
from moderation.queue.listing import MentionFilter, QueueRow, list_mentions, tags_for
from moderation.queue.sla import state as sla_state
from moderation.queue.triage_schemas import FilterIn

router = desk_router()

#: What "the queue" means when no status is chosen: everything still waiting for the team.
OPEN_QUEUE = (Status.NEW.value, Status.OPEN.value, Status.ESCALATED.value)
SENTIMENTS = ("positive", "neutral", "negative")
FILTER_FIELDS = (
    "status",
    "intent",
    "sentiment",
    "platform",
    "topic",
    "language",
    "q",
    "query",
    "view",
)
TEXT_LIMIT = 280
SNIPPET_LIMIT = 240
SLA_SOON = timedelta(minutes=30)
SNOOZE_CHOICES = ("hour", "tomorrow", "author")
BULK_ACTIONS = ("resolve", "spam", "assign", "tag")
ROW_ACTIONS = ("resolve", "spam", "reopen")


class BadFilter(Exception):
    """A query parameter of the queue page that cannot be used; `key` says which message."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class QueueQuery:
    """The queue page's filters as the address carries them."""

    status: str = ""
    intent: str = ""
    sentiment: str = ""
    platform: str = ""
    topic: str = ""
    language: str = ""
    q: str = ""
    query: str = ""
    view: int | None = None

    @classmethod
    def of(cls, request: Request) -> QueueQuery:
        """Read and check the filters in the request's query string."""
        params = request.query_params
        values: dict[str, Any] = {}
        for name in FILTER_FIELDS:
            value = (params.get(name) or "").strip()
            if len(value) > (1000 if name == "query" else 200):
                raise BadFilter("queue.error.too_long", field=name)
            values[name] = value
        if values["status"] not in ("", "all", *[s.value for s in Status]):
            raise BadFilter("queue.error.status")
        if values["intent"] and values["intent"] not in INTENTS:
            raise BadFilter("queue.error.intent")
        if values["sentiment"] and values["sentiment"] not in SENTIMENTS:
            raise BadFilter("queue.error.sentiment")
        view = values.pop("view")
        if view and (not view.isdigit() or len(view) > 10 or not is_db_int(int(view), minimum=1)):
            raise BadFilter("queue.error.view")
        return cls(**values, view=int(view) if view else None)

    def params(self, **extra: Any) -> str:
        """The filters as a query string (with `extra`), leaving out what is unset."""
        pairs = [(name, getattr(self, name)) for name in FILTER_FIELDS]
        pairs += list(extra.items())
        return urlencode([(k, v) for k, v in pairs if v not in ("", None)])

    @property
    def any(self) -> bool:
        return any(getattr(self, name) not in ("", None) for name in FILTER_FIELDS)

    def request_filter(self) -> MentionFilter:
        """The filter the page's own fields describe (before a saved view and the default)."""
        status = [] if self.status in ("", "all") else [self.status]
        return MentionFilter(
            status=status,
            platform=self.platform or None,
            language=self.language or None,
            sentiment=self.sentiment or None,
            intent=self.intent or None,
            topic=self.topic or None,
            search=self.q or None,
            query=self.query or None,
        )


async def queue_filter(session: AsyncSession, desk: Desk, query: QueueQuery) -> MentionFilter:
    """What the page lists: the saved view (if any) narrowed by the page's filters; without a
    chosen status, the open queue."""
    filters = query.request_filter()
    if query.view is not None:
        saved = await views.get_view(session, view_id=query.view, user_id=desk.user_id)
        stored = views.mention_filter(saved.filters, user_id=desk.user_id)
        filters = stored.narrowed_by(filters)
    if not filters.status and query.status != "all":
        filters.status = list(OPEN_QUEUE)
    return filters


# ---- how a row reads ------------------------------------------------------------------------


_WORD = re.compile(r"\w+")
_TERM = re.compile(r'-?"[^"]*"?|\S+')


@lru_cache(maxsize=4096)
def _forms(word: str) -> frozenset[str]:
    """A word as written (lower case) and its English and Dutch stems."""
    lower = word.lower()
    return frozenset({lower, *(stems(lower, lang) for lang in STEMMED_LANGUAGES)}) - {""}


def search_terms(search: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The forms a search looks for, and its prefixes (`fiets*`); excluded words are left out."""
    forms: set[str] = set()
    prefixes: list[str] = []
    for token in _TERM.findall(search):
        if token == "OR" or token.startswith("-"):
            continue
        prefix = token.endswith("*") and not token.startswith('"')
        for word in _WORD.findall(token):
            forms |= _forms(word)
        if prefix:
            words = _WORD.findall(token)
            if words:
                prefixes.append(words[-1].lower())
    return frozenset(forms), tuple(prefixes)


def highlight(text: str, search: str, *, limit: int = SNIPPET_LIMIT) -> Markup:
    """A snippet of `text` around the first match of `search`, escaped, matches in <mark>."""
    forms, prefixes = search_terms(search)
    spans = [
        (m.start(), m.end())
        for m in _WORD.finditer(text)
        if _forms(m.group()) & forms or m.group().lower().startswith(prefixes or ("\0",))
    ]
    start = 0
    if spans and spans[0][0] > limit // 3:
        start = text.rfind(" ", 0, spans[0][0] - limit // 4) + 1
    end = min(len(text), start + limit)
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    parts: list[str] = ["…" if start > 0 else ""]
    position = start
    for begin, finish in spans:
        if begin < start or finish > end:
            continue
        parts.append(str(escape(text[position:begin])))
        parts.append(f"<mark>{escape(text[begin:finish])}</mark>")
        position = finish
    parts.append(str(escape(text[position:end])))
    parts.append("…" if end < len(text) else "")
    return Markup("".join(parts))


def shorten(text: str, limit: int = TEXT_LIMIT) -> str:
    """The text cut at a word boundary near `limit` characters."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + "…"


def duration(desk: Desk, delta: timedelta) -> str:
    """12 min, 3 h, 2 d: how people read a wait."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return desk.t("queue.unit.min", n=max(minutes, 1))
    if minutes < 48 * 60:
        return desk.t("queue.unit.h", n=minutes // 60)
    return desk.t("queue.unit.d", n=minutes // (24 * 60))


@dataclass
class RowView:
    """One queue row as the template shows it."""

    id: int
    text: str
    snippet: Markup | None
    author: str
    handle: str | None
    platform: str
    source: str
    language: str | None
    status: str
    version: int
    priority: int
    band: str | None
    reason: str | None
    sentiment: str | None
    intents: list[str]
    topics: list[str]
    tags: list[str]
    sla_text: str | None
    sla_class: str
    claimed_by: str | None
    claimed_by_me: bool
    waiting: bool
    created_at: datetime
    url: str | None
    extra: dict[str, Any] = field(default_factory=dict)


async def _topics_for(session: AsyncSession, mention_ids: list[int]) -> dict[int, list[str]]:
    if not mention_ids:
        return {}
    rows = await session.execute(
        select(MentionTopic.mention_id, Topic.name)
        .join(Topic, Topic.id == MentionTopic.topic_id)
        .where(MentionTopic.mention_id.in_(mention_ids))
        .order_by(Topic.name)
    )
    found: dict[int, list[str]] = {}
    for mention_id, name in rows:
        found.setdefault(mention_id, []).append(name)
    return found


async def _names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(User.id, User.display_name, User.username).where(User.id.in_(user_ids))
    )
    return {uid: display or username for uid, display, username in rows}


async def row_views(
    session: AsyncSession, desk: Desk, rows: list[QueueRow], *, search: str | None
) -> list[RowView]:
    """The rows as the page shows them: topics, claim holders and SLA countdowns added."""
    now = utcnow()
    ids = [r.mention.id for r in rows]
    topics = await _topics_for(session, ids)
    holders = {
        r.item.claimed_by for r in rows if r.item.claimed_by is not None and _claimed(r.item, now)
    }
    names = await _names(session, holders)
    out = []
    for r in rows:
        m, item = r.mention, r.item
        explain = item.priority_explain if isinstance(item.priority_explain, dict) else {}
        state = sla_state(item, now)
        sla_text, sla_class = None, ""
        due = item.due_at
        if due is not None and due.tzinfo is None:
            due = due.replace(tzinfo=now.tzinfo)
        if state == "breached" and due is not None:
            sla_text, sla_class = (
                desk.t("queue.sla.late", time=duration(desk, now - due)),
                "sla-late",
            )
        elif state == "on_track" and due is not None:
            sla_text = desk.t("queue.sla.left", time=duration(desk, due - now))
            sla_class = "sla-soon" if due - now <= SLA_SOON else ""
        holder = item.claimed_by if _claimed(item, now) else None
        author = r.author
        out.append(
            RowView(
                id=m.id,
                text=(
                    desk.t("queue.erased")
                    if m.external_id.startswith(ERASED_PREFIX)
                    else shorten(m.text or "")
                ),
                snippet=highlight(m.text or "", search) if search else None,
                author=(author.display_name or author.handle or "") if author else "",
                handle=author.handle if author else None,
                platform=m.platform,
                source=r.source_name,
                language=m.language,
                status=item.status,
                version=item.version,
                priority=item.priority,
                band=explain.get("band"),
                reason=explain.get("reason"),
                sentiment=m.sentiment_label,
                intents=list(m.intents or []),
                topics=topics.get(m.id, []),
                tags=list(r.tags),
                sla_text=sla_text,
                sla_class=sla_class,
                claimed_by=names.get(holder) if holder is not None else None,
                claimed_by_me=holder == desk.user_id,
                waiting=item.status in OPEN_QUEUE,
                created_at=m.created_at,
                url=m.url,
            )
        )
    return out


def _claimed(item: QueueItem, now: datetime) -> bool:
    return workflow.claim_is_live(item, now)


async def one_row(session: AsyncSession, mention_id: int) -> QueueRow:
    """One mention as a queue row, whatever its status (404 when it does not exist)."""
    found = (
        await session.execute(
            select(Mention, QueueItem, Author, Source.name)
            .join(QueueItem, QueueItem.mention_id == Mention.id)
            .join(Source, Source.id == Mention.source_id)
            .outerjoin(Author, Author.id == Mention.author_id)
            .where(Mention.id == mention_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if found is None:
        raise NotFound(f"mention {mention_id} does not exist")
    mention, item, author, source_name = found
    tags = await tags_for(session, mention_ids=[mention_id])
    return QueueRow(mention, item, author, source_name, tags.get(mention_id, ()))


# ---- reading --------------------------------------------------------------------------------


async def _choices(session: AsyncSession, query: QueueQuery) -> dict[str, list[str]]:
    """What the filter menus offer: the platforms of the sources (a source's kind is its
    platform), the topics of the taxonomy and the languages the desk speaks (read from small
    tables only: the page must stay fast with a million mentions)."""
    kinds = (await session.execute(select(Source.kind).distinct())).scalars()
    topics = (await session.execute(select(Topic.name).order_by(Topic.name))).scalars()
    return {
        "platforms": sorted({k for k in kinds if k} | ({query.platform} - {""})),
        "topics": list(topics),
        "languages": sorted({"en", "nl"} | ({query.language} - {""})),
    }


async def _assignees(session: AsyncSession) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(User.id, User.display_name, User.username)
        .where(User.is_active.is_(True), User.role.in_([Role.MODERATOR.value, Role.ADMIN.value]))
        .order_by(User.username)
    )
    return [(uid, display or username) for uid, display, username in rows]


async def _page_rows(
    session: AsyncSession, desk: Desk, query: QueueQuery, cursor: str | None
) -> tuple[list[RowView], str | None, MentionFilter]:
    settings = desk.request.app.state.settings
    filters = await queue_filter(session, desk, query)
    rows, next_cursor = await list_mentions(
        session,
        filters=filters,
        sort="priority",
        limit=min(settings.page_size_default, settings.page_size_max),
        cursor=cursor,
    )
    return await row_views(session, desk, rows, search=filters.search), next_cursor, filters


def _bad_filter(desk: Desk, exc: BadFilter) -> HTMLResponse:
    return error_page(desk, desk.request, status=422, message=desk.t(exc.key, **exc.params))


@router.get("/queue")
async def queue_page(desk: DeskDep, session: SessionDep) -> HTMLResponse:
    """The open queue, highest priority first."""
    try:
        query = QueueQuery.of(desk.request)
        rows, next_cursor, filters = await _page_rows(session, desk, query, None)
    except BadFilter as exc:
        return _bad_filter(desk, exc)
    except NotFound:
        return error_page(desk, desk.request, status=404, message=desk.t("queue.error.no_view"))
    except LuisterError as exc:  # a search the text index cannot read, and the like
        return error_page(desk, desk.request, status=exc.status, message=exc.detail or str(exc))
    saved = await views.list_views(session, user_id=desk.user_id)
    return render(
        desk,
        "queue/page.html",
        {
            "rows": rows,
            "next_cursor": next_cursor,
            "query": query,
            "search": filters.search,
            "choices": await _choices(session, query),
            "statuses": [s.value for s in Status],
            "intents": INTENTS,
            "sentiments": SENTIMENTS,
            "views": saved,
            "assignees": await _assignees(session) if desk.can_write else [],
        },
    )


@router.get("/queue/rows")
async def queue_rows(desk: DeskDep, session: SessionDep, cursor: str | None = None) -> HTMLResponse:
    """A page of rows (the first, or the one after `cursor`) for the list to swap in."""
    try:
        query = QueueQuery.of(desk.request)
        rows, next_cursor, _ = await _page_rows(session, desk, query, cursor)
    except BadFilter as exc:
        return _bad_filter(desk, exc)
    except BadCursor:
        return error_page(desk, desk.request, status=400, message=desk.t("queue.error.cursor"))
    except NotFound:
        return error_page(desk, desk.request, status=404, message=desk.t("queue.error.no_view"))
    except LuisterError as exc:
        return error_page(desk, desk.request, status=exc.status, message=exc.detail or str(exc))
    return render(
        desk, "queue/_rows.html", {"rows": rows, "next_cursor": next_cursor, "query": query}
    )


@router.get("/queue/row/{mention_id}")
async def queue_row(mention_id: IdPath, desk: DeskDep, session: SessionDep) -> HTMLResponse:
    """One row as it is now (the live refresh after a colleague's change)."""
    return await _row_response(session, desk, mention_id)


async def _row_response(
    session: AsyncSession,
    desk: Desk,
    mention_id: int,
    *,
    message: str | None = None,
    kind: str = "ok",
) -> HTMLResponse:
    try:
        row = await one_row(session, mention_id)
    except NotFound:
        return error_page(desk, desk.request, status=404, message=desk.t("error.not_found"))
    search = (desk.request.query_params.get("q") or "").strip() or None
    (view,) = await row_views(session, desk, [row], search=search)
    return render(desk, "queue/_row_result.html", {"row": view, "message": message, "kind": kind})


# ---- writing one item -----------------------------------------------------------------------


async def _rollback(session: AsyncSession, desk: Desk) -> None:
    """Drop a refused write; the signed-in person is read again for the answer's page."""
    await session.rollback()
    await session.refresh(desk.principal.user)


async def _changed_by(session: AsyncSession, desk: Desk, mention_id: int) -> str:
    """Who last changed the item (for "changed by Anna meanwhile")."""
    entry = (
        await session.execute(
            select(AuditEntry.actor_user_id, AuditEntry.actor)
            .where(AuditEntry.mention_id == mention_id)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    ).one_or_none()
    if entry is None:
        return desk.t("queue.someone")
    user_id, actor = entry
    if user_id is not None:
        names = await _names(session, {user_id})
        if user_id in names:
            return names[user_id]
    return actor or desk.t("queue.luister")


async def _refused(
    session: AsyncSession, desk: Desk, mention_id: int, exc: LuisterError
) -> HTMLResponse:
    """The row as it is now, and a toast saying why the write did not happen."""
    await _rollback(session, desk)
    if isinstance(exc, StaleVersion):
        who = await _changed_by(session, desk, mention_id)
        message = desk.t("queue.stale", who=who)
    elif isinstance(exc, ClaimedByOther):
        claim = exc.extra.get("claim") or {}
        holder_id = claim.get("user_id")
        names = await _names(session, {holder_id}) if isinstance(holder_id, int) else {}
        holder = names.get(holder_id) if isinstance(holder_id, int) else None
        message = desk.t("queue.claimed_by_other", who=holder or claim.get("username") or "?")
    elif isinstance(exc, IllegalTransition):
        message = desk.t("queue.illegal")
    elif isinstance(exc, NotFound):
        return error_page(desk, desk.request, status=404, message=desk.t("error.not_found"))
    else:
        message = exc.detail or str(exc)
    return await _row_response(session, desk, mention_id, message=message, kind="error")


@router.post("/queue/{mention_id}/claim")
async def claim(mention_id: IdPath, desk: WriterDesk, session: SessionDep) -> HTMLResponse:
    """Claim the item, or release it when it is already yours."""
    settings = desk.request.app.state.settings
    user = desk.principal.user
    try:
        current = await claims.current_claim(session, mention_id=mention_id)
        if current.user_id == user.id:
            await claims.release_claim(
                session, mention_id=mention_id, actor=user, actor_label=desk.label
            )
            message = desk.t("queue.released")
        else:
            await claims.claim_item(
                session,
                mention_id=mention_id,
                actor=user,
                actor_label=desk.label,
                minutes=settings.claim_minutes,
            )
            message = desk.t("queue.claimed", minutes=settings.claim_minutes)
        await session.commit()
    except LuisterError as exc:
        return await _refused(session, desk, mention_id, exc)
    return await _row_response(session, desk, mention_id, message=message)


@router.post("/queue/{mention_id}/status")
async def change_status(
    mention_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    action: Annotated[str, Form(max_length=16)],
    version: Annotated[int, Form(ge=1, le=MAX_DB_INT)],
) -> HTMLResponse:
    """Resolve, mark as spam or reopen the item at the version the row showed."""
    if action not in ROW_ACTIONS:
        return error_page(desk, desk.request, status=422, message=desk.t("queue.error.action"))
    user = desk.principal.user
    try:
        if action == "reopen":
            await workflow.reopen(
                session, mention_id=mention_id, version=version, actor=user, actor_label=desk.label
            )
        else:
            await workflow.change_status(
                session,
                mention_id=mention_id,
                status=Status.RESOLVED if action == "resolve" else Status.SPAM,
                version=version,
                actor=user,
                actor_label=desk.label,
            )
        await session.commit()
    except LuisterError as exc:
        return await _refused(session, desk, mention_id, exc)
    return await _row_response(session, desk, mention_id, message=desk.t(f"queue.done.{action}"))


def snooze_until(choice: str, now: datetime) -> datetime | None:
    """When a snooze choice ends: in an hour, tomorrow at 08:00 UTC, or (None) when the author
    writes again."""
    if choice == "hour":
        return now + timedelta(hours=1)
    if choice == "tomorrow":
        return datetime.combine(now.date() + timedelta(days=1), time(8, 0), tzinfo=now.tzinfo)
    return None


@router.post("/queue/{mention_id}/snooze")
async def snooze(
    mention_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    until: Annotated[str, Form(max_length=16)],
    version: Annotated[int, Form(ge=1, le=MAX_DB_INT)],
) -> HTMLResponse:
    """Put the item aside for an hour, until tomorrow, or until its author writes again."""
    if until not in SNOOZE_CHOICES:
        return error_page(desk, desk.request, status=422, message=desk.t("queue.error.snooze"))
    try:
        await workflow.snooze(
            session,
            mention_id=mention_id,
            version=version,
            actor=desk.principal.user,
            actor_label=desk.label,
            until=snooze_until(until, utcnow()),
            until_author_writes=until == "author",
        )
        await session.commit()
    except LuisterError as exc:
        return await _refused(session, desk, mention_id, exc)
    return await _row_response(
        session, desk, mention_id, message=desk.t(f"queue.done.snooze_{until}")
    )


# ---- bulk -----------------------------------------------------------------------------------


def _bulk_toast(
    desk: Desk, message: str, *, kind: str = "ok", undo_url: str | None = None
) -> HTMLResponse:
    response = render(desk, "_toast.html", {"message": message, "kind": kind, "undo_url": undo_url})
    response.headers["HX-Retarget"] = "#toasts"
    response.headers["HX-Reswap"] = "beforeend"
    return response


async def _run(desk: Desk, session: AsyncSession, job_id: int, total: int) -> bool:
    """Run a committed bulk job now when it is small (True), else hand it to the runner."""
    runner = desk.request.app.state.triage
    if total <= runner.settings.bulk_inline_limit:
        await runner.run_now(job_id)
        return True
    await runner.submit(job_id)
    return False


@router.post("/queue/bulk")
async def bulk_action(
    desk: WriterDesk,
    session: SessionDep,
    action: Annotated[str, Form(max_length=16)],
    ids: Annotated[list[int] | None, Form()] = None,
    assignee_id: Annotated[str, Form(max_length=12)] = "",
    tag: Annotated[str, Form(max_length=50)] = "",
) -> HTMLResponse:
    """One action on the selected rows, with an undo toast."""
    if action not in BULK_ACTIONS:
        return _bulk_toast(desk, desk.t("queue.error.action"), kind="error")
    if not ids:
        return _bulk_toast(desk, desk.t("queue.bulk.none"), kind="error")
    if not all(is_db_int(i, minimum=1) for i in ids):
        return _bulk_toast(desk, desk.t("queue.bulk.bad_ids"), kind="error")
    if action == "tag" and not tag.strip():
        return _bulk_toast(desk, desk.t("queue.bulk.need_tag"), kind="error")
    if (
        action == "assign"
        and assignee_id
        and not (assignee_id.isdigit() and is_db_int(int(assignee_id), minimum=1))
    ):
        return _bulk_toast(desk, desk.t("queue.bulk.need_assignee"), kind="error")
    params = {
        "resolve": BulkParams(action="status", status=Status.RESOLVED),
        "spam": BulkParams(action="spam"),
        "assign": BulkParams(
            action="assign", assignee_id=int(assignee_id) if assignee_id else None
        ),
        "tag": BulkParams(action="tag", tags=(tag.strip(),)),
    }[action]
    try:
        job = await bulk.request_bulk(
            session,
            params=params,
            ids=ids,
            filters=None,
            selection={"ids": len(ids), "via": "desk"},
            actor=desk.principal.user,
            actor_label=desk.label,
        )
        await session.commit()
    except LuisterError as exc:
        await _rollback(session, desk)
        return _bulk_toast(desk, exc.detail or str(exc), kind="error")
    finished = await _run(desk, session, job.id, job.total)
    job = await bulk.get_job(session, job_id=job.id)
    if not finished:
        message = desk.t("queue.bulk.started", total=job.total)
    else:
        message = desk.t(f"queue.bulk.done.{action}", applied=job.applied, skipped=job.skipped)
    response = _bulk_toast(desk, message, undo_url=f"/queue/bulk/{job.id}/undo")
    response.headers["HX-Trigger"] = "queue-refresh"
    return response


@router.post("/queue/bulk/{job_id}/undo")
async def bulk_undo(job_id: IdPath, desk: WriterDesk, session: SessionDep) -> HTMLResponse:
    """Put back every item of the bulk action that nobody has changed since."""
    try:
        job = await bulk.request_undo(
            session,
            job_id=job_id,
            actor=desk.principal.user,
            actor_label=desk.label,
            now=utcnow(),
        )
        await session.commit()
    except LuisterError as exc:
        await _rollback(session, desk)
        return render(desk, "_toast.html", {"message": exc.detail or str(exc), "kind": "error"})
    finished = await _run(desk, session, job.id, job.total)
    job = await bulk.get_job(session, job_id=job.id)
    if finished:
        message = desk.t("queue.bulk.undone", applied=job.applied, skipped=job.skipped)
    else:
        message = desk.t("queue.bulk.undo_started", total=job.total)
    response = render(desk, "_toast.html", {"message": message, "kind": "ok"})
    response.headers["HX-Trigger"] = "queue-refresh"
    return response


# ---- saved views ----------------------------------------------------------------------------


@router.post("/queue/views")
async def save_view(
    desk: DeskDep,
    session: SessionDep,
    name: Annotated[str, Form(max_length=100)],
    status: Annotated[str, Form(max_length=16)] = "",
    intent: Annotated[str, Form(max_length=32)] = "",
    sentiment: Annotated[str, Form(max_length=16)] = "",
    platform: Annotated[str, Form(max_length=32)] = "",
    topic: Annotated[str, Form(max_length=100)] = "",
    language: Annotated[str, Form(max_length=16)] = "",
    q: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Keep the current filters as a named view of your own."""
    if not name.strip():
        return error_page(desk, desk.request, status=422, message=desk.t("queue.views.need_name"))
    values: dict[str, Any] = {
        "platform": platform or None,
        "language": language or None,
        "sentiment": sentiment or None,
        "intent": intent or None,
        "topic": topic or None,
        "search": q or None,
    }
    if status and status != "all":
        values["status"] = [status]
    elif status != "all":
        values["status"] = list(OPEN_QUEUE)
    try:
        filters = FilterIn.model_validate(values)
    except ValidationError:
        return error_page(desk, desk.request, status=422, message=desk.t("queue.views.bad"))
    try:
        view = await views.create_view(
            session,
            owner=desk.principal.user,
            name=name.strip(),
            filters=filters.stored(),
            sort="priority",
            shared=False,
        )
        await session.commit()
    except LuisterError as exc:
        await _rollback(session, desk)
        return error_page(desk, desk.request, status=exc.status, message=exc.detail or str(exc))
    return RedirectResponse(f"/queue?view={view.id}", status_code=303)
