"""Metrics: accuracy, macro-F1, confusion matrix and multi-label intent scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from listener.nlp.evaluation import classification_report, intent_report, read_labelled_file


def test_classification_report_counts_and_scores() -> None:
    report = classification_report(
        ["positive", "positive", "negative", "neutral"],
        ["positive", "negative", "negative", "neutral"],
        ("negative", "neutral", "positive"),
    )
    assert report.accuracy == 0.75
    assert report.confusion["positive"] == {"negative": 1, "neutral": 0, "positive": 1}
    assert report.per_label_f1 == {"negative": 0.6667, "neutral": 1.0, "positive": 0.6667}
    assert report.macro_f1 == pytest.approx((0.6667 + 1.0 + 0.6667) / 3, abs=1e-4)


def test_missing_predictions_get_their_own_column() -> None:
    report = classification_report(["positive"], ["none"], ("negative", "neutral", "positive"))
    assert report.confusion["positive"]["none"] == 1
    assert report.accuracy == 0.0


def test_intent_report_scores_sets() -> None:
    report = intent_report(
        [("question",), ("complaint", "question"), ()], [("question",), ("complaint",), ("praise",)]
    )
    assert report["exact_match"] == pytest.approx(1 / 3, abs=1e-4)
    assert report["per_intent_f1"]["complaint"] == 1.0
    assert report["per_intent_f1"]["question"] == pytest.approx(0.6667, abs=1e-4)


def test_labelled_files_split_intents(data_dir: Path) -> None:
    examples = read_labelled_file(data_dir / "sentiment_nl.csv")
    first = examples[0]
    assert first.label == "negative"
    assert first.intents == ("complaint", "question")
    assert {example.label for example in examples} == {"positive", "neutral", "negative"}
