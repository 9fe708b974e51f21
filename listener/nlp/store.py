"""Tagging stored mentions: the taxonomy and active models come from the database.

The tagger itself stays pure (`listener.nlp.tagger`); this module builds its settings from
the `topics` and `nlp_models` tables, turns results into mention columns and topic links,
and keeps staff corrections on top of whatever the model says. spaCy is imported only when
something is actually tagged, so importing `listener.sources.ingest` stays cheap.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from listener import metrics
from listener.models import NlpModel, Topic
from listener.nlp.corrections import latest_corrections, overlay_corrections
from listener.nlp.taxonomy import Taxonomy
from listener.nlp.topic_links import replace_topic_links
from listener.settings import Settings

if TYPE_CHECKING:
    from connectors.items import MentionIn
    from listener.nlp.tagger import NlpSettings, TagInput, TagResult

log = logging.getLogger(__name__)

NLP_VERSION_LENGTH = 64  # mentions.nlp_version
NO_TAXONOMY = Taxonomy(topics=(), version="none")
# How ingest keys a mention it is storing: (source id, the platform's id for it).
MentionKey = tuple[int, str]


#: The key under which a session's `info` holds the process's `LanguageSettings`.
LANGUAGES_KEY = "luister.nlp.languages"


@dataclass(frozen=True)
class LanguageSettings:
    """Which languages detection chooses among, and how sure it must be."""

    languages: tuple[str, ...]
    threshold: float
    accuracy: Literal["high", "low"] = "high"

    @classmethod
    def from_settings(cls, settings: Settings) -> LanguageSettings:
        """The languages configured in `settings` (English when none are)."""
        return cls(
            tuple(settings.nlp_languages or ("en",)),
            settings.nlp_language_threshold,
            settings.nlp_language_accuracy,
        )


def language_settings(session: AsyncSession) -> LanguageSettings:
    """The languages the session's factory was wired with; the defaults for a bare session."""
    configured = session.info.get(LANGUAGES_KEY)
    if isinstance(configured, LanguageSettings):
        return configured
    return _default_languages()


@cache
def _default_languages() -> LanguageSettings:
    # Built once: `model_construct` reads no environment, so the defaults never change, and
    # building Settings costs about a millisecond, paid on every ingest batch otherwise.
    return LanguageSettings.from_settings(Settings.model_construct())


def topic_terms(keywords: Any) -> dict[str, list[str]]:
    """The usable part of a topic's `keywords` column: {language or "*": [phrases]}."""
    if not isinstance(keywords, Mapping):
        return {}
    return {
        str(language).lower(): [str(p) for p in phrases if isinstance(p, str) and p.strip()]
        for language, phrases in keywords.items()
        if isinstance(phrases, list)
    }


def taxonomy_from_rows(rows: Iterable[tuple[str, str | None, Any]]) -> Taxonomy:
    """Build the organisation's taxonomy from (name, description, keywords) rows."""
    items = [
        {"key": name, "label": description or name, "terms": topic_terms(keywords)}
        for name, description, keywords in rows
    ]
    if not items:
        return NO_TAXONOMY
    canonical = json.dumps([[i["key"], i["terms"]] for i in items], sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:10]
    return Taxonomy.from_dicts(items, version=f"org-{digest}")


@dataclass(frozen=True)
class TaggingState:
    """What the tagger needs from the database, read once per batch."""

    settings: NlpSettings
    topic_ids: Mapping[str, int]

    def nlp_version(self, result: TagResult) -> str:
        """The compact version stored with a mention: pipeline, taxonomy, sentiment model."""
        from listener.nlp.tagger import NLP_VERSION

        model = result.sentiment_model or "none"
        version = f"nlp-{NLP_VERSION};{self.settings.taxonomy.version};{model}"
        return version[:NLP_VERSION_LENGTH]


def model_files_present(path: str) -> bool:
    """Whether a saved model directory is on this machine."""
    return Path(path).is_dir()


async def active_models(session: AsyncSession) -> tuple[tuple[str, str, str], ...]:
    """(language, directory, version) of each active trained model whose files are present."""
    rows = await session.execute(
        select(NlpModel.language, NlpModel.path, NlpModel.version)
        .where(NlpModel.active.is_(True))
        .order_by(NlpModel.language)
    )
    found = []
    for language, path, version in rows:
        if model_files_present(path):
            found.append((language, path, version))
        else:
            # A worker without the shared data directory falls back to the lexicon.
            log.warning("active model %s is missing at %s; using the lexicon", version, path)
    return tuple(found)


async def load_tagging_state(session: AsyncSession) -> TaggingState:
    """Read the taxonomy and the active models; the tagger for them is built once."""
    from listener.nlp.tagger import NlpSettings

    topics = (
        await session.execute(
            select(Topic.id, Topic.name, Topic.description, Topic.keywords).order_by(Topic.name)
        )
    ).all()
    configured = language_settings(session)
    settings = NlpSettings(
        languages=configured.languages,
        language_threshold=configured.threshold,
        language_accuracy=configured.accuracy,
        taxonomy=taxonomy_from_rows((t.name, t.description, t.keywords) for t in topics),
        sentiment_models=await active_models(session),
    )
    return TaggingState(settings=settings, topic_ids={t.name: t.id for t in topics})


#: Languages whose pipelines a worker builds at start-up: the ones with sentiment lexicons.
WARM_LANGUAGES = ("en", "nl")


async def warm_up_tagger(session: AsyncSession) -> None:
    """Build the tagger for today's taxonomy and models at worker start-up, not mid-batch.

    Only the English and Dutch pipelines (of those configured) are built; other languages
    and the language detector load when a text first needs them, in the tagging thread, so
    a worker whose platforms give every post's language never holds lingua's models.
    """
    from listener.nlp.tagger import get_tagger

    state = await load_tagging_state(session)
    configured = state.settings.languages
    languages = [code for code in configured if code in WARM_LANGUAGES] or list(configured[:1])
    tagger = get_tagger(state.settings)
    await asyncio.to_thread(tagger.warm_up, languages, detector=False)
    release_free_memory()


def release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc only)."""
    gc.collect()
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to trim
        return
    libc.malloc_trim(0)


async def tag_inputs(state: TaggingState, inputs: Sequence[TagInput]) -> list[TagResult]:
    """Tag in a worker thread so the event loop keeps serving while spaCy runs."""
    from listener.nlp.tagger import get_tagger

    if not inputs:
        return []
    tagger = get_tagger(state.settings)
    metrics.TAGGED_TEXTS.inc(len(inputs))
    with metrics.TAGGING_SECONDS.time():
        return await asyncio.to_thread(tagger.tag_texts, inputs)


def mention_columns(
    state: TaggingState, result: TagResult, *, from_platform: bool
) -> dict[str, Any]:
    """The mention columns a tag result sets; the confidence is null when the platform said."""
    return {
        "language": result.language,
        "language_confidence": None if from_platform else result.language_confidence,
        "sentiment_label": result.sentiment_label,
        "sentiment_score": result.sentiment_score,
        "intents": list(result.intents),
        "nlp_version": state.nlp_version(result),
    }


def topic_links(state: TaggingState, result: TagResult) -> list[tuple[int, list[dict[str, Any]]]]:
    """(topic id, matched spans) for each topic of the taxonomy the result found."""
    return [
        (state.topic_ids[match.topic], [_span(s) for s in match.spans])
        for match in result.topics
        if match.topic in state.topic_ids
    ]


def _span(span: Any) -> dict[str, Any]:
    return {"start": span.start, "end": span.end, "text": span.text}


@dataclass
class BatchTags:
    """Tags for a batch of mentions, keyed the way the caller keys them."""

    columns: dict[MentionKey, dict[str, Any]] = field(default_factory=dict)
    links: dict[MentionKey, list[tuple[int, list[dict[str, Any]]]]] = field(default_factory=dict)


#: (topic id, matched spans) per topic a text was found to be about.
TopicLinksFound = list[tuple[int, list[dict[str, Any]]]]


@dataclass
class TaggingJob:
    """Tags for a batch being computed in a worker thread while ingest does its database work."""

    state: TaggingState
    keys: list[MentionKey]
    future: asyncio.Future[list[tuple[dict[str, Any], TopicLinksFound]]]
    corrected: Mapping[int, Any]
    known: Mapping[MentionKey, tuple[int, str]]

    async def result(self) -> BatchTags:
        """Wait for the tags; staff corrections are put on top here, on the event loop."""
        tagged = await self.future
        tags = BatchTags()
        topic_ids = dict(self.state.topic_ids)
        for key, (columns, links) in zip(self.keys, tagged, strict=True):
            mention_id = self.known[key][0] if key in self.known else None
            if mention_id is not None and mention_id in self.corrected:
                columns, links = overlay_corrections(
                    columns, links, self.corrected[mention_id], topic_ids
                )
            tags.columns[key], tags.links[key] = columns, links
        return tags

    def abandon(self) -> None:
        """The batch failed before its tags were needed: drop them (the thread just ends)."""
        self.future.cancel()


def tag_columns_and_links(
    state: TaggingState, inputs: Sequence[TagInput]
) -> list[tuple[dict[str, Any], TopicLinksFound]]:
    """Tag `inputs` and turn each result into mention columns and topic links (any thread)."""
    from listener.nlp.language import normalize_language_code
    from listener.nlp.tagger import get_tagger

    metrics.TAGGED_TEXTS.inc(len(inputs))
    with metrics.TAGGING_SECONDS.time():
        results = get_tagger(state.settings).tag_texts(inputs)
    return [
        (
            mention_columns(
                state, result, from_platform=normalize_language_code(item.language) is not None
            ),
            topic_links(state, result),
        )
        for item, result in zip(inputs, results, strict=True)
    ]


async def start_tagging(
    session: AsyncSession,
    pending: Mapping[MentionKey, tuple[MentionIn, str]],
    known: Mapping[MentionKey, tuple[int, str]],
) -> TaggingJob:
    """Read what tagging needs from the database, then tag in a worker thread.

    The caller goes on with its own database work (authors, say) while spaCy runs, and
    awaits `TaggingJob.result()` when it needs the tags. Only the session is used here,
    before the thread starts; the thread touches no database.
    """
    from listener.nlp.tagger import TagInput

    state = await load_tagging_state(session)
    keys = list(pending)
    inputs = [TagInput(text=pending[k][0].text, language=pending[k][0].language) for k in keys]
    corrected = await latest_corrections(
        session, mention_ids=[known[k][0] for k in keys if k in known]
    )
    future = asyncio.ensure_future(asyncio.to_thread(tag_columns_and_links, state, inputs))
    return TaggingJob(state=state, keys=keys, future=future, corrected=corrected, known=known)


async def tag_pending(
    session: AsyncSession,
    pending: Mapping[MentionKey, tuple[MentionIn, str]],
    known: Mapping[MentionKey, tuple[int, str]],
) -> BatchTags:
    """Tag what ingest is about to store (keyed like its `pending`); corrections stay on top."""
    job = await start_tagging(session, pending, known)
    return await job.result()


async def store_ingested_tags(
    session: AsyncSession,
    tags: BatchTags,
    *,
    known: Mapping[MentionKey, tuple[int, str]],
    new: Mapping[MentionKey, int],
) -> None:
    """After ingest stored its batch (`new`: the new mentions' ids by key), link each
    mention to its topics."""
    ids: dict[MentionKey, int] = {key: known[key][0] for key in tags.columns if key in known}
    ids.update(new)
    links = {ids[key]: found for key, found in tags.links.items() if key in ids}
    updated = [ids[key] for key in tags.columns if key in known]
    await replace_topic_links(session, links, replace=updated)
