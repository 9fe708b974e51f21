"""Teaching the tagger: corrections of a mention's tags, the topic taxonomy, trained models."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from listener.nlp import corrections, models_store, topics_store
from listener.nlp.schemas import (
    CorrectionCreated,
    CorrectionIn,
    CorrectionOut,
    MentionTagsOut,
    ModelOut,
    TopicIn,
    TopicOut,
    TopicUpdate,
    correction_value,
)
from listener.rest.deps import Admin, Reader, SessionDep, Triager
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses

router = APIRouter()


@router.post(
    "/api/v1/mentions/{mention_id}/corrections",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403, 404),
    tags=["nlp"],
)
async def correct_mention(
    mention_id: IdPath, body: CorrectionIn, session: SessionDep, principal: Triager
) -> CorrectionCreated:
    """Correct a mention's sentiment, intents or topics; the model's output is kept beside it."""
    correction = await corrections.correct_mention(
        session,
        mention_id=mention_id,
        field=body.field,
        value=correction_value(body),
        user_id=principal.user.id,
        actor=principal.label,
    )
    await session.commit()
    mention = await corrections.get_mention(session, mention_id=mention_id)
    topics = await corrections.topic_names(session, mention_id=mention_id)
    return CorrectionCreated(
        correction=CorrectionOut.of(correction), mention=MentionTagsOut.of(mention, topics)
    )


@router.get(
    "/api/v1/mentions/{mention_id}/corrections",
    responses=problem_responses(401, 403, 404),
    tags=["nlp"],
)
async def list_corrections(
    mention_id: IdPath, session: SessionDep, _: Reader
) -> list[CorrectionOut]:
    """List a mention's corrections, newest first, each with the model's output it replaced."""
    found = await corrections.list_corrections(session, mention_id=mention_id)
    return [CorrectionOut.of(c) for c in found]


@router.get("/api/v1/topics", responses=problem_responses(401, 403), tags=["topics"])
async def list_topics(session: SessionDep, _: Reader) -> list[TopicOut]:
    """List the organisation's topics with their phrases per language."""
    return [TopicOut.of(t) for t in await topics_store.list_topics(session)]


@router.post(
    "/api/v1/topics",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409),
    tags=["topics"],
)
async def create_topic(body: TopicIn, session: SessionDep, principal: Admin) -> TopicOut:
    """Add a topic; new mentions are tagged with it (run `luister nlp retag` for stored ones)."""
    topic = await topics_store.create_topic(
        session,
        name=body.name,
        description=body.description,
        keywords=body.keywords,
        labels=body.labels,
        actor=principal.label,
        user_id=principal.user.id,
    )
    await session.commit()
    return TopicOut.of(topic)


@router.get(
    "/api/v1/topics/{topic_id}", responses=problem_responses(401, 403, 404), tags=["topics"]
)
async def get_topic(topic_id: IdPath, session: SessionDep, _: Reader) -> TopicOut:
    """Get one topic."""
    return TopicOut.of(await topics_store.get_topic(session, topic_id=topic_id))


@router.patch(
    "/api/v1/topics/{topic_id}", responses=problem_responses(401, 403, 404, 409), tags=["topics"]
)
async def update_topic(
    topic_id: IdPath, body: TopicUpdate, session: SessionDep, principal: Admin
) -> TopicOut:
    """Rename a topic or replace its description, phrases or labels."""
    topic = await topics_store.update_topic(
        session,
        topic_id=topic_id,
        changes=body.model_dump(exclude_unset=True),
        actor=principal.label,
        user_id=principal.user.id,
    )
    await session.commit()
    return TopicOut.of(topic)


@router.delete(
    "/api/v1/topics/{topic_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
    tags=["topics"],
)
async def delete_topic(topic_id: IdPath, session: SessionDep, principal: Admin) -> Response:
    """Delete a topic; mentions lose their link to it."""
    await topics_store.delete_topic(
        session, topic_id=topic_id, actor=principal.label, user_id=principal.user.id
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/v1/nlp/models", responses=problem_responses(401, 403), tags=["nlp"])
async def list_models(
    session: SessionDep, _: Reader, language: str | None = None
) -> list[ModelOut]:
    """List trained sentiment models, newest first, with held-out scores next to the lexicon's."""
    return [ModelOut.of(m) for m in await models_store.list_models(session, language=language)]


@router.post(
    "/api/v1/nlp/models/{model_id}/activate",
    responses=problem_responses(401, 403, 404, 409),
    tags=["nlp"],
)
async def activate_model(model_id: IdPath, session: SessionDep, principal: Admin) -> ModelOut:
    """Use this model for its language's sentiment from the next batch on."""
    model = await models_store.activate_model(
        session, model_id=model_id, actor=principal.label, user_id=principal.user.id
    )
    await session.commit()
    return ModelOut.of(model)


@router.post(
    "/api/v1/nlp/models/{model_id}/deactivate",
    responses=problem_responses(401, 403, 404, 409),
    tags=["nlp"],
)
async def deactivate_model(model_id: IdPath, session: SessionDep, principal: Admin) -> ModelOut:
    """Stop using this model; its language's sentiment comes from the lexicon again."""
    model = await models_store.deactivate_model(
        session, model_id=model_id, actor=principal.label, user_id=principal.user.id
    )
    await session.commit()
    return ModelOut.of(model)
