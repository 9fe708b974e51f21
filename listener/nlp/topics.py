"""Topic matching on words and light lemmas, plus hashtag/mention/domain facets."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from spacy.lang.lex_attrs import like_url
from spacy.language import Language
from spacy.tokens import Doc, Span

from listener.nlp.extensions import luister_data
from listener.nlp.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from listener.nlp.tokens import (
    DEFAULT_BATCH_SIZE,
    forget_token_strings,
    pipe_in_batches,
    token_strings,
)

SPAN_KEY = "luister_topics"
MAX_CACHED_WORDS = 200_000
VOWELS = "aeiouy"
HASHTAG = re.compile(r"(?<![\w&])#(\w+)", re.UNICODE)
MENTION = re.compile(r"(?<![\w@])@(\w+)", re.UNICODE)


def light_lemma(word: str, language: str | None) -> str:
    """Reduce a lowercase word to a crude lemma with a few suffix rules (no lemmatizer)."""
    if language == "nl":
        return _dutch_lemma(word)
    return _english_lemma(word)


def _english_lemma(word: str) -> str:
    if len(word) <= 3 or not word.isalpha():
        return word
    stem = word
    if stem.endswith("ies") and len(stem) > 4:
        stem = stem[:-3] + "y"
    elif stem.endswith("s") and not stem.endswith(("ss", "us", "is")):
        stem = stem[:-1]
    for suffix in ("ing", "ed"):
        base = stem[: -len(suffix)]
        if stem.endswith(suffix) and len(base) >= 3 and any(c in VOWELS for c in base):
            stem = base
            break
    if stem.endswith("e") and len(stem) > 3:
        stem = stem[:-1]
    if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in VOWELS + "ls":
        stem = stem[:-1]
    return stem


def _dutch_lemma(word: str) -> str:
    if len(word) <= 3 or not word.isalpha():
        return word
    stem = word
    if stem.endswith("en") and len(stem) > 5:
        stem = stem[:-2]
        if stem[-1] == stem[-2] and stem[-1] not in VOWELS:
            stem = stem[:-1]
        elif len(stem) >= 3 and stem[-2] in "aeou" and stem[-3] not in VOWELS + "i":
            stem = stem[:-1] + stem[-2] + stem[-1]
        stem = stem[:-1] + {"z": "s", "v": "f"}.get(stem[-1], stem[-1])
    elif stem.endswith("s") and len(stem) > 4 and stem[-2] in "eorlp":
        stem = stem[:-1]
    return stem


def domain_of(url_text: str) -> str | None:
    """Return the host of a URL-like token without "www.", lowercased."""
    candidate = url_text if "://" in url_text else f"http://{url_text}"
    try:
        host = urlsplit(candidate).hostname
    except ValueError:
        return None
    if not host or "." not in host:
        return None
    return host.removeprefix("www.")


def facets_of(text: str, words: list[str]) -> dict[str, list[str]]:
    """Return the hashtags, @mentions and linked domains of a text (lowercase, unique)."""
    if "#" not in text and "@" not in text and "." not in text:
        return {"hashtags": [], "mentions": [], "domains": []}
    hashtags = HASHTAG.findall(text) if "#" in text else []
    mentions = MENTION.findall(text) if "@" in text else []
    domains = [domain_of(word) for word in words if "." in word and like_url(word)]
    return {
        "hashtags": _unique(tag.lower() for tag in hashtags),
        "mentions": _unique(name.lower() for name in mentions),
        "domains": _unique(domain for domain in domains if domain),
    }


def _unique(values: object) -> list[str]:
    return list(dict.fromkeys(values))  # type: ignore[call-overload]


class TopicMatcher:
    """Match a taxonomy's phrases on lowercase words and light lemmas."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._tables: dict[str | None, dict[str, list[tuple[tuple[str, ...], str]]]] = {}
        self._lemmas: dict[str | None, dict[str, str]] = {}

    def _table(self, language: str | None) -> dict[str, list[tuple[tuple[str, ...], str]]]:
        """Return (lemma phrase, topic) pairs indexed by first lemma, longest first."""
        if language not in self._tables:
            pairs: set[tuple[tuple[str, ...], str]] = set()
            for topic in self.taxonomy.topics:
                for phrase in topic.terms_for(language):
                    key = tuple(light_lemma(word, language) for word in phrase.lower().split())
                    if key:
                        pairs.add((key, topic.key))
            table: dict[str, list[tuple[tuple[str, ...], str]]] = {}
            for key, topic_key in sorted(pairs, key=lambda pair: (-len(pair[0]), pair)):
                table.setdefault(key[0], []).append((key, topic_key))
            self._tables[language] = table
        return self._tables[language]

    def match(self, doc: Doc, language: str | None, lowers: list[str]) -> list[Span]:
        """Return one labelled Span per topic occurrence in the Doc."""
        table = self._table(language)
        if not table:
            return []
        lemma_of = self._lemma_cache(language)
        lemmas = [lemma_of.get(word) or self._remember_lemma(word, language) for word in lowers]
        sequences = [lemmas]
        if len(doc) and doc[0].lemma:
            sequences.append([token.lemma_.lower() for token in doc])
        spans: dict[tuple[int, int, str], Span] = {}
        for words in sequences:
            for start, lemma in enumerate(words):
                for phrase, topic in table.get(lemma, ()):
                    end = start + len(phrase)
                    if (start, end, topic) not in spans and tuple(words[start:end]) == phrase:
                        spans[(start, end, topic)] = Span(doc, start, end, topic)
        return list(spans.values())

    def _lemma_cache(self, language: str | None) -> dict[str, str]:
        return self._lemmas.setdefault(language, {})

    def _remember_lemma(self, word: str, language: str | None) -> str:
        lemma = light_lemma(word, language)
        cache = self._lemma_cache(language)
        if len(cache) < MAX_CACHED_WORDS:
            cache[word] = lemma
        return lemma


def topics_from_spans(spans: list[Span]) -> list[dict[str, object]]:
    """Group matched spans by topic as plain dicts {"topic", "spans": [...]}."""
    grouped: dict[str, list[dict[str, object]]] = {}
    for span in sorted(spans, key=lambda s: (s.start_char, s.end_char)):
        grouped.setdefault(span.label_, []).append(
            {"start": span.start_char, "end": span.end_char, "text": span.text}
        )
    return [{"topic": topic, "spans": found} for topic, found in grouped.items()]


class TopicsComponent:
    """spaCy component writing doc._.topics, doc._.facets and doc.spans["luister_topics"]."""

    def __init__(self, nlp: Language, taxonomy_path: str | None) -> None:
        self.default_language: str = nlp.lang or "xx"
        taxonomy = Taxonomy.from_json_file(taxonomy_path) if taxonomy_path else DEFAULT_TAXONOMY
        self.matcher = TopicMatcher(taxonomy)

    @property
    def taxonomy(self) -> Taxonomy:
        """Return the taxonomy in use."""
        return self.matcher.taxonomy

    def set_taxonomy(self, taxonomy: Taxonomy) -> None:
        """Replace the taxonomy (e.g. after staff edited it)."""
        self.matcher = TopicMatcher(taxonomy)

    def __call__(self, doc: Doc) -> Doc:
        data = luister_data(doc)
        language = data.get("language") or self.default_language
        known = None if language in ("und", "xx") else language
        words, lowers, text = token_strings(doc)
        spans = self.matcher.match(doc, known, lowers)
        if spans:
            doc.spans[SPAN_KEY] = spans
        data["topics"] = topics_from_spans(spans) if spans else []
        data["facets"] = facets_of(text, words)
        forget_token_strings(doc)
        return doc

    def pipe(self, stream: Iterable[Doc], batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[Doc]:
        """Process a stream of Docs batch by batch (used by nlp.pipe)."""
        return pipe_in_batches(self, stream, batch_size)


@Language.factory("luister_topics", default_config={"taxonomy_path": None})
def make_topics_component(nlp: Language, name: str, taxonomy_path: str | None) -> TopicsComponent:
    """Create the topics component (default taxonomy unless a JSON file is given)."""
    return TopicsComponent(nlp, taxonomy_path)
