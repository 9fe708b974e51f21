"""Accuracy floors on the hand-labelled English and Dutch test sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from listener.nlp.evaluation import classification_report, evaluate_texts, read_labelled_file
from listener.nlp.tagger import Tagger

# Measured when the floors were set (language given): EN sentiment 0.799, NL 0.824;
# intents micro-F1 EN 0.866, NL 0.860. With detection: EN 0.760, NL 0.797.
SENTIMENT_FLOOR = {"en": 0.77, "nl": 0.80}
SENTIMENT_FLOOR_DETECTED = {"en": 0.73, "nl": 0.77}
INTENT_MICRO_F1_FLOOR = {"en": 0.84, "nl": 0.83}
MIN_EXAMPLES = 400


@pytest.fixture(scope="module")
def reports(tagger: Tagger, data_dir: Path) -> dict[str, dict[str, Any]]:
    """Evaluate both languages once, with the language given and detected."""
    found: dict[str, dict[str, Any]] = {}
    for language in ("en", "nl"):
        examples = read_labelled_file(data_dir / f"sentiment_{language}.csv")
        found[language] = evaluate_texts(tagger, examples, language)
        found[f"{language}-detected"] = evaluate_texts(tagger, examples)
        found[f"{language}-count"] = {"examples": len(examples)}
    return found


@pytest.mark.parametrize("language", ["en", "nl"])
def test_test_set_has_enough_examples_per_language(
    reports: dict[str, dict[str, Any]], language: str
) -> None:
    assert reports[f"{language}-count"]["examples"] >= MIN_EXAMPLES


@pytest.mark.parametrize("language", ["en", "nl"])
def test_sentiment_accuracy_stays_above_floor(
    reports: dict[str, dict[str, Any]], language: str
) -> None:
    assert reports[language]["sentiment"]["accuracy"] >= SENTIMENT_FLOOR[language]


@pytest.mark.parametrize("language", ["en", "nl"])
def test_sentiment_accuracy_with_detected_language_stays_above_floor(
    reports: dict[str, dict[str, Any]], language: str
) -> None:
    report = reports[f"{language}-detected"]["sentiment"]
    assert report["accuracy"] >= SENTIMENT_FLOOR_DETECTED[language]


@pytest.mark.parametrize("language", ["en", "nl"])
def test_intent_micro_f1_stays_above_floor(
    reports: dict[str, dict[str, Any]], language: str
) -> None:
    assert reports[language]["intents"]["micro_f1"] >= INTENT_MICRO_F1_FLOOR[language]


def test_english_sentiment_is_at_least_as_accurate_as_vader_alone(
    reports: dict[str, dict[str, Any]], data_dir: Path
) -> None:
    examples = read_labelled_file(data_dir / "sentiment_en.csv")
    analyzer = SentimentIntensityAnalyzer()

    def vader_label(text: str) -> str:
        compound = analyzer.polarity_scores(text)["compound"]
        return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"

    vader = classification_report(
        [example.label for example in examples], [vader_label(e.text) for e in examples]
    )
    assert reports["en"]["sentiment"]["accuracy"] >= vader.accuracy
