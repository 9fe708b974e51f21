"""Canned responses: per language, with variables filled from the mention and placeholders
that block sending until a person fills them in.

`{{author_name}}` and friends are filled from the mention; anything still in double braces,
and any `### … ###` (Ozone's convention for "write something here"), is an unfilled placeholder.
Substitution is plain text replacement: templates are written by staff and never executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import Author, Mention, MentionTopic, ReplyTemplate, Topic, User, utcnow
from listener.nlp.topics_store import topic_label
from listener.own_accounts import local_name
from moderation.queue import audit
from moderation.queue.errors import InvalidRequest, NotFound

_VARIABLE = re.compile(r"{{\s*([a-z_][a-z0-9_]*)\s*}}")
_PLACEHOLDER = re.compile(r"###(.*?)###", re.DOTALL)
_ANY_BRACES = re.compile(r"{{.*?}}", re.DOTALL)

#: Variables filled from the mention; others (say `{{link}}`) come from whoever uses the template.
MENTION_VARIABLES = ("author_name", "author_handle", "topic", "mention_url", "platform")


def unfilled_placeholders(text: str) -> list[str]:
    """The placeholders still in `text`, as written (empty when it may be sent)."""
    found = [m.group(0) for m in _PLACEHOLDER.finditer(text)]
    return found + [m.group(0) for m in _ANY_BRACES.finditer(text)]


def fill(body: str, values: dict[str, str]) -> str:
    """The body with every variable that has a (non-empty) value filled in."""

    def _value(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return value if value else match.group(0)

    return _VARIABLE.sub(_value, body)


async def mention_values(
    session: AsyncSession, *, mention_id: int, language: str | None = None
) -> dict[str, str]:
    """The template variables a mention fills in; `{{topic}}` reads as the topic's label in
    `language` (the template's), else in the mention's language."""
    mention = await session.get(Mention, mention_id)
    if mention is None:
        raise NotFound(f"mention {mention_id} does not exist")
    values = {"platform": mention.platform, "mention_url": mention.url or ""}
    if mention.author_id is not None:
        author = await session.get(Author, mention.author_id)
        if author is not None:
            values["author_handle"] = author.handle or ""
            # The display name, else the handle without its instance ("kees", not
            # "kees@mastodon.example").
            values["author_name"] = (author.display_name or "").strip() or (
                local_name(author.handle) or ""
            )
    topic = (
        await session.execute(
            select(Topic.name, Topic.labels, Topic.description)
            .join(MentionTopic, MentionTopic.topic_id == Topic.id)
            .where(MentionTopic.mention_id == mention_id)
            .order_by(Topic.name)
            .limit(1)
        )
    ).one_or_none()
    if topic is not None:
        name, labels, description = topic
        values["topic"] = topic_label(name, labels, description, language or mention.language)
    return values


@dataclass(frozen=True)
class Rendered:
    """A template filled in for a mention: the text and what is still to fill."""

    template: ReplyTemplate
    text: str
    unfilled: list[str]


async def render(
    session: AsyncSession,
    *,
    template_id: int,
    mention_id: int | None = None,
    values: dict[str, str] | None = None,
) -> Rendered:
    """Fill a template from a mention and extra `values` (which win)."""
    template = await get_template(session, template_id=template_id)
    filled: dict[str, str] = {}
    if mention_id is not None:
        filled |= await mention_values(session, mention_id=mention_id, language=template.language)
    filled |= values or {}
    text = fill(template.body, filled)
    return Rendered(template, text, unfilled_placeholders(text))


async def count_use(session: AsyncSession, *, template_id: int) -> None:
    """Note that a reply started from this template (suggestions favour what is used)."""
    template = await get_template(session, template_id=template_id)
    template.uses += 1


async def get_template(session: AsyncSession, *, template_id: int) -> ReplyTemplate:
    """One template."""
    template = await session.get(ReplyTemplate, template_id)
    if template is None:
        raise NotFound(f"template {template_id} does not exist")
    return template


async def list_templates(
    session: AsyncSession,
    *,
    language: str | None = None,
    intent: str | None = None,
    topic: str | None = None,
) -> list[ReplyTemplate]:
    """Templates, optionally for a language (language-neutral ones included), intent or topic."""
    stmt = select(ReplyTemplate).order_by(ReplyTemplate.name, ReplyTemplate.language)
    if language:
        stmt = stmt.where((ReplyTemplate.language == language) | ReplyTemplate.language.is_(None))
    rows = list((await session.execute(stmt)).scalars())
    if intent:
        rows = [t for t in rows if intent in (t.intents or [])]
    if topic:
        rows = [t for t in rows if topic in (t.topics or [])]
    return rows


def _score(
    template: ReplyTemplate, language: str | None, intents: set[str], topics: set[str]
) -> int:
    score = 4 if language and template.language == language else 0
    score += 3 * len(intents & set(template.intents or []))
    score += 2 * len(topics & set(template.topics or []))
    return score


async def suggest(session: AsyncSession, *, mention_id: int, limit: int = 5) -> list[ReplyTemplate]:
    """Templates for a mention: its language first, then matching intents, then topics."""
    mention = await session.get(Mention, mention_id)
    if mention is None:
        raise NotFound(f"mention {mention_id} does not exist")
    language = (mention.language or "").split("-")[0] or None
    topics = set(
        (
            await session.execute(
                select(Topic.name)
                .join(MentionTopic, MentionTopic.topic_id == Topic.id)
                .where(MentionTopic.mention_id == mention_id)
            )
        ).scalars()
    )
    intents = set(mention.intents or [])
    candidates = await list_templates(session, language=language)
    ranked = sorted(
        candidates,
        key=lambda t: (-_score(t, language, intents, topics), -t.uses, t.name),
    )
    # A template that matches nothing but the language is still a fair suggestion.
    return ranked[:limit]


def _template_state(template: ReplyTemplate) -> dict[str, Any]:
    return {
        "name": template.name,
        "language": template.language,
        "intents": list(template.intents or []),
        "topics": list(template.topics or []),
        "body": template.body,
    }


async def _flush(session: AsyncSession, name: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise InvalidRequest(f"name: a template {name!r} exists already in that language") from exc


async def create_template(
    session: AsyncSession,
    *,
    name: str,
    body: str,
    actor: User,
    language: str | None = None,
    intents: list[str] | None = None,
    topics: list[str] | None = None,
) -> ReplyTemplate:
    """Add a canned response."""
    template = ReplyTemplate(
        name=name,
        body=body,
        language=language,
        intents=intents or [],
        topics=topics or [],
        created_by_id=actor.id,
    )
    session.add(template)
    await _flush(session, name)
    audit.record(
        session,
        action="template.create",
        actor=actor,
        entity="template",
        entity_id=template.id,
        after=_template_state(template),
    )
    return template


async def update_template(
    session: AsyncSession, *, template_id: int, actor: User, changes: dict[str, Any]
) -> ReplyTemplate:
    """Change a canned response (only the fields in `changes`)."""
    template = await get_template(session, template_id=template_id)
    before = _template_state(template)
    for name in ("name", "body", "language", "intents", "topics"):
        if name in changes:
            setattr(template, name, changes[name])
    template.updated_at = utcnow()
    await _flush(session, template.name)
    audit.record(
        session,
        action="template.update",
        actor=actor,
        entity="template",
        entity_id=template.id,
        before=before,
        after=_template_state(template),
    )
    return template


async def delete_template(session: AsyncSession, *, template_id: int, actor: User) -> None:
    """Remove a canned response (replies made from it keep their text)."""
    template = await get_template(session, template_id=template_id)
    audit.record(
        session,
        action="template.delete",
        actor=actor,
        entity="template",
        entity_id=template.id,
        before=_template_state(template),
    )
    await session.delete(template)
