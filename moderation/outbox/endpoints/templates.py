"""Canned responses: admins keep them, everyone uses them."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from listener.rest.deps import Admin, Reader, SessionDep
from listener.rest.params import IdPath, IdQuery
from listener.rest.problems import problem_responses
from moderation.outbox import reply_templates as templates
from moderation.outbox.schemas import RenderedOut, RenderIn, TemplateIn, TemplateOut, TemplatePatch

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


@router.get("", responses=problem_responses(401, 403))
async def list_templates(
    session: SessionDep,
    _: Reader,
    language: str | None = None,
    intent: str | None = None,
    topic: str | None = None,
) -> list[TemplateOut]:
    """Canned responses, optionally for a language (neutral ones included), intent or topic."""
    rows = await templates.list_templates(session, language=language, intent=intent, topic=topic)
    return [TemplateOut.of(t) for t in rows]


@router.get("/suggestions", responses=problem_responses(401, 403, 404))
async def suggest_templates(
    mention_id: IdQuery, session: SessionDep, _: Reader, limit: int = 5
) -> list[TemplateOut]:
    """Templates that fit a mention: its language, then its intents, then its topics."""
    rows = await templates.suggest(session, mention_id=mention_id, limit=min(max(limit, 1), 20))
    return [TemplateOut.of(t) for t in rows]


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(400, 401, 403))
async def create_template(body: TemplateIn, session: SessionDep, principal: Admin) -> TemplateOut:
    """Add a canned response."""
    row = await templates.create_template(
        session,
        name=body.name,
        body=body.body,
        language=body.language,
        intents=body.intents,
        topics=body.topics,
        actor=principal.user,
    )
    await session.commit()
    return TemplateOut.of(row)


@router.get("/{template_id}", responses=problem_responses(401, 403, 404))
async def get_template(template_id: IdPath, session: SessionDep, _: Reader) -> TemplateOut:
    """One canned response."""
    return TemplateOut.of(await templates.get_template(session, template_id=template_id))


@router.patch("/{template_id}", responses=problem_responses(400, 401, 403, 404))
async def update_template(
    template_id: IdPath, body: TemplatePatch, session: SessionDep, principal: Admin
) -> TemplateOut:
    """Change a canned response."""
    row = await templates.update_template(
        session,
        template_id=template_id,
        actor=principal.user,
        changes=body.model_dump(exclude_unset=True),
    )
    await session.commit()
    return TemplateOut.of(row)


@router.delete(
    "/{template_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def delete_template(template_id: IdPath, session: SessionDep, principal: Admin) -> Response:
    """Remove a canned response."""
    await templates.delete_template(session, template_id=template_id, actor=principal.user)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{template_id}/render", responses=problem_responses(401, 403, 404))
async def render_template(
    template_id: IdPath, body: RenderIn, session: SessionDep, _: Reader
) -> RenderedOut:
    """Fill a template for a mention; `unfilled` lists what must be written before sending."""
    rendered = await templates.render(
        session, template_id=template_id, mention_id=body.mention_id, values=body.values
    )
    return RenderedOut(text=rendered.text, unfilled=rendered.unfilled)
