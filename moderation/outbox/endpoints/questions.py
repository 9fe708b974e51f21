"""Asking the community and hearing the answers."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, status

from listener.rest.deps import HttpClientDep, Reader, SessionDep, SettingsDep, Triager
from listener.rest.idempotency import IdempotencyDep, IdempotentRoute
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses
from moderation.outbox import questions
from moderation.outbox.schemas import (
    MarkedRead,
    MarkReadIn,
    QuestionCreated,
    QuestionIn,
    QuestionOut,
    QuestionSummary,
    QuestionViewOut,
    ReplyOut,
)
from moderation.outbox.sending import schedule_checked

router = APIRouter(prefix="/api/v1/questions", tags=["questions"], route_class=IdempotentRoute)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def ask_question(
    body: QuestionIn,
    session: SessionDep,
    settings: SettingsDep,
    principal: Triager,
    _: IdempotencyDep,
    client: HttpClientDep,
) -> QuestionCreated:
    """Post a question to a source (or as a follow-up under a mention) and collect answers.

    Send an `Idempotency-Key` to retry safely: the same key gets the first answer again and
    asks once.
    """
    question, row = await questions.ask(
        session,
        body=body.body,
        title=body.title,
        source_id=body.source_id,
        mention_id=body.mention_id,
        language=body.language,
        actor=principal.user,
        actor_label=principal.label,
        settings=settings,
    )
    if not settings.outbox_require_approval:
        # Otherwise the post waits as a draft for a colleague's approval, like any reply.
        row = await schedule_checked(
            session,
            row=row,
            version=row.version,
            actor=principal.user,
            actor_label=principal.label,
            settings=settings,
            client=client,
        )
    await session.commit()
    return QuestionCreated(question=QuestionOut.of(question), post=ReplyOut.of(row))


@router.get("", responses=problem_responses(401, 403))
async def list_questions(
    session: SessionDep, _: Reader, status_: Literal["open", "closed"] | None = None
) -> list[QuestionSummary]:
    """The team's questions, newest first, with answer and unread counts."""
    rows = await questions.list_questions(session, status=status_)
    return [
        QuestionSummary(**QuestionOut.of(q).model_dump(), answers=n, unread=u) for q, n, u in rows
    ]


@router.get("/{question_id}", responses=problem_responses(401, 403, 404))
async def get_question(question_id: IdPath, session: SessionDep, _: Reader) -> QuestionViewOut:
    """A question with its answers, their sentiment and topics, and what is still unread."""
    return QuestionViewOut.of(await questions.question_view(session, question_id=question_id))


@router.post("/{question_id}/read", responses=problem_responses(401, 403, 404))
async def mark_read(
    question_id: IdPath, body: MarkReadIn, session: SessionDep, principal: Triager
) -> MarkedRead:
    """Mark answers read (all of them when no ids are given)."""
    marked = await questions.mark_read(
        session,
        question_id=question_id,
        mention_ids=body.mention_ids,
        actor=principal.user,
        actor_label=principal.label,
    )
    view = await questions.question_view(session, question_id=question_id)
    await session.commit()
    return MarkedRead(marked=marked, unread=view.unread)


@router.post("/{question_id}/close", responses=problem_responses(401, 403, 404))
async def close_question(
    question_id: IdPath, session: SessionDep, principal: Triager
) -> QuestionOut:
    """Stop collecting answers to a question."""
    question = await questions.close_question(
        session, question_id=question_id, actor=principal.user, actor_label=principal.label
    )
    await session.commit()
    return QuestionOut.of(question)
