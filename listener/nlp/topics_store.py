"""The organisation's topic taxonomy in the `topics` table: names, labels, terms per language.

Changes take effect on the next ingested batch; `luister nlp retag` brings stored mentions
up to date. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from listener.kit.strings import readable_name
from listener.models import AuditEntry, Topic
from listener.nlp.errors import Conflict, InvalidRequest, NotFound
from listener.nlp.taxonomy import Taxonomy

TOPIC_FIELDS = ("name", "description", "keywords", "labels")
MAX_NAME = 100
MAX_LABEL = 100
MAX_PHRASE = 200


def checked_keywords(keywords: Any) -> dict[str, list[str]]:
    """Keywords as stored: {language code or "*": [phrases]}; InvalidRequest otherwise."""
    if not isinstance(keywords, Mapping):
        raise InvalidRequest('keywords must map a language code (or "*") to a list of phrases')
    checked: dict[str, list[str]] = {}
    for language, phrases in keywords.items():
        code = str(language).strip().lower()
        if not (code == "*" or (len(code) == 2 and code.isalpha())):
            raise InvalidRequest(f"keywords: {language!r} is not a two-letter language or '*'")
        if not isinstance(phrases, list | tuple) or not all(isinstance(p, str) for p in phrases):
            raise InvalidRequest(f"keywords[{code}]: expected a list of phrases")
        cleaned = [p.strip() for p in phrases if p.strip()]
        if any(len(p) > MAX_PHRASE for p in cleaned):
            raise InvalidRequest(f"keywords[{code}]: phrases are at most {MAX_PHRASE} characters")
        checked[code] = cleaned
    return checked


def checked_labels(labels: Any) -> dict[str, str]:
    """Labels as stored: {two-letter language code: the name people read}; InvalidRequest else."""
    if not isinstance(labels, Mapping):
        raise InvalidRequest("labels must map a two-letter language code to a label")
    checked: dict[str, str] = {}
    for language, label in labels.items():
        code = str(language).strip().lower()
        if not (len(code) == 2 and code.isalpha()):
            raise InvalidRequest(f"labels: {language!r} is not a two-letter language code")
        if not isinstance(label, str) or not label.strip() or len(label.strip()) > MAX_LABEL:
            raise InvalidRequest(f"labels[{code}]: a label has 1 to {MAX_LABEL} characters")
        checked[code] = label.strip()
    return checked


def checked_name(name: Any) -> str:
    """A topic name: 1 to 100 characters, no surrounding spaces."""
    cleaned = str(name).strip()
    if not cleaned or len(cleaned) > MAX_NAME:
        raise InvalidRequest(f"a topic name has 1 to {MAX_NAME} characters")
    return cleaned


def topic_state(topic: Topic) -> dict[str, Any]:
    """A topic as the audit log records it."""
    return {
        "name": topic.name,
        "description": topic.description,
        "keywords": topic.keywords,
        "labels": dict(topic.labels or {}),
    }


def _audit(
    session: AsyncSession,
    topic: Topic,
    *,
    action: str,
    actor: str,
    user_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    session.add(
        AuditEntry(
            entity="topic",
            entity_id=str(topic.id),
            action=action,
            actor_user_id=user_id,
            actor=actor,
            before=before,
            after=after,
        )
    )


async def list_topics(session: AsyncSession) -> list[Topic]:
    """Every topic, by name."""
    return list((await session.execute(select(Topic).order_by(Topic.name))).scalars())


async def get_topic(session: AsyncSession, *, topic_id: int) -> Topic:
    """One topic, or NotFound."""
    topic = await session.get(Topic, topic_id, populate_existing=True)
    if topic is None:
        raise NotFound(f"topic {topic_id} does not exist")
    return topic


async def _name_taken(session: AsyncSession, name: str, *, other_than: int | None = None) -> bool:
    query = select(Topic.id).where(Topic.name == name)
    if other_than is not None:
        query = query.where(Topic.id != other_than)
    return (await session.execute(query.limit(1))).scalar_one_or_none() is not None


async def _flush(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create took the name after our check
        raise Conflict(f"a topic named {name!r} already exists") from exc


async def create_topic(
    session: AsyncSession,
    *,
    name: str,
    description: str | None,
    keywords: Mapping[str, list[str]],
    actor: str,
    user_id: int | None,
    labels: Mapping[str, str] | None = None,
) -> Topic:
    """Add a topic; 409 when the name is taken."""
    name, keywords = checked_name(name), checked_keywords(keywords)
    checked = checked_labels(labels or {})
    if await _name_taken(session, name):
        raise Conflict(f"a topic named {name!r} already exists")
    topic = Topic(name=name, description=description, keywords=dict(keywords), labels=checked)
    session.add(topic)
    await _flush(session, name)
    _audit(
        session,
        topic,
        action="topic.create",
        actor=actor,
        user_id=user_id,
        before=None,
        after=topic_state(topic),
    )
    return topic


async def update_topic(
    session: AsyncSession,
    *,
    topic_id: int,
    changes: Mapping[str, Any],
    actor: str,
    user_id: int | None,
) -> Topic:
    """Change a topic's name, description, keywords or labels (only the fields given)."""
    topic = await get_topic(session, topic_id=topic_id)
    changes = dict(changes)
    if changes.get("name") is not None:
        changes["name"] = checked_name(changes["name"])
    if changes.get("keywords") is not None:
        changes["keywords"] = checked_keywords(changes["keywords"])
    if changes.get("labels") is not None:
        changes["labels"] = checked_labels(changes["labels"])
    name = changes.get("name")
    if name is not None and await _name_taken(session, name, other_than=topic_id):
        raise Conflict(f"a topic named {name!r} already exists")
    before = topic_state(topic)
    for key in TOPIC_FIELDS:
        if key in changes and (key == "description" or changes[key] is not None):
            value = changes[key]
            setattr(topic, key, dict(value) if key in ("keywords", "labels") else value)
    await _flush(session, topic.name)
    after = topic_state(topic)
    if after != before:
        _audit(
            session,
            topic,
            action="topic.update",
            actor=actor,
            user_id=user_id,
            before=before,
            after=after,
        )
    return topic


async def delete_topic(
    session: AsyncSession, *, topic_id: int, actor: str, user_id: int | None
) -> None:
    """Remove a topic; its links to mentions go with it."""
    topic = await get_topic(session, topic_id=topic_id)
    _audit(
        session,
        topic,
        action="topic.delete",
        actor=actor,
        user_id=user_id,
        before=topic_state(topic),
        after=None,
    )
    await session.delete(topic)
    await session.flush()


def taxonomy_items(taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """A taxonomy (a JSON file, the built-in example) as topic rows to import."""
    return [
        {
            "name": topic.key,
            "description": topic.label if topic.label != topic.key else None,
            "keywords": {language: list(phrases) for language, phrases in topic.terms},
            "labels": dict(topic.labels),
        }
        for topic in taxonomy.topics
    ]


async def import_topics(
    session: AsyncSession, *, items: Iterable[Mapping[str, Any]], actor: str
) -> dict[str, int]:
    """Create or update topics by name from imported items; return the counts."""
    existing = {topic.name: topic for topic in await list_topics(session)}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for item in items:
        name = checked_name(item["name"])
        description, keywords = (
            item.get("description"),
            checked_keywords(item.get("keywords") or {}),
        )
        topic = existing.get(name)
        # A file without labels (an older taxonomy file) keeps the labels a topic has.
        if "labels" in item:
            labels = checked_labels(item.get("labels") or {})
        else:
            labels = dict(topic.labels or {}) if topic is not None else {}
        fields = {"description": description, "keywords": keywords, "labels": labels}
        if topic is None:
            await create_topic(
                session,
                name=name,
                description=description,
                keywords=keywords,
                actor=actor,
                user_id=None,
                labels=labels,
            )
            counts["created"] += 1
        elif {"name": name, **fields} == topic_state(topic):
            counts["unchanged"] += 1
        else:
            await update_topic(
                session, topic_id=topic.id, changes=fields, actor=actor, user_id=None
            )
            counts["updated"] += 1
    return counts


SHORT_DESCRIPTION = 60


def topic_label(
    name: str, labels: Mapping[str, str] | None, description: str | None, language: str | None
) -> str:
    """The name a person reads: the label in their language, else the English one, else a short
    description (older imports kept the label there), else the key as words."""
    found = labels or {}
    for code in (language, "en"):
        if code and found.get(code):
            return found[code]
    text = (description or "").strip()
    if text and len(text) <= SHORT_DESCRIPTION and "\n" not in text:
        return text
    return readable_name(name)


async def topic_labels(session: AsyncSession, language: str | None) -> dict[str, str]:
    """Every topic's name mapped to what a reader of `language` sees (one small query; read a
    name from it with `label_of`)."""
    rows = await session.execute(select(Topic.name, Topic.labels, Topic.description))
    return {
        name: topic_label(name, labels, description, language) for name, labels, description in rows
    }
