"""Lexicon sentiment for English and Dutch, and the `luister_sentiment` spaCy component."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import cache

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch

from listener.nlp.classifier import TrainedSentiment
from listener.nlp.extensions import luister_data
from listener.nlp.lexicons import (
    emoji_valences,
    is_emoji_text,
    pattern_dutch_version,
    strip_emoji_modifiers,
    vader_lexicon,
)
from listener.nlp.scores import SentimentScore, label_for
from listener.nlp.sentiment_rules import SentimentRules, dutch_rules, english_rules
from listener.nlp.tokens import DEFAULT_BATCH_SIZE, token_strings

CAPS_BOOST = 0.733
NEGATION_SCALAR = -0.74
EXCLAMATION_BOOST = 0.292
QUESTION_BOOST = 0.18
NEGATION_WINDOW = 3
NORMALIZE_ALPHA = 15.0
SARCASM_VALENCE = -1.5
EMOJI_MODEL_VERSION = "emoji:vader-3.3.2+luister-1"
SENTIMENT_LANGUAGES = ("en", "nl")
CLAUSE_BREAKS = frozenset({".", ",", "!", "?", ";", ":", "…", "-"})
ELONGATION = re.compile(r"(.)\1{2,}")
MAX_CACHED_WORDS = 500_000


def normalize_total(total: float) -> float:
    """Squash a summed valence into [-1, 1] the way VADER's compound score does."""
    return total / math.sqrt(total * total + NORMALIZE_ALPHA)


def dutch_base_forms(word: str) -> list[str]:
    """Guess the base forms of an inflected, comparative or superlative Dutch adjective."""
    forms: list[str] = []
    for suffix in ("ste", "er", "e"):
        stem = word[: -len(suffix)]
        if not word.endswith(suffix) or len(stem) < 3:
            continue
        forms.append(stem)
        last, before = stem[-1], stem[-2]
        if last == before and last not in "aeiou":
            forms.append(stem[:-1])
        restored = {"v": "f", "z": "s"}.get(last, last)
        forms.append(stem[:-1] + restored)
        if before in "aeou" and stem[-3] not in "aeiou" and last not in "aeiou":
            forms.append(stem[:-1] + before + restored)
    return forms


def marker_key(marker: str) -> tuple[str, str]:
    """Return (longest token, padded marker): a marker can only occur if its key does."""
    key = max(marker.split(), key=len)
    return key, f" {marker} "


def is_emoticon(token: str) -> bool:
    """Tell whether a token is a VADER emoticon such as ':)' or ':('."""
    return token in vader_lexicon() and not token.isalnum()


class LexiconScorer:
    """Score token sequences with a lexicon plus negation, boosters, contrast and emphasis."""

    def __init__(self, rules: SentimentRules, neutral_band: float = 0.05) -> None:
        self.rules = rules
        self.neutral_band = neutral_band
        self._valences: dict[str, float | None] = {}
        self._strong_markers = [marker_key(m) for m in rules.strong_sarcasm]
        self._weak_markers = [marker_key(m) for m in rules.weak_sarcasm]
        self._marker_keys = frozenset(key for key, _ in self._strong_markers + self._weak_markers)
        self._phrases_by_first_word: dict[str, list[tuple[tuple[str, ...], float]]] = {}
        for phrase, value in sorted(rules.phrases.items(), key=lambda item: -len(item[0])):
            self._phrases_by_first_word.setdefault(phrase[0], []).append((phrase, value))

    def valence(self, word: str) -> float | None:
        """Return the lexicon valence of a lowercase token, or None."""
        if word in self._valences:
            return self._valences[word]
        found = self._lookup(word)
        if len(self._valences) < MAX_CACHED_WORDS:
            self._valences[word] = found
        return found

    def _lookup(self, word: str) -> float | None:
        lexicon = self.rules.lexicon
        if word in lexicon:
            return lexicon[word]
        if is_emoji_text(word):
            return emoji_valences().get(strip_emoji_modifiers(word))
        candidates = [ELONGATION.sub(r"\1\1", word), ELONGATION.sub(r"\1", word)]
        if self.rules.inflections:
            candidates += dutch_base_forms(word)
        for candidate in candidates:
            if candidate in lexicon:
                return lexicon[candidate]
        return None

    def score_words(self, words: Sequence[str], lowers: list[str] | None = None) -> SentimentScore:
        """Score one text given as its tokens (and, optionally, their lowercase forms)."""
        if lowers is None:
            lowers = [word.lower() for word in words]
        present = set(lowers)
        valences = self._word_valences(words, lowers, present)
        if not self.rules.contrast_words.isdisjoint(present):
            self._apply_contrast(lowers, valences)
        total = sum(valences)
        total = self._apply_sarcasm(lowers, present, valences, total)
        total = self._apply_punctuation(lowers, total)
        score = round(normalize_total(total), 4)
        return SentimentScore(label_for(score, self.neutral_band), score, self.rules.model_version)

    def _word_valences(
        self, words: Sequence[str], lowers: list[str], present: set[str]
    ) -> list[float]:
        count = len(lowers)
        valences = [0.0] * count
        covered = (
            self._apply_phrases(lowers, valences)
            if not present.isdisjoint(self._phrases_by_first_word)
            else None
        )
        cache = self._valences
        found = [cache[word] if word in cache else self.valence(word) for word in lowers]
        boosters = self.rules.boosters
        shouting: bool | None = None
        for index, value in enumerate(found):
            if not value or (covered is not None and covered[index]):
                continue
            word = lowers[index]
            # "erg", "echt", "super" boost the next sentiment word instead of scoring.
            if word in boosters and index + 1 < count and found[index + 1]:
                continue
            sign = 1.0 if value > 0 else -1.0
            original = words[index]
            if len(original) > 1 and original.isupper():
                if shouting is None:
                    shouting = mixed_caps(words)
                if shouting:
                    value += CAPS_BOOST * sign
            if index:
                boost, negated = self._look_back(words, lowers, index, bool(shouting))
                value += sign * boost
                if negated:
                    value *= NEGATION_SCALAR
            valences[index] = value
        return valences

    def _look_back(
        self, words: Sequence[str], lowers: list[str], index: int, shouting: bool
    ) -> tuple[float, bool]:
        """Return the boost from preceding intensifiers and whether a negator precedes."""
        # Both look at most three words back and stop at punctuation; a contrast word
        # ("but", "maar") also ends the reach of a negation.
        rules = self.rules
        boost = 0.0
        negated = False
        negation_open = True
        for distance in range(1, min(NEGATION_WINDOW, index) + 1):
            position = index - distance
            previous = lowers[position]
            if previous in CLAUSE_BREAKS:
                break
            step = rules.boosters.get(previous)
            if step is not None:
                if shouting and words[position].isupper():
                    step += CAPS_BOOST if step > 0 else -CAPS_BOOST
                boost += step * (1.0 - 0.05 * (distance - 1))
            if previous in rules.contrast_words:
                negation_open = False
            elif negation_open and not negated and previous in rules.negators:
                negated = True
        return boost, negated

    def _apply_phrases(self, lowers: list[str], valences: list[float]) -> list[bool]:
        covered = [False] * len(lowers)
        for start, word in enumerate(lowers):
            candidates = self._phrases_by_first_word.get(word)
            if not candidates or covered[start]:
                continue
            for phrase, value in candidates:
                end = start + len(phrase)
                if tuple(lowers[start:end]) == phrase and not any(covered[start:end]):
                    valences[start] = value
                    covered[start:end] = [True] * len(phrase)
                    break
        return covered

    def _apply_contrast(self, lowers: list[str], valences: list[float]) -> None:
        pivot = max(i for i, word in enumerate(lowers) if word in self.rules.contrast_words)
        for index in range(len(valences)):
            if index < pivot:
                valences[index] *= 0.5
            elif index > pivot:
                valences[index] *= 1.5

    def _apply_sarcasm(
        self, lowers: list[str], present: set[str], valences: list[float], total: float
    ) -> float:
        if self._marker_keys.isdisjoint(present):
            return total
        strong = [m for key, m in self._strong_markers if key in present]
        weak = [m for key, m in self._weak_markers if key in present]
        if not strong and not weak:
            return total
        joined = f" {' '.join(lowers)} "
        # Sarcasm turns the praise words around: their valence counts as negative.
        inverted = -sum(abs(value) for value in valences)
        if any(marker in joined for marker in strong):
            return inverted or SARCASM_VALENCE
        mixed = min(valences) < 0 < max(valences)
        if mixed and any(marker in joined for marker in weak):
            return inverted
        return total

    @staticmethod
    def _apply_punctuation(lowers: list[str], total: float) -> float:
        if not total:
            return total
        exclamations = min(lowers.count("!"), 4)
        questions = lowers.count("?")
        emphasis = exclamations * EXCLAMATION_BOOST
        if questions > 1:
            emphasis += min(questions * QUESTION_BOOST, 0.96)
        return total + emphasis if total > 0 else total - emphasis


def mixed_caps(words: Sequence[str]) -> bool:
    """Tell whether some words, but not all, are written in capitals (shouting)."""
    alphabetic = [word for word in words if word.isalpha() and len(word) > 1]
    shouted = sum(1 for word in alphabetic if word.isupper())
    return 0 < shouted < len(alphabetic)


def score_emoji_only(words: Sequence[str], neutral_band: float = 0.05) -> SentimentScore | None:
    """Score a text made only of emoji and emoticons; None when it holds any words."""
    symbols = [word for word in words if word.strip() and word not in CLAUSE_BREAKS]
    if not symbols or not all(is_emoji_text(w) or is_emoticon(w.lower()) for w in symbols):
        return None
    emoji = emoji_valences()
    total = math.fsum(
        emoji.get(strip_emoji_modifiers(word), 0.0) or vader_lexicon().get(word.lower(), 0.0)
        for word in symbols
    )
    score = round(normalize_total(total), 4)
    return SentimentScore(label_for(score, neutral_band), score, EMOJI_MODEL_VERSION)


@cache
def rules_for(language: str) -> SentimentRules | None:
    """Return the sentiment rules for a language, built once per process, or None."""
    if language == "en":
        return english_rules()
    if language == "nl":
        return dutch_rules(pattern_dutch_version())
    return None


@cache
def scorer_for(language: str, neutral_band: float = 0.05) -> LexiconScorer | None:
    """Return the shared lexicon scorer for a language, or None when it has no model."""
    rules = rules_for(language)
    return LexiconScorer(rules, neutral_band) if rules else None


def score_text_words(
    words: Sequence[str],
    language: str,
    neutral_band: float = 0.05,
    lowers: list[str] | None = None,
) -> SentimentScore | None:
    """Score tokens in a language; emoji-only texts are scored in any language."""
    scorer = scorer_for(language, neutral_band)
    if scorer is not None:
        return scorer.score_words(words, lowers)
    return score_emoji_only(words, neutral_band)


class SentimentComponent:
    """spaCy component writing sentiment_label, sentiment_score and sentiment_model.

    With a trained classifier (`model_path`), texts in the pipeline's own language are scored
    by it instead of the lexicon; emoji-only texts keep the emoji lexicon, which the
    bag-of-words classifier cannot know.
    """

    def __init__(
        self,
        nlp: Language,
        neutral_band: float,
        model_path: str | None = None,
        model_version: str | None = None,
    ) -> None:
        self.default_language: str = nlp.lang or "xx"
        self.neutral_band = neutral_band
        self.classifier: TrainedSentiment | None = None
        if model_path:
            version = model_version or f"textcat-{self.default_language}:{model_path}"
            self.classifier = TrainedSentiment(model_path, version, neutral_band)

    def __call__(self, doc: Doc) -> Doc:
        self._score_batch([doc])
        return doc

    def _score_batch(self, docs: Sequence[Doc]) -> None:
        classify: list[tuple[Doc, str]] = []
        for doc in docs:
            data = luister_data(doc)
            language = data.get("language") or self.default_language
            words, lowers, text = token_strings(doc)
            if self.classifier is not None and language == self.default_language:
                emoji = score_emoji_only(words, self.neutral_band)
                if emoji is None:
                    classify.append((doc, text))
                    continue
                _write(data, emoji)
            else:
                _write(data, score_text_words(words, language, self.neutral_band, lowers))
        if classify and self.classifier is not None:
            scores = self.classifier.score_many([text for _, text in classify])
            for (doc, _), result in zip(classify, scores, strict=True):
                _write(luister_data(doc), result)

    def pipe(self, stream: Iterable[Doc], batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[Doc]:
        """Process a stream of Docs batch by batch (used by nlp.pipe)."""
        for batch in minibatch(stream, size=batch_size):
            self._score_batch(batch)
            yield from batch


def _write(data: dict[str, object], result: SentimentScore | None) -> None:
    if result is None:
        data["sentiment_label"] = data["sentiment_score"] = data["sentiment_model"] = None
    else:
        data["sentiment_label"] = result.label
        data["sentiment_score"] = result.score
        data["sentiment_model"] = result.model_version


@Language.factory(
    "luister_sentiment",
    default_config={"neutral_band": 0.05, "model_path": None, "model_version": None},
)
def make_sentiment_component(
    nlp: Language,
    name: str,
    neutral_band: float,
    model_path: str | None,
    model_version: str | None,
) -> SentimentComponent:
    """Create the sentiment component: lexicons (English, Dutch, emoji) or a trained textcat."""
    return SentimentComponent(nlp, neutral_band, model_path, model_version)
