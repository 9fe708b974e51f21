"""Staff corrections of sentiment, intents and topics, kept beside what the model said.

A correction never changes: the newest one per mention and field is what the mention
shows (re-tagging keeps it on top of the model), and all of them are training data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import AuditEntry, Mention, MentionTopic, NlpCorrection, Topic
from listener.nlp.errors import InvalidRequest, NotFound
from listener.nlp.labels import INTENTS, SENTIMENT_LABELS
from listener.nlp.topic_links import replace_topic_links
from listener.reactions import mentions_changed

# A corrected label whose model score points the other way gets a middling score of its own
# sign, so priority and digests still weigh it; a confirmed label keeps the model's score.
LABEL_SCORES = {"positive": 0.5, "neutral": 0.0, "negative": -0.5}
AUDIT_ACTION = "nlp.correct"


async def get_mention(session: AsyncSession, *, mention_id: int) -> Mention:
    """The mention, or NotFound."""
    mention = await session.get(Mention, mention_id, populate_existing=True)
    if mention is None:
        raise NotFound(f"mention {mention_id} does not exist")
    return mention


async def topic_names(session: AsyncSession, *, mention_id: int) -> list[str]:
    """The names of the topics a mention is linked to, sorted."""
    rows = await session.execute(
        select(Topic.name)
        .join(MentionTopic, MentionTopic.topic_id == Topic.id)
        .where(MentionTopic.mention_id == mention_id)
        .order_by(Topic.name)
    )
    return list(rows.scalars())


def shown_value(mention: Mention, field: str, topics: list[str]) -> Any:
    """What the mention shows for a field right now, in the shape corrections store."""
    if field == "sentiment":
        return {"label": mention.sentiment_label, "score": mention.sentiment_score}
    if field == "intents":
        return sorted(mention.intents or [])
    return topics


async def latest_corrections(
    session: AsyncSession, *, mention_ids: Sequence[int]
) -> dict[int, dict[str, NlpCorrection]]:
    """The newest correction per mention and field."""
    if not mention_ids:
        return {}
    rows = await session.execute(
        select(NlpCorrection)
        .where(NlpCorrection.mention_id.in_(list(mention_ids)))
        .order_by(NlpCorrection.created_at, NlpCorrection.id)
    )
    latest: dict[int, dict[str, NlpCorrection]] = {}
    for correction in rows.scalars():
        latest.setdefault(correction.mention_id, {})[correction.field] = correction
    return latest


async def list_corrections(session: AsyncSession, *, mention_id: int) -> list[NlpCorrection]:
    """Every correction of a mention, newest first."""
    await get_mention(session, mention_id=mention_id)
    rows = await session.execute(
        select(NlpCorrection)
        .where(NlpCorrection.mention_id == mention_id)
        .order_by(NlpCorrection.created_at.desc(), NlpCorrection.id.desc())
    )
    return list(rows.scalars())


async def _validated(session: AsyncSession, field: str, value: Any) -> Any:
    """The correction in its stored shape; InvalidRequest when it names unknown labels."""
    if field == "sentiment":
        if not isinstance(value, str) or value not in SENTIMENT_LABELS:
            raise InvalidRequest(f"sentiment must be one of {', '.join(SENTIMENT_LABELS)}")
        return value
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"{field} must be a list of names")
    names = sorted(set(value))
    if field == "intents":
        unknown = [name for name in names if name not in INTENTS]
        if unknown:
            raise InvalidRequest(f"unknown intents {unknown}; known: {', '.join(INTENTS)}")
        return names
    if field == "topics":
        known = set(
            (await session.execute(select(Topic.name).where(Topic.name.in_(names)))).scalars()
        )
        unknown = [name for name in names if name not in known]
        if unknown:
            raise InvalidRequest(f"unknown topics {unknown}: create them under /api/v1/topics")
        return names
    raise InvalidRequest(f"cannot correct {field!r}; only sentiment, intents or topics")


async def correct_mention(
    session: AsyncSession,
    *,
    mention_id: int,
    field: str,
    value: Any,
    user_id: int | None,
    actor: str,
) -> NlpCorrection:
    """Record a correction, show it on the mention, audit it, and let reactions rescore."""
    mention = await get_mention(session, mention_id=mention_id)
    cleaned = await _validated(session, field, value)
    topics = await topic_names(session, mention_id=mention_id)
    shown = shown_value(mention, field, topics)
    earlier = (await latest_corrections(session, mention_ids=[mention_id])).get(mention_id, {})
    # The model's output is what the mention showed before anyone corrected this field.
    model_value = earlier[field].model_value if field in earlier else shown
    if field == "sentiment":
        model_label, model_score = model_value.get("label"), model_value.get("score")
        score = model_score if model_label == cleaned and model_score is not None else None
        cleaned = {"label": cleaned, "score": LABEL_SCORES[cleaned] if score is None else score}
    correction = NlpCorrection(
        mention_id=mention_id,
        field=field,
        model_value=model_value,
        value=cleaned,
        model_version=mention.nlp_version,
        language=mention.language,
        user_id=user_id,
        actor=actor,
    )
    session.add(correction)
    await session.flush()
    await apply_corrections(session, mention_ids=[mention_id])
    session.add(
        AuditEntry(
            mention_id=mention_id,
            entity="mention",
            entity_id=str(mention_id),
            action=AUDIT_ACTION,
            actor_user_id=user_id,
            actor=actor,
            before={field: shown, "model": model_value},
            after={field: cleaned, "correction_id": correction.id},
        )
    )
    await mentions_changed(session, updated_ids=[mention_id])
    return correction


TopicLinks = list[tuple[int, list[dict[str, Any]]]]


def overlay_corrections(
    columns: dict[str, Any],
    links: TopicLinks,
    corrections: dict[str, NlpCorrection],
    topic_ids: dict[str, int],
) -> tuple[dict[str, Any], TopicLinks]:
    """Model tags with a mention's newest corrections on top (for ingest and re-tagging)."""
    columns = dict(columns)
    if "sentiment" in corrections:
        value = corrections["sentiment"].value
        columns["sentiment_label"], columns["sentiment_score"] = value["label"], value["score"]
    if "intents" in corrections:
        columns["intents"] = list(corrections["intents"].value)
    if "topics" in corrections:
        spans: dict[int, list[dict[str, Any]]] = dict(links)
        wanted = [topic_ids[n] for n in corrections["topics"].value if n in topic_ids]
        links = [(topic_id, spans.get(topic_id, [])) for topic_id in wanted]
    return columns, links


async def apply_corrections(session: AsyncSession, *, mention_ids: Sequence[int]) -> list[int]:
    """Put each mention's newest corrections back on top of its tags; return those touched."""
    latest = await latest_corrections(session, mention_ids=mention_ids)
    for mention_id, fields in latest.items():
        changes: dict[str, Any] = {}
        if "sentiment" in fields:
            value = fields["sentiment"].value
            changes["sentiment_label"] = value["label"]
            changes["sentiment_score"] = value["score"]
        if "intents" in fields:
            changes["intents"] = list(fields["intents"].value)
        if changes:
            await session.execute(
                update(Mention)
                .where(Mention.id == mention_id)
                .values(**changes)
                .execution_options(synchronize_session=False)
            )
        if "topics" in fields:
            await _link_corrected_topics(session, mention_id, list(fields["topics"].value))
    return list(latest)


async def _link_corrected_topics(session: AsyncSession, mention_id: int, names: list[str]) -> None:
    """Link exactly the corrected topics, keeping the spans of those the model also found."""

    found = await session.execute(select(Topic.name, Topic.id).where(Topic.name.in_(names)))
    ids: dict[str, int] = {name: topic_id for name, topic_id in found}
    linked = await session.execute(
        select(MentionTopic.topic_id, MentionTopic.spans).where(
            MentionTopic.mention_id == mention_id
        )
    )
    spans: dict[int, list[dict[str, Any]]] = {topic_id: value for topic_id, value in linked}
    links = {mention_id: [(ids[n], list(spans.get(ids[n]) or [])) for n in names if n in ids]}
    await replace_topic_links(session, links, replace=[mention_id])
