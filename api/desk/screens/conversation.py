"""The conversation screen: one mention in its thread, who wrote it, and everything to do about it.

`GET /mentions/{id}` shows the thread with the mention highlighted, the author across
platforms (with link suggestions), notes with @mentions, tags, the tagger's sentiment, intents
and topics (each one key away from a correction), who else is viewing and who holds the claim,
and the reply and appreciate panels (`api.desk.screens.reply`). Every write answers with the
part of the page it changed (and the item's state, out of band, since writes bump the item's
version); an expected refusal (stale version, someone else's claim) answers with a toast.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Form
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.desk.render import environment, error_page, render, toast
from api.desk.screens import reply as reply_screen
from api.desk.screens.common import desk_router
from api.desk.session import Desk, DeskDep, WriterDesk
from listener.errors import LuisterError
from listener.models import Author, Mention, Status, User, utcnow
from listener.nlp import corrections, topics_store
from listener.nlp.labels import INTENTS
from listener.rest.deps import SessionDep, SettingsDep
from listener.rest.params import IdPath
from listener.settings import Settings
from moderation.outbox import service as outbox
from moderation.queue import authors, claims, presence, tags, workflow
from moderation.queue.errors import ClaimedByOther, NotFound, StaleVersion
from moderation.queue.listing import MentionDetail, get_mention_detail

router = desk_router()

SENTIMENTS = ("positive", "neutral", "negative")
#: Snooze choices offered on the page: hours, or 0 for "until the author writes again".
SNOOZE_HOURS = (1, 4, 24, 0)
# Same shape as moderation.queue.notes: @name, names may hold dots, @ and dashes.
_AT_NAME = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9._@-]{1,99})")

Text = Annotated[str, Form(max_length=10_000)]
Version = Annotated[int, Form(ge=1, le=2**31 - 1)]


@dataclass(frozen=True)
class NotePart:
    """A piece of a note's text: plain, or an @name of a colleague."""

    text: str
    at: bool = False


def note_parts(body: str, known: set[str]) -> list[NotePart]:
    """A note split so the template can highlight the @names of staff (escaped like any text)."""
    parts: list[NotePart] = []
    last = 0
    for match in _AT_NAME.finditer(body):
        name = match.group(1).rstrip(".-@")
        if name.lower() not in known:
            continue
        start, end = match.start(), match.start() + 1 + len(name)
        if start > last:
            parts.append(NotePart(body[last:start]))
        parts.append(NotePart(body[start:end], at=True))
        last = end
    if last < len(body):
        parts.append(NotePart(body[last:]))
    return parts


async def _usernames(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in rows}


async def _detail(session: AsyncSession, mention_id: int) -> MentionDetail | None:
    try:
        return await get_mention_detail(session, mention_id=mention_id)
    except NotFound:
        return None


async def state_context(
    session: AsyncSession, desk: Desk, settings: Settings, mention_id: int
) -> dict[str, Any]:
    """The item's status, version, claim and viewers."""
    item = await workflow.get_queue_item(session, mention_id=mention_id)
    claim = await claims.current_claim(session, mention_id=mention_id)
    viewers = await presence.viewers(
        session, mention_id=mention_id, ttl_seconds=settings.presence_ttl_seconds
    )
    return {
        "mention_id": mention_id,
        "item": item,
        "claim": claim,
        "claim_mine": claim.user_id == desk.user_id,
        "others": [v for v in viewers if v.user_id != desk.user_id],
        "snooze_hours": SNOOZE_HOURS,
    }


async def notes_context(session: AsyncSession, detail: MentionDetail) -> dict[str, Any]:
    writers = await _usernames(session, {n.author_id for n in detail.notes if n.author_id})
    known = {
        name.lower()
        for name in (await session.execute(select(User.username).where(User.is_active))).scalars()
    }
    return {
        "mention_id": detail.row.mention.id,
        "notes": [
            {"note": n, "writer": writers.get(n.author_id or 0), "parts": note_parts(n.body, known)}
            for n in detail.notes
        ],
    }


async def tagging_context(session: AsyncSession, detail: MentionDetail) -> dict[str, Any]:
    mention = detail.row.mention
    all_topics = [t.name for t in await topics_store.list_topics(session)]
    return {
        "mention_id": mention.id,
        "mention": mention,
        "tags": list(detail.row.tags),
        "known_tags": [name for name, _ in await tags.tag_counts(session)][:200],
        "topics": [t.name for t, _ in detail.topics],
        "all_topics": all_topics,
        "sentiments": SENTIMENTS,
        "intents": INTENTS,
    }


async def author_context(session: AsyncSession, detail: MentionDetail) -> dict[str, Any]:
    author = detail.row.author
    if author is None:
        return {"author": None, "mention_id": detail.row.mention.id}
    profile = await authors.author_profile(session, author_id=author.id)
    group = {a.id for a in profile.identities}
    earlier = list(
        (
            await session.execute(
                select(Mention)
                .where(Mention.author_id.in_(group), Mention.id != detail.row.mention.id)
                .order_by(Mention.created_at.desc(), Mention.id.desc())
                .limit(10)
            )
        ).scalars()
    )
    return {
        "mention_id": detail.row.mention.id,
        "author": author,
        "profile": profile,
        "earlier": earlier,
        "suggestions": await authors.link_suggestions(session, author=author, group=group),
        "safe_url": reply_screen.safe_url,
    }


async def thread_context(session: AsyncSession, detail: MentionDetail) -> dict[str, Any]:
    """The thread in time order: other mentions, this one, and our replies that went out."""
    mention = detail.row.mention
    posts: list[dict[str, Any]] = []
    shown = {m.id for m in detail.thread}
    answers = (
        await session.execute(
            select(Mention)
            .where(
                Mention.source_id == mention.source_id,
                Mention.reply_to_external_id == mention.external_id,
                Mention.deleted_at_source.is_(None),
            )
            .order_by(Mention.created_at, Mention.id)
            .limit(100)
        )
    ).scalars()
    others = detail.thread + [m for m in answers if m.id not in shown and m.id != mention.id]
    author_ids = {m.author_id for m in others if m.author_id}
    found: list[Author] = (
        list((await session.execute(select(Author).where(Author.id.in_(author_ids)))).scalars())
        if author_ids
        else []
    )
    by_id = {a.id: a for a in found}
    for other in others:
        posts.append(
            {
                "kind": "mention",
                "mention": other,
                "author": by_id.get(other.author_id or 0),
                "at": other.created_at,
                "is_parent": other.external_id == mention.reply_to_external_id,
                "replies_to_this": other.reply_to_external_id == mention.external_id,
            }
        )
    posts.append(
        {"kind": "this", "mention": mention, "author": detail.row.author, "at": mention.created_at}
    )
    for row in await outbox.list_outbox(session, mention_id=mention.id, status=["sent"]):
        posts.append(
            {"kind": "ours", "reply": row, "at": row.sent_at or row.updated_at or row.created_at}
        )
    posts.sort(key=lambda p: p["at"])
    return {"posts": posts, "mention": mention, "safe_url": reply_screen.safe_url}


async def page_context(
    session: AsyncSession, desk: Desk, settings: Settings, detail: MentionDetail
) -> dict[str, Any]:
    mention_id = detail.row.mention.id
    context: dict[str, Any] = {
        "detail": detail,
        "mention": detail.row.mention,
        "mention_id": mention_id,
        "source_name": detail.row.source_name,
        "heartbeat_seconds": 10,
        "mention_author_name": (
            (detail.row.author.display_name or detail.row.author.handle)
            if detail.row.author
            else None
        ),
    }
    context |= await thread_context(session, detail)
    context |= await state_context(session, desk, settings, mention_id)
    context |= await notes_context(session, detail)
    context |= await tagging_context(session, detail)
    context |= await author_context(session, detail)
    context |= await reply_screen.reply_context(session, desk, settings, detail)
    return context


@router.get("/mentions/{mention_id}")
async def conversation_page(
    mention_id: IdPath, desk: DeskDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """One mention in its thread, with its author, notes, tags, tagger output and replies."""
    detail = await _detail(session, mention_id)
    if detail is None:
        return error_page(desk, desk.request, status=404, message=desk.t("error.not_found"))
    return render(
        desk, "conversation/page.html", await page_context(session, desk, settings, detail)
    )


def _fragment(desk: Desk, template: str, context: dict[str, Any]) -> str:
    env = environment()

    def t(key: str, /, **params: Any) -> str:
        return desk.t(key, **params)

    return env.get_template(template).render(
        {"desk": desk, "request": desk.request, "lang": desk.lang, "t": t} | context
    )


async def _with_state(
    session: AsyncSession,
    desk: Desk,
    settings: Settings,
    mention_id: int,
    main: str = "",
    *,
    message: str | None = None,
) -> HTMLResponse:
    """`main` (the changed part) with the item's state swapped in out of band (and a toast)."""
    state = await state_context(session, desk, settings, mention_id)
    html = main + _fragment(desk, "conversation/_state.html", state | {"oob": True})
    if message:
        html += _fragment(desk, "conversation/_oob_toast.html", {"message": message, "kind": "ok"})
    return HTMLResponse(html)


async def refusal(
    session: AsyncSession, desk: Desk, settings: Settings, mention_id: int, exc: LuisterError
) -> HTMLResponse:
    """A clear toast for an expected refusal, and the state as it is now (out of band)."""
    await reply_screen.undo_changes(session, desk)
    if isinstance(exc, StaleVersion):
        message = desk.t("conversation.stale")
    elif isinstance(exc, ClaimedByOther):
        claim = exc.extra.get("claim") or {}
        message = desk.t("conversation.claimed_by", name=claim.get("username") or "?")
    else:
        message = exc.detail or exc.title
    # A 200 so htmx swaps the toast in and the state out of band (an error status would not).
    try:
        state = await state_context(session, desk, settings, mention_id)
    except NotFound:
        return toast(desk, message, kind="error")
    html = _fragment(desk, "_toast.html", {"message": message, "kind": "error"})
    html += _fragment(desk, "conversation/_state.html", state | {"oob": True})
    return HTMLResponse(html, headers={"HX-Retarget": "#toasts", "HX-Reswap": "beforeend"})


async def _apply(
    session: AsyncSession,
    desk: Desk,
    settings: Settings,
    mention_id: int,
    change: Awaitable[object],
    *,
    done: str,
) -> HTMLResponse:
    """Make one change to the item: the new state and the `done` toast, or a clear refusal."""
    try:
        await change
    except LuisterError as exc:
        return await refusal(session, desk, settings, mention_id, exc)
    await session.commit()
    return await _with_state(session, desk, settings, mention_id, message=desk.t(done))


# -- the item's state: claim, resolve, snooze -----------------------------------------------------


@router.get("/conversation/{mention_id}/state")
async def state_fragment(
    mention_id: IdPath, desk: DeskDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Status, claim and viewers (refreshed live)."""
    try:
        state = await state_context(session, desk, settings, mention_id)
    except NotFound:
        return error_page(desk, desk.request, status=404, message=desk.t("error.not_found"))
    return render(desk, "conversation/_state.html", state)


@router.post("/conversation/{mention_id}/claim")
async def claim(
    mention_id: IdPath, desk: WriterDesk, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Claim the item (or renew your claim)."""
    return await _apply(
        session,
        desk,
        settings,
        mention_id,
        claims.claim_item(
            session,
            mention_id=mention_id,
            actor=desk.principal.user,
            actor_label=desk.label,
            minutes=settings.claim_minutes,
        ),
        done="conversation.claimed",
    )


@router.post("/conversation/{mention_id}/release")
async def release(
    mention_id: IdPath, desk: WriterDesk, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Let go of your claim."""
    return await _apply(
        session,
        desk,
        settings,
        mention_id,
        claims.release_claim(
            session, mention_id=mention_id, actor=desk.principal.user, actor_label=desk.label
        ),
        done="conversation.released",
    )


@router.post("/conversation/{mention_id}/resolve")
async def resolve(
    mention_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    settings: SettingsDep,
    version: Version,
) -> HTMLResponse:
    """Mark the item resolved."""
    return await _apply(
        session,
        desk,
        settings,
        mention_id,
        workflow.change_status(
            session,
            mention_id=mention_id,
            status=Status.RESOLVED,
            version=version,
            actor=desk.principal.user,
            actor_label=desk.label,
        ),
        done="conversation.resolved",
    )


@router.post("/conversation/{mention_id}/reopen")
async def reopen(
    mention_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    settings: SettingsDep,
    version: Version,
) -> HTMLResponse:
    """Bring the item back to open."""
    return await _apply(
        session,
        desk,
        settings,
        mention_id,
        workflow.reopen(
            session,
            mention_id=mention_id,
            version=version,
            actor=desk.principal.user,
            actor_label=desk.label,
        ),
        done="conversation.reopened",
    )


@router.post("/conversation/{mention_id}/snooze")
async def snooze(
    mention_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    settings: SettingsDep,
    version: Version,
    hours: Annotated[int, Form(ge=0, le=24 * 90)],
) -> HTMLResponse:
    """Snooze for some hours, or (0) until the author writes again."""
    return await _apply(
        session,
        desk,
        settings,
        mention_id,
        workflow.snooze(
            session,
            mention_id=mention_id,
            version=version,
            actor=desk.principal.user,
            actor_label=desk.label,
            until=utcnow() + timedelta(hours=hours) if hours else None,
            until_author_writes=hours == 0,
        ),
        done="conversation.snoozed",
    )


# -- presence -------------------------------------------------------------------------------------


@router.post("/conversation/{mention_id}/presence")
async def heartbeat(
    mention_id: IdPath, desk: DeskDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """I am viewing this item (repeated while the page is open); answers with who else is."""
    try:
        await presence.heartbeat(
            session,
            mention_id=mention_id,
            user_id=desk.user_id,
            ttl_seconds=settings.presence_ttl_seconds,
        )
    except NotFound:
        return error_page(desk, desk.request, status=404, message=desk.t("error.not_found"))
    await session.commit()
    state = await state_context(session, desk, settings, mention_id)
    return render(desk, "conversation/_viewers.html", state)


@router.get("/conversation/{mention_id}/viewers")
async def viewers(
    mention_id: IdPath, desk: DeskDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Who else is viewing (refreshed live)."""
    try:
        state = await state_context(session, desk, settings, mention_id)
    except NotFound:
        return error_page(desk, desk.request, status=404, message=desk.t("error.not_found"))
    return render(desk, "conversation/_viewers.html", state)


@router.post("/conversation/{mention_id}/leave")
async def leave(mention_id: IdPath, desk: DeskDep, session: SessionDep) -> HTMLResponse:
    """I closed the page."""
    await presence.leave(session, mention_id=mention_id, user_id=desk.user_id)
    await session.commit()
    return HTMLResponse("", status_code=204)


# -- notes, tags, corrections ---------------------------------------------------------------------


@router.post("/conversation/{mention_id}/notes")
async def add_note(
    mention_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    settings: SettingsDep,
    version: Version,
    body: Annotated[str, Form(min_length=1, max_length=10_000)],
) -> HTMLResponse:
    """Add an internal note (its @names call colleagues in)."""
    if not body.strip():
        return toast(desk, desk.t("conversation.note_empty"), status=422)
    try:
        await workflow.add_note(
            session,
            mention_id=mention_id,
            body=body.strip(),
            version=version,
            actor=desk.principal.user,
            actor_label=desk.label,
        )
    except LuisterError as exc:
        return await refusal(session, desk, settings, mention_id, exc)
    await session.commit()
    detail = await get_mention_detail(session, mention_id=mention_id)
    main = _fragment(desk, "conversation/_notes.html", await notes_context(session, detail))
    return await _with_state(session, desk, settings, mention_id, main)


@router.post("/conversation/{mention_id}/tags")
async def change_tags(
    mention_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    settings: SettingsDep,
    version: Version,
    add: Annotated[str | None, Form(max_length=200)] = None,
    remove: Annotated[str | None, Form(max_length=200)] = None,
) -> HTMLResponse:
    """Add a tag (several, comma-separated) or remove one."""
    adding = [t for t in (add or "").split(",") if t.strip()]
    removing = [remove] if remove and remove.strip() else []
    if not adding and not removing:
        return toast(desk, desk.t("conversation.tag_empty"), status=422)
    try:
        await tags.change_tags(
            session,
            mention_id=mention_id,
            add=adding,
            remove=removing,
            version=version,
            actor=desk.principal.user,
            actor_label=desk.label,
        )
    except LuisterError as exc:
        return await refusal(session, desk, settings, mention_id, exc)
    await session.commit()
    detail = await get_mention_detail(session, mention_id=mention_id)
    main = _fragment(desk, "conversation/_tagging.html", await tagging_context(session, detail))
    return await _with_state(session, desk, settings, mention_id, main)


@router.post("/conversation/{mention_id}/corrections")
async def correct(
    mention_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    settings: SettingsDep,
    field: Annotated[str, Form(max_length=20)],
    label: Annotated[str | None, Form(max_length=20)] = None,
    intents: Annotated[list[str] | None, Form(max_length=10)] = None,
    topics: Annotated[list[str] | None, Form(max_length=100)] = None,
) -> HTMLResponse:
    """Correct the tagger's sentiment, intents or topics (as the API does, through NLP)."""
    value: Any
    if field == "sentiment":
        value = label
    elif field == "intents":
        value = [i for i in intents or [] if i]
    elif field == "topics":
        value = [t for t in topics or [] if t]
    else:
        return toast(desk, desk.t("conversation.correct_field"), status=422)
    try:
        await corrections.correct_mention(
            session,
            mention_id=mention_id,
            field=field,
            value=value,
            user_id=desk.user_id,
            actor=desk.label,
        )
    except LuisterError as exc:
        return await refusal(session, desk, settings, mention_id, exc)
    await session.commit()
    detail = await get_mention_detail(session, mention_id=mention_id)
    main = _fragment(desk, "conversation/_tagging.html", await tagging_context(session, detail))
    return await _with_state(
        session, desk, settings, mention_id, main, message=desk.t("conversation.corrected")
    )


# -- the author -----------------------------------------------------------------------------------


@router.post("/conversation/{mention_id}/link")
async def link_author(
    mention_id: IdPath,
    desk: WriterDesk,
    session: SessionDep,
    settings: SettingsDep,
    other_id: Annotated[int, Form(ge=1, le=2**63 - 1)],
) -> HTMLResponse:
    """Link a suggested identity to the mention's author as the same person."""
    detail = await _detail(session, mention_id)
    if detail is None or detail.row.author is None:
        return toast(desk, desk.t("error.not_found"), status=404)
    try:
        await authors.link_authors(
            session, author_id=detail.row.author.id, other_id=other_id, actor=desk.principal.user
        )
    except LuisterError as exc:
        return await refusal(session, desk, settings, mention_id, exc)
    await session.commit()
    main = _fragment(desk, "conversation/_author.html", await author_context(session, detail))
    main += _fragment(
        desk,
        "conversation/_oob_toast.html",
        {"message": desk.t("conversation.linked"), "kind": "ok"},
    )
    return HTMLResponse(main)
