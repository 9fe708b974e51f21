"""Answering on the platforms: replies through the outbox, likes and boosts, external answers."""

from __future__ import annotations

from fastapi import APIRouter, status

from connectors.base import WriteAction
from listener.rest.deps import HttpClientDep, Reader, SessionDep, SettingsDep, Triager
from listener.rest.idempotency import IdempotencyDep, IdempotentRoute
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses
from moderation.outbox import appreciation, responses
from moderation.outbox import reply_templates as templates
from moderation.outbox import service as outbox
from moderation.outbox.schemas import (
    AppreciationIn,
    AppreciationOut,
    ExternalAnswerIn,
    OptionalVersion,
    ReplyEdit,
    ReplyIn,
    ReplyOut,
    ReplyVersion,
    ResponseOut,
)
from moderation.outbox.sending import schedule_checked
from moderation.queue.errors import InvalidRequest

router = APIRouter(prefix="/api/v1", tags=["replies"], route_class=IdempotentRoute)


@router.post(
    "/mentions/{mention_id}/replies",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def create_reply(
    mention_id: IdPath,
    body: ReplyIn,
    session: SessionDep,
    settings: SettingsDep,
    principal: Triager,
    _: IdempotencyDep,
    client: HttpClientDep,
) -> ReplyOut:
    """Draft a reply to a mention (from a template if you like); `send` schedules it at once.

    Send an `Idempotency-Key` to retry safely: the same key gets the first answer again and
    drafts (and sends) one reply. Nothing is enqueued here: the outbox sweep sends the row
    once its undo window closes.
    """
    text = body.body
    if body.template_id is not None:
        rendered = await templates.render(
            session, template_id=body.template_id, mention_id=mention_id, values=body.values
        )
        text = text or rendered.text
        await templates.count_use(session, template_id=body.template_id)
    if not text:
        raise InvalidRequest("body: write the reply or give a template_id")
    row = await outbox.create_reply(
        session,
        mention_id=mention_id,
        body=text,
        actor=principal.user,
        actor_label=principal.label,
        source_id=body.source_id,
        language=body.language,
        template_id=body.template_id,
    )
    if body.send:
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
    return ReplyOut.of(row)


@router.get("/mentions/{mention_id}/replies", responses=problem_responses(401, 403))
async def list_replies(mention_id: IdPath, session: SessionDep, _: Reader) -> list[ReplyOut]:
    """The replies to a mention, newest first, whatever their state."""
    rows = await outbox.list_outbox(session, mention_id=mention_id)
    return [ReplyOut.of(r) for r in rows]


@router.get("/replies/{reply_id}", responses=problem_responses(401, 403, 404))
async def get_reply(reply_id: IdPath, session: SessionDep, _: Reader) -> ReplyOut:
    """One reply or post and where it stands."""
    return ReplyOut.of(await outbox.get_outbox(session, outbox_id=reply_id))


@router.patch("/replies/{reply_id}", responses=problem_responses(401, 403, 404, 409))
async def edit_reply(
    reply_id: IdPath, body: ReplyEdit, session: SessionDep, principal: Triager
) -> ReplyOut:
    """Change a draft's text (an approved draft needs approving again)."""
    row = await outbox.edit(
        session,
        outbox_id=reply_id,
        version=body.version,
        body=body.body,
        title=body.title,
        actor=principal.user,
        actor_label=principal.label,
    )
    await session.commit()
    return ReplyOut.of(row)


@router.post("/replies/{reply_id}/approve", responses=problem_responses(401, 403, 404, 409))
async def approve_reply(
    reply_id: IdPath, body: ReplyVersion, session: SessionDep, principal: Triager
) -> ReplyOut:
    """Approve a colleague's draft (when the team wants a second pair of eyes)."""
    row = await outbox.approve(
        session,
        outbox_id=reply_id,
        version=body.version,
        actor=principal.user,
        actor_label=principal.label,
    )
    await session.commit()
    return ReplyOut.of(row)


@router.post("/replies/{reply_id}/send", responses=problem_responses(400, 401, 403, 404, 409))
async def send_reply(
    reply_id: IdPath,
    body: ReplyVersion,
    session: SessionDep,
    settings: SettingsDep,
    principal: Triager,
    client: HttpClientDep,
) -> ReplyOut:
    """Send: it leaves when the undo window (`scheduled_at`) closes."""
    row = await outbox.get_outbox(session, outbox_id=reply_id)
    row = await schedule_checked(
        session,
        row=row,
        version=body.version,
        actor=principal.user,
        actor_label=principal.label,
        settings=settings,
        client=client,
    )
    await session.commit()
    return ReplyOut.of(row)


@router.post("/replies/{reply_id}/undo", responses=problem_responses(401, 403, 404, 409))
async def undo_reply(reply_id: IdPath, session: SessionDep, principal: Triager) -> ReplyOut:
    """Take a scheduled reply back to draft; 409 once it has started to leave."""
    row = await outbox.undo(
        session, outbox_id=reply_id, actor=principal.user, actor_label=principal.label
    )
    await session.commit()
    return ReplyOut.of(row)


@router.post("/replies/{reply_id}/cancel", responses=problem_responses(401, 403, 404, 409))
async def cancel_reply(
    reply_id: IdPath, body: OptionalVersion, session: SessionDep, principal: Triager
) -> ReplyOut:
    """Drop a reply that has not left."""
    row = await outbox.cancel(
        session,
        outbox_id=reply_id,
        version=body.version,
        actor=principal.user,
        actor_label=principal.label,
    )
    await session.commit()
    return ReplyOut.of(row)


@router.post("/replies/{reply_id}/retry", responses=problem_responses(401, 403, 404, 409))
async def retry_reply(
    reply_id: IdPath, body: OptionalVersion, session: SessionDep, principal: Triager
) -> ReplyOut:
    """Send a failed reply again now."""
    row = await outbox.retry(
        session,
        outbox_id=reply_id,
        version=body.version,
        actor=principal.user,
        actor_label=principal.label,
    )
    await session.commit()
    return ReplyOut.of(row)


@router.post(
    "/mentions/{mention_id}/appreciations",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403, 404, 409, 502),
)
async def appreciate(
    mention_id: IdPath,
    body: AppreciationIn,
    session: SessionDep,
    settings: SettingsDep,
    principal: Triager,
    client: HttpClientDep,
) -> AppreciationOut:
    """Like or boost the mention on its platform (409 if it already stands)."""
    row = await appreciation.appreciate(
        session,
        mention_id=mention_id,
        action=WriteAction(body.action),
        actor=principal.user,
        actor_label=principal.label,
        settings=settings,
        client=client,
    )
    await session.commit()
    return AppreciationOut.of(row)


@router.get("/mentions/{mention_id}/appreciations", responses=problem_responses(401, 403))
async def list_appreciations(
    mention_id: IdPath, session: SessionDep, _: Reader
) -> list[AppreciationOut]:
    """The likes and boosts given to a mention, standing and taken back."""
    rows = await appreciation.list_appreciations(session, mention_id=mention_id)
    return [AppreciationOut.of(r) for r in rows]


@router.delete(
    "/appreciations/{appreciation_id}", responses=problem_responses(401, 403, 404, 409, 502)
)
async def undo_appreciation(
    appreciation_id: IdPath,
    session: SessionDep,
    settings: SettingsDep,
    principal: Triager,
    client: HttpClientDep,
) -> AppreciationOut:
    """Take a like or boost back on the platform."""
    row = await appreciation.undo_appreciation(
        session,
        appreciation_id=appreciation_id,
        actor=principal.user,
        actor_label=principal.label,
        settings=settings,
        client=client,
    )
    await session.commit()
    return AppreciationOut.of(row)


@router.post(
    "/mentions/{mention_id}/external-answers",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403, 404),
)
async def answered_elsewhere(
    mention_id: IdPath, body: ExternalAnswerIn, session: SessionDep, principal: Triager
) -> ResponseOut:
    """Record that you answered somewhere Luister cannot post; counts for response times."""
    row = await responses.mark_answered_elsewhere(
        session,
        mention_id=mention_id,
        url=str(body.url) if body.url else None,
        note=body.note,
        answered_at=body.answered_at,
        actor=principal.user,
        actor_label=principal.label,
    )
    await session.commit()
    return ResponseOut.of(row)


@router.get("/mentions/{mention_id}/responses", responses=problem_responses(401, 403))
async def list_responses(mention_id: IdPath, session: SessionDep, _: Reader) -> list[ResponseOut]:
    """How and when a mention was answered, and how long its author waited."""
    rows = await responses.list_responses(session, mention_id=mention_id)
    return [ResponseOut.of(r) for r in rows]
