"""Replying and appreciating, on the conversation page (`#reply`, `#appreciate`).

A reply starts from a template (its `{{author_name}}` and friends filled from the mention) or
from nothing; a counter shows how much of the platform's limit it uses, in graphemes (what
people see as characters, `\\X`), here and, as you type, in the browser (Intl.Segmenter).
Preview shows the text as it will go, with the placeholders still to fill. Send goes through the
outbox exactly as the API does: a colleague approves first when the team requires it, then the
undo window opens ("Sending in 10 s — Undo") and the reply leaves when it closes; the list of
replies follows it to sent or failed live. Likes and boosts go through the outbox's
appreciation service and can be taken back.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Form, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.desk.render import environment, error_page, render, toast
from api.desk.screens.common import desk_router
from api.desk.session import Desk, DeskDep, WriterDesk
from connectors.base import WriteAction
from connectors.registry import UnknownKind, get_connector
from connectors.writes import grapheme_count
from listener.errors import LuisterError
from listener.models import Mention, OutboxMessage, OutboxStatus, Source, User, utcnow
from listener.rest.deps import HttpClientDep, SessionDep, SettingsDep
from listener.rest.params import IdPath
from listener.settings import Settings
from moderation.outbox import appreciation
from moderation.outbox import reply_templates as templates
from moderation.outbox import service as outbox
from moderation.outbox.sending import schedule_checked
from moderation.queue.errors import NotFound
from moderation.queue.listing import MentionDetail

router = desk_router()

#: How much text each platform takes in one reply (Mastodon: the instance may say otherwise).
PLATFORM_LIMITS = {
    "mastodon": 500,
    "bluesky": 300,
    "lemmy": 10_000,
    "reddit": 10_000,
    "discourse": 32_000,
    "stackexchange": 30_000,
}
#: The rows worth showing under the reply box (a cancelled one is gone for good).
SHOWN = [s.value for s in OutboxStatus if s is not OutboxStatus.CANCELLED]

Body = Annotated[str, Form(max_length=100_000)]
Version = Annotated[int, Form(ge=1, le=2**31 - 1)]


def safe_url(url: str | None) -> str | None:
    """A link from a platform, if it is plain http(s); anything else (`javascript:`) is dropped."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


def platform_limit(source: Source | None, platform: str) -> int | None:
    """How many characters a reply may have on this source (None: no limit we know)."""
    if source is not None and platform == "mastodon":
        configured = (source.config or {}).get("max_characters")
        if isinstance(configured, int) and configured > 0:
            return configured
    return PLATFORM_LIMITS.get(platform)


def can_write(source: Source | None, action: WriteAction) -> bool:
    """Whether the source's platform offers `action` through its API at all."""
    if source is None:
        return False
    try:
        connector = get_connector(source.kind)
    except UnknownKind:
        return False
    return action in getattr(connector, "write_actions", frozenset())


def counter(text: str, limit: int | None) -> dict[str, Any]:
    """The grapheme count of `text` against the limit."""
    used = grapheme_count(text)
    return {"used": used, "limit": limit, "over": limit is not None and used > limit}


def _fragment(desk: Desk, template: str, context: dict[str, Any]) -> str:
    def t(key: str, /, **params: Any) -> str:
        return desk.t(key, **params)

    return (
        environment()
        .get_template(template)
        .render({"desk": desk, "request": desk.request, "lang": desk.lang, "t": t} | context)
    )


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in rows}


async def outbox_context(
    session: AsyncSession, desk: Desk, settings: Settings, mention_id: int
) -> dict[str, Any]:
    """The replies to a mention that are not cancelled, newest first.

    `stamp` (taken before reading) lets the page refuse an answer older than the panel it
    shows: a refresh read before an undo committed must not put the countdown back.
    """
    # End any read transaction first (SQLite's WAL snapshot starts at the request's first read,
    # e.g. the sign-in check): the rows must be read after the stamp, not before it.
    await session.commit()
    stamp = time.time_ns()
    rows = await outbox.list_outbox(session, mention_id=mention_id, status=SHOWN)
    names = await _names(
        session, {i for r in rows for i in (r.created_by_id, r.approved_by_id) if i is not None}
    )
    return {
        "mention_id": mention_id,
        "stamp": stamp,
        "replies": rows,
        "names": names,
        "require_approval": settings.outbox_require_approval,
        "undo_seconds": settings.outbox_undo_seconds,
        "now": utcnow(),
        "safe_url": safe_url,
    }


async def _outbox_panel(
    session: AsyncSession, desk: Desk, settings: Settings, mention_id: int
) -> str:
    """The outbox panel as an answer: swapped in by its id (out of band), not into the element
    that asked. A live refresh can replace the panel while an action is in flight; the action's
    answer must still land in the panel on the page, not in the one that was taken away."""
    context = await outbox_context(session, desk, settings, mention_id)
    return _fragment(desk, "reply/_outbox.html", context | {"panel_oob": True})


async def appreciate_context(session: AsyncSession, mention: Mention) -> dict[str, Any]:
    """The likes and boosts given to a mention, and which the platform offers."""
    source = await session.get(Source, mention.source_id)
    rows = await appreciation.list_appreciations(session, mention_id=mention.id)
    standing = {r.action for r in rows if r.undone_at is None}
    offered = [
        a.value
        for a in (WriteAction.LIKE, WriteAction.BOOST)
        if can_write(source, a) and a.value not in standing
    ]
    return {
        "mention_id": mention.id,
        "appreciations": [r for r in rows if r.undone_at is None],
        "offered": offered,
        "appreciation_possible": can_write(source, WriteAction.LIKE)
        or can_write(source, WriteAction.BOOST),
    }


async def reply_context(
    session: AsyncSession, desk: Desk, settings: Settings, detail: MentionDetail
) -> dict[str, Any]:
    """What the reply and appreciate panels need."""
    mention = detail.row.mention
    source = await session.get(Source, mention.source_id)
    limit = platform_limit(source, mention.platform)
    context: dict[str, Any] = {
        "templates": await templates.suggest(session, mention_id=mention.id, limit=10),
        "limit": limit,
        "count": counter("", limit),
        "reply_text": "",
        "reply_possible": can_write(source, WriteAction.REPLY),
        "platform": mention.platform,
    }
    context |= await outbox_context(session, desk, settings, mention.id)
    context |= await appreciate_context(session, mention)
    return context


async def _mention(session: AsyncSession, mention_id: int) -> tuple[Mention, Source | None]:
    mention = await session.get(Mention, mention_id)
    if mention is None:
        raise NotFound(f"mention {mention_id} does not exist")
    return mention, await session.get(Source, mention.source_id)


async def undo_changes(session: AsyncSession, desk: Desk) -> None:
    """Roll the failed write back, keeping the signed-in person usable for the answer."""
    await session.rollback()
    await session.refresh(desk.principal.user)


def _problem(desk: Desk, exc: LuisterError) -> HTMLResponse:
    """The domain's own words for why nothing went out (e.g. the source has no credentials)."""
    status = exc.status if 400 <= exc.status < 500 else 409
    return toast(desk, exc.detail or exc.title, status=status)


# -- the reply box --------------------------------------------------------------------------------


@router.get("/reply/{mention_id}/template")
async def use_template(
    mention_id: IdPath,
    desk: DeskDep,
    session: SessionDep,
    template: Annotated[str | None, Query(max_length=12)] = None,
) -> HTMLResponse:
    """The reply box filled from a template for this mention (its author's name, topic...)."""
    template_id = int(template) if template and template.isdigit() else None
    if template_id is not None and not 0 < template_id < 2**31:
        template_id = None
    try:
        mention, source = await _mention(session, mention_id)
        text = ""
        if template_id is not None:
            text = (
                await templates.render(session, template_id=template_id, mention_id=mention_id)
            ).text
    except NotFound:
        return error_page(desk, desk.request, status=404, message=desk.t("error.not_found"))
    limit = platform_limit(source, mention.platform)
    return render(
        desk,
        "reply/_box.html",
        {
            "mention_id": mention_id,
            "reply_text": text,
            "template_id": template_id,
            "limit": limit,
            "count": counter(text, limit),
        },
    )


@router.post("/reply/{mention_id}/preview")
async def preview(
    mention_id: IdPath, desk: DeskDep, session: SessionDep, body: Body = ""
) -> HTMLResponse:
    """The reply as it will read, its length against the limit, and what is still to fill."""
    try:
        mention, source = await _mention(session, mention_id)
    except NotFound:
        return error_page(desk, desk.request, status=404, message=desk.t("error.not_found"))
    limit = platform_limit(source, mention.platform)
    return render(
        desk,
        "reply/_preview.html",
        {
            "text": body,
            "count": counter(body, limit),
            "unfilled": templates.unfilled_placeholders(body),
        },
    )


@router.post("/reply/{mention_id}")
async def send(
    mention_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    settings: SettingsDep,
    client: HttpClientDep,
    body: Body,
    template_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    """Send a reply: a draft for approval when the team requires one, else the undo window."""
    text = body.strip()
    if not text:
        return toast(desk, desk.t("reply.empty"), status=422)
    try:
        if template_id is not None:  # before the row: an unknown template is a clear 404
            await templates.count_use(session, template_id=template_id)
        row = await outbox.create_reply(
            session,
            mention_id=mention_id,
            body=text,
            actor=desk.principal.user,
            actor_label=desk.label,
            template_id=template_id,
        )
        if settings.outbox_require_approval:
            message = desk.t("reply.awaiting_approval")
        else:
            row = await schedule_checked(
                session,
                row=row,
                version=row.version,
                actor=desk.principal.user,
                actor_label=desk.label,
                settings=settings,
                client=client,
            )
            message = desk.t("reply.scheduled", seconds=settings.outbox_undo_seconds)
    except LuisterError as exc:
        await undo_changes(session, desk)
        return _problem(desk, exc)
    await session.commit()
    html = await _outbox_panel(session, desk, settings, mention_id)
    html += _fragment(desk, "conversation/_oob_toast.html", {"message": message, "kind": "ok"})
    mention, source = await _mention(session, mention_id)
    limit = platform_limit(source, mention.platform)
    html += _fragment(
        desk,
        "reply/_box.html",
        {
            "mention_id": mention_id,
            "reply_text": "",
            "limit": limit,
            "count": counter("", limit),
            "oob": True,
        },
    )
    return HTMLResponse(html)


@router.get("/reply/{mention_id}/outbox")
async def outbox_fragment(
    mention_id: IdPath, desk: DeskDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The replies under the box (refreshed live as they leave or fail)."""
    return HTMLResponse(await _outbox_panel(session, desk, settings, mention_id))


async def _row_action(
    desk: Desk, session: AsyncSession, settings: Settings, reply_id: int, message_key: str, act: Any
) -> HTMLResponse:
    try:
        row = await act()
    except LuisterError as exc:
        await undo_changes(session, desk)
        return _problem(desk, exc)
    await session.commit()
    mention_id = row.mention_id
    if mention_id is None:
        return toast(desk, desk.t(message_key), kind="ok")
    html = await _outbox_panel(session, desk, settings, mention_id)
    html += _fragment(
        desk, "conversation/_oob_toast.html", {"message": desk.t(message_key), "kind": "ok"}
    )
    return HTMLResponse(html)


@router.post("/replies/{reply_id}/undo")
async def undo(
    reply_id: IdPath, desk: WriterDesk, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Take the reply back inside its undo window: it does not go out."""

    async def act() -> OutboxMessage:
        return await outbox.undo(
            session, outbox_id=reply_id, actor=desk.principal.user, actor_label=desk.label
        )

    return await _row_action(desk, session, settings, reply_id, "reply.undone", act)


@router.post("/replies/{reply_id}/cancel")
async def cancel(
    reply_id: IdPath, desk: WriterDesk, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Drop a reply that has not gone out."""

    async def act() -> OutboxMessage:
        return await outbox.cancel(
            session, outbox_id=reply_id, actor=desk.principal.user, actor_label=desk.label
        )

    return await _row_action(desk, session, settings, reply_id, "reply.cancelled", act)


@router.post("/replies/{reply_id}/approve")
async def approve(
    reply_id: IdPath, desk: WriterDesk, session: SessionDep, settings: SettingsDep, version: Version
) -> HTMLResponse:
    """Approve a colleague's reply (a second pair of eyes)."""

    async def act() -> OutboxMessage:
        return await outbox.approve(
            session,
            outbox_id=reply_id,
            version=version,
            actor=desk.principal.user,
            actor_label=desk.label,
        )

    return await _row_action(desk, session, settings, reply_id, "reply.approved", act)


@router.post("/replies/{reply_id}/send")
async def send_again(
    reply_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    settings: SettingsDep,
    client: HttpClientDep,
    version: Version,
) -> HTMLResponse:
    """Send a draft (or an approved reply): the undo window opens."""

    async def act() -> OutboxMessage:
        row = await outbox.get_outbox(session, outbox_id=reply_id)
        return await schedule_checked(
            session,
            row=row,
            version=version,
            actor=desk.principal.user,
            actor_label=desk.label,
            settings=settings,
            client=client,
        )

    return await _row_action(desk, session, settings, reply_id, "reply.sending", act)


@router.post("/replies/{reply_id}/retry")
async def retry(
    reply_id: IdPath, desk: WriterDesk, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Send a failed reply again now."""

    async def act() -> OutboxMessage:
        return await outbox.retry(
            session, outbox_id=reply_id, actor=desk.principal.user, actor_label=desk.label
        )

    return await _row_action(desk, session, settings, reply_id, "reply.retrying", act)


# -- appreciation ---------------------------------------------------------------------------------


@router.post("/reply/{mention_id}/appreciate")
async def appreciate(
    mention_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    settings: SettingsDep,
    client: HttpClientDep,
    action: Annotated[str, Form(max_length=10)],
) -> HTMLResponse:
    """Like or boost the mention on its platform."""
    if action not in (WriteAction.LIKE.value, WriteAction.BOOST.value):
        return toast(desk, desk.t("reply.appreciate_unknown"), status=422)
    try:
        row = await appreciation.appreciate(
            session,
            mention_id=mention_id,
            action=WriteAction(action),
            actor=desk.principal.user,
            actor_label=desk.label,
            settings=settings,
            client=client,
        )
    except LuisterError as exc:
        await undo_changes(session, desk)
        return _problem(desk, exc)
    await session.commit()
    return await _appreciate_panel(
        desk, session, mention_id, desk.t(f"reply.done_{action}"), undo_id=row.id
    )


@router.post("/appreciations/{appreciation_id}/undo")
async def undo_appreciation(
    appreciation_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    settings: SettingsDep,
    client: HttpClientDep,
) -> HTMLResponse:
    """Take a like or boost back."""
    try:
        row = await appreciation.undo_appreciation(
            session,
            appreciation_id=appreciation_id,
            actor=desk.principal.user,
            actor_label=desk.label,
            settings=settings,
            client=client,
        )
    except LuisterError as exc:
        await undo_changes(session, desk)
        return _problem(desk, exc)
    await session.commit()
    return await _appreciate_panel(
        desk, session, row.mention_id, desk.t("reply.appreciation_undone")
    )


async def _appreciate_panel(
    desk: Desk, session: AsyncSession, mention_id: int, message: str, undo_id: int | None = None
) -> HTMLResponse:
    mention = await session.get(Mention, mention_id)
    assert mention is not None
    html = _fragment(desk, "reply/_appreciate.html", await appreciate_context(session, mention))
    html += _fragment(
        desk,
        "conversation/_oob_toast.html",
        {
            "message": message,
            "kind": "ok",
            "undo_url": f"/appreciations/{undo_id}/undo" if undo_id is not None else None,
            "undo_target": "#appreciate",
        },
    )
    return HTMLResponse(html)
