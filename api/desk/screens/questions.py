"""The questions screen: ask the community, watch the answers arrive, read their summary.

`GET /questions` lists the team's questions with their answer and unread counts and a form to
ask one: a new post on a source, or a follow-up under a mention (`?mention_id=`), exactly as the
API's `POST /api/v1/questions` allows. `GET /questions/{id}` shows where it was posted, the
answers (refreshed live on `question.answered`) and their summary: how they feel, what they are
about, how many nobody has read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Query
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.desk.render import error_page, render, toast
from api.desk.screens.common import desk_router
from api.desk.screens.reply import can_write, safe_url, undo_changes
from api.desk.session import Desk, DeskDep, WriterDesk
from connectors.base import WriteAction
from connectors.writes import RuleViolation
from listener.errors import LuisterError
from listener.models import Mention, Source
from listener.rest.deps import HttpClientDep, SessionDep, SettingsDep
from listener.rest.params import IdPath
from listener.settings import Settings
from moderation.outbox import questions
from moderation.outbox.sending import schedule_checked, writer_and_config
from moderation.queue.errors import NotFound

router = desk_router()

SENTIMENT_ORDER = ("positive", "neutral", "negative", "unknown")


async def _postable_sources(session: AsyncSession, settings: Settings) -> list[dict[str, Any]]:
    """Sources whose platform takes new posts; those that can write now (credentials) first."""
    rows = (await session.execute(select(Source).order_by(Source.name))).scalars()
    found = []
    for source in rows:
        if not can_write(source, WriteAction.POST):
            continue
        try:
            writer_and_config(source, settings)
            ready = True
        except RuleViolation:
            ready = False
        found.append({"source": source, "ready": ready})
    return sorted(found, key=lambda s: not s["ready"])


async def list_context(
    session: AsyncSession, settings: Settings, mention_id: int | None = None
) -> dict[str, Any]:
    """The questions and the ask form."""
    mention = await session.get(Mention, mention_id) if mention_id else None
    return {
        "questions": await questions.list_questions(session),
        "sources": await _postable_sources(session, settings),
        "follow_up": mention,
    }


async def view_context(session: AsyncSession, question_id: int) -> dict[str, Any]:
    """One question with its answers and their summary."""
    view = await questions.question_view(session, question_id=question_id)
    source = await session.get(Source, view.question.source_id) if view.question.source_id else None
    total = len(view.answers)
    return {
        "view": view,
        "question": view.question,
        "source": source,
        "sentiment": [(label, view.sentiment.get(label, 0)) for label in SENTIMENT_ORDER],
        "total": total,
        "safe_url": safe_url,
    }


@router.get("/questions")
async def questions_page(
    desk: DeskDep,
    session: SessionDep,
    settings: SettingsDep,
    mention_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> HTMLResponse:
    """The team's questions, newest first, and a form to ask one."""
    context = await list_context(session, settings, mention_id)
    return render(desk, "questions/page.html", context | {"selected": None})


@router.get("/questions/{question_id}")
async def question_page(
    question_id: IdPath, desk: DeskDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """One question: where it was asked, the answers so far and their summary."""
    try:
        view = await view_context(session, question_id)
    except NotFound:
        return error_page(desk, desk.request, status=404, message=desk.t("error.not_found"))
    context = await list_context(session, settings)
    return render(desk, "questions/page.html", context | view | {"selected": question_id})


@router.get("/questions/{question_id}/answers")
async def answers_fragment(question_id: IdPath, desk: DeskDep, session: SessionDep) -> HTMLResponse:
    """The answers and their summary (refreshed live as answers arrive)."""
    try:
        view = await view_context(session, question_id)
    except NotFound:
        return error_page(desk, desk.request, status=404, message=desk.t("error.not_found"))
    return render(desk, "questions/_answers.html", view)


@router.post("/questions")
async def ask(
    desk: WriterDesk,
    session: SessionDep,
    settings: SettingsDep,
    client: HttpClientDep,
    body: Annotated[str, Form(max_length=20_000)],
    title: Annotated[str | None, Form(max_length=300)] = None,
    source_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    mention_id: Annotated[int | None, Form(ge=1, le=2**63 - 1)] = None,
) -> HTMLResponse:
    """Ask: a new post on a source, or a follow-up reply under a mention."""
    if not body.strip():
        return toast(desk, desk.t("questions.empty"), status=422)
    if (source_id is None) == (mention_id is None):
        return toast(desk, desk.t("questions.pick_target"), status=422)
    try:
        question, row = await questions.ask(
            session,
            body=body.strip(),
            title=(title or "").strip() or None,
            source_id=source_id,
            mention_id=mention_id,
            actor=desk.principal.user,
            actor_label=desk.label,
            settings=settings,
        )
        if not settings.outbox_require_approval:
            await _schedule(session, desk, settings, client, row)
    except LuisterError as exc:
        await undo_changes(session, desk)
        status = exc.status if 400 <= exc.status < 500 else 409
        return toast(desk, exc.detail or exc.title, status=status)
    await session.commit()
    return HTMLResponse("", headers={"HX-Location": f"/questions/{question.id}"})


async def _schedule(
    session: AsyncSession, desk: Desk, settings: Settings, client: Any, row: Any
) -> None:
    await schedule_checked(
        session,
        row=row,
        version=row.version,
        actor=desk.principal.user,
        actor_label=desk.label,
        settings=settings,
        client=client,
    )


@router.post("/questions/{question_id}/read")
async def mark_read(question_id: IdPath, desk: WriterDesk, session: SessionDep) -> HTMLResponse:
    """Mark every answer read."""
    try:
        await questions.mark_read(
            session, question_id=question_id, actor=desk.principal.user, actor_label=desk.label
        )
    except NotFound:
        return toast(desk, desk.t("error.not_found"), status=404)
    await session.commit()
    return render(desk, "questions/_answers.html", await view_context(session, question_id))


@router.post("/questions/{question_id}/close")
async def close(question_id: IdPath, desk: WriterDesk, session: SessionDep) -> HTMLResponse:
    """Stop collecting answers."""
    try:
        await questions.close_question(
            session, question_id=question_id, actor=desk.principal.user, actor_label=desk.label
        )
    except NotFound:
        return toast(desk, desk.t("error.not_found"), status=404)
    await session.commit()
    return HTMLResponse("", headers={"HX-Location": f"/questions/{question_id}"})
