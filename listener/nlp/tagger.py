"""Per-language pipelines built once per process, and the batch API `tag_texts`."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, Literal

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from listener.nlp import intent as _intent  # noqa: F401  (registers luister_intent)
from listener.nlp import sentiment as _sentiment  # noqa: F401  (registers luister_sentiment)
from listener.nlp.extensions import RESULTS_KEY, luister_data
from listener.nlp.language import (
    DEFAULT_LANGUAGES,
    DEFAULT_THRESHOLD,
    UNDETERMINED,
    LanguageGuesser,
    normalize_language_code,
)
from listener.nlp.lexicons import package_version
from listener.nlp.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from listener.nlp.topics import TopicsComponent

NLP_VERSION = "1"
MULTI_LANGUAGE = "xx"
COMPONENTS = ("luister_language", "luister_sentiment", "luister_intent", "luister_topics")


@dataclass(frozen=True)
class NlpSettings:
    """Tagging settings; every default works with no configuration at all."""

    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    language_threshold: float = DEFAULT_THRESHOLD
    preload_language_models: bool = True
    # "low": lingua's trigram-only mode, for workers that must stay small (about 20 MiB for
    # the five default languages instead of about 170 MiB); less accurate on short posts.
    language_accuracy: Literal["high", "low"] = "high"
    neutral_band: float = 0.05
    batch_size: int = 512
    taxonomy: Taxonomy = DEFAULT_TAXONOMY
    # Trained sentiment classifiers that replace the lexicon: (language, directory, version).
    sentiment_models: tuple[tuple[str, str, str], ...] = ()

    @property
    def low_accuracy_detection(self) -> bool:
        """Whether lingua runs in its low accuracy (trigram-only) mode."""
        return self.language_accuracy == "low"

    def sentiment_model_for(self, language: str) -> tuple[str, str] | None:
        """Return (directory, version) of the trained classifier for a language, if any."""
        for code, path, version in self.sentiment_models:
            if code == language:
                return path, version
        return None


@dataclass(frozen=True)
class TagInput:
    """One text to tag; `language` is the platform's own language field, if any."""

    text: str
    id: str | int | None = None
    language: str | None = None


@dataclass(slots=True)
class TopicSpan:
    """Where a topic term was found: character offsets into the text, and the text."""

    start: int
    end: int
    text: str


@dataclass(slots=True)
class TopicMatch:
    """A topic and the spans that matched it."""

    topic: str
    spans: tuple[TopicSpan, ...]


@dataclass(slots=True)
class Facets:
    """Hashtags, @mentions and linked domains found in a text."""

    hashtags: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()


@dataclass(slots=True)
class TagResult:
    """Everything the pipeline says about one text."""

    id: str | int | None
    language: str
    language_confidence: float
    sentiment_label: str | None
    sentiment_score: float | None
    intents: tuple[str, ...]
    topics: tuple[TopicMatch, ...]
    facets: Facets = field(default_factory=Facets)
    sentiment_model: str | None = None
    model_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape used by `luister nlp tag`."""
        return {
            "id": self.id,
            "language": self.language,
            "language_confidence": self.language_confidence,
            "sentiment": {"label": self.sentiment_label, "score": self.sentiment_score},
            "intents": list(self.intents),
            "topics": [match.topic for match in self.topics],
            "topic_spans": {
                match.topic: [[span.start, span.end, span.text] for span in match.spans]
                for match in self.topics
            },
            "facets": {
                "hashtags": list(self.facets.hashtags),
                "mentions": list(self.facets.mentions),
                "domains": list(self.facets.domains),
            },
            "model_version": self.model_version,
        }


@contextmanager
def paused_garbage_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is tagged."""
    # A batch allocates many short-lived containers; letting the collector scan them
    # repeatedly costs about 15% of the tagging time. Collection resumes afterwards.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@cache
def blank_language_for(code: str) -> str:
    """Return a spaCy language code usable with spacy.blank, "xx" when unsupported."""
    if code == UNDETERMINED:
        return MULTI_LANGUAGE
    try:
        spacy.util.get_lang_class(code)
    except ImportError:
        return MULTI_LANGUAGE
    return code


def build_pipeline(language: str, settings: NlpSettings) -> Language:
    """Build spacy.blank(language) plus the four Luister components."""
    nlp = spacy.blank(blank_language_for(language))
    nlp.add_pipe(
        "luister_language",
        config={
            "languages": list(settings.languages),
            "threshold": settings.language_threshold,
            "preload": settings.preload_language_models,
            "low_accuracy": settings.low_accuracy_detection,
        },
    )
    trained = settings.sentiment_model_for(language)
    nlp.add_pipe(
        "luister_sentiment",
        config={
            "neutral_band": settings.neutral_band,
            "model_path": trained[0] if trained else None,
            "model_version": trained[1] if trained else None,
        },
    )
    nlp.add_pipe("luister_intent")
    topics = nlp.add_pipe("luister_topics")
    if isinstance(topics, TopicsComponent):
        topics.set_taxonomy(settings.taxonomy)
    return nlp


class Tagger:
    """Tags texts in batches with one reusable pipeline per language."""

    def __init__(self, settings: NlpSettings | None = None) -> None:
        self.settings = settings or NlpSettings()
        self.guesser = LanguageGuesser(
            self.settings.languages,
            self.settings.language_threshold,
            self.settings.preload_language_models,
            self.settings.low_accuracy_detection,
        )
        self._pipelines: dict[str, Language] = {}
        # spaCy pipelines are not thread-safe; callers may tag from worker threads.
        self._lock = threading.Lock()
        self.version_prefix = (
            f"luister-nlp-{NLP_VERSION};lingua-{package_version('lingua-language-detector')}"
            f"{'-low' if self.settings.low_accuracy_detection else ''};"
            f"taxonomy-{self.settings.taxonomy.version}"
        )

    def pipeline(self, language: str) -> Language:
        """Return the pipeline for a language code, built on first use."""
        key = blank_language_for(language)
        if key not in self._pipelines:
            self._pipelines[key] = build_pipeline(key, self.settings)
        return self._pipelines[key]

    def warm_up(self, languages: Iterable[str] | None = None, *, detector: bool = True) -> None:
        """Build pipelines (default: every configured one) and the detector now, not on first use.

        A worker that wants to stay small builds only the languages it mostly sees and leaves
        the detector (about 190 MiB for five languages) to the first text without a language.
        """
        chosen = (*self.settings.languages, UNDETERMINED) if languages is None else languages
        for language in chosen:
            self.pipeline(language)
        # One text per language loads what the components load on first use (the lexicons).
        self.tag_texts(
            [TagInput("warm up", language=code) for code in chosen if code != UNDETERMINED]
        )
        if detector:
            self.guesser.detect("warm up the language detector")

    def tag_texts(self, items: Iterable[TagInput | str]) -> list[TagResult]:
        """Tag many texts (in input order), grouping them by language for nlp.pipe."""
        inputs = [item if isinstance(item, TagInput) else TagInput(text=item) for item in items]
        results: list[TagResult | None] = [None] * len(inputs)
        with self._lock:
            decided = self._decide_languages(inputs)
            groups: dict[str, list[int]] = {}
            for index, (language, _, _) in enumerate(decided):
                groups.setdefault(blank_language_for(language), []).append(index)
            with paused_garbage_collection():
                self._tag_groups(inputs, decided, groups, results)
        return [result for result in results if result is not None]

    def _tag_groups(
        self,
        inputs: list[TagInput],
        decided: list[tuple[str, float, bool]],
        groups: dict[str, list[int]],
        results: list[TagResult | None],
    ) -> None:
        for pipeline_language, indices in groups.items():
            nlp = self.pipeline(pipeline_language)
            docs = (self._prepared_doc(nlp, inputs[i].text, decided[i]) for i in indices)
            for index, doc in zip(
                indices, nlp.pipe(docs, batch_size=self.settings.batch_size), strict=True
            ):
                results[index] = self._result(inputs[index].id, doc)

    def tag_text(self, text: str, language: str | None = None) -> TagResult:
        """Tag a single text."""
        return self.tag_texts([TagInput(text=text, language=language)])[0]

    def _decide_languages(self, inputs: list[TagInput]) -> list[tuple[str, float, bool]]:
        """Return (language, confidence, from platform) per input; detect the rest at once."""
        decided: list[tuple[str, float, bool]] = []
        undecided: list[int] = []
        for index, item in enumerate(inputs):
            platform = normalize_language_code(item.language)
            decided.append((platform or UNDETERMINED, 1.0 if platform else 0.0, bool(platform)))
            if not platform:
                undecided.append(index)
        if undecided:
            detected = self.guesser.detect_many([inputs[index].text for index in undecided])
            for index, (language, confidence) in zip(undecided, detected, strict=True):
                decided[index] = (language, confidence, False)
        return decided

    @staticmethod
    def _prepared_doc(nlp: Language, text: str, decided: tuple[str, float, bool]) -> Doc:
        doc = nlp.make_doc(text)
        language, confidence, from_platform = decided
        if from_platform:
            doc.user_data[RESULTS_KEY] = {"platform_language": language}
        else:
            doc.user_data[RESULTS_KEY] = {"language": language, "language_confidence": confidence}
        return doc

    def _result(self, item_id: str | int | None, doc: Doc) -> TagResult:
        data = luister_data(doc)
        facets = data.get("facets") or {}
        sentiment_model = data.get("sentiment_model")
        return TagResult(
            id=item_id,
            language=data.get("language") or UNDETERMINED,
            language_confidence=data.get("language_confidence") or 0.0,
            sentiment_label=data.get("sentiment_label"),
            sentiment_score=data.get("sentiment_score"),
            intents=tuple(data.get("intents") or ()),
            topics=tuple(
                TopicMatch(
                    topic=str(match["topic"]),
                    spans=tuple(TopicSpan(**span) for span in match["spans"]),
                )
                for match in data.get("topics") or ()
            ),
            facets=Facets(
                hashtags=tuple(facets.get("hashtags", ())),
                mentions=tuple(facets.get("mentions", ())),
                domains=tuple(facets.get("domains", ())),
            ),
            sentiment_model=sentiment_model,
            model_version=f"{self.version_prefix};sentiment-{sentiment_model or 'none'}",
        )


def get_tagger(settings: NlpSettings | None = None) -> Tagger:
    """Return the process-wide Tagger for these settings (pipelines are built once)."""
    return _shared_tagger(settings or NlpSettings())


# Bounded: every taxonomy edit or newly activated model makes new settings, hence a new Tagger.
@lru_cache(maxsize=4)
def _shared_tagger(settings: NlpSettings) -> Tagger:
    return Tagger(settings)


def tag_texts(
    items: Sequence[TagInput | str] | Iterable[TagInput | str],
    settings: NlpSettings | None = None,
) -> list[TagResult]:
    """Tag texts with the shared Tagger for these settings."""
    return get_tagger(settings).tag_texts(items)
