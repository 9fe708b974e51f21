"""Accuracy, macro-F1 and confusion matrices for labelled texts, with no database."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from listener.nlp.labels import INTENTS, SENTIMENT_LABELS
from listener.nlp.tagger import Tagger, TagInput

NO_LABEL = "none"


@dataclass(frozen=True)
class LabelledText:
    """A text with its expected sentiment label and, optionally, intents and language."""

    label: str
    text: str
    intents: tuple[str, ...] | None = None
    language: str | None = None


@dataclass(frozen=True)
class ClassificationReport:
    """Accuracy, macro-F1, per-label F1 and the confusion matrix (rows: expected)."""

    total: int
    accuracy: float
    macro_f1: float
    per_label_f1: dict[str, float]
    labels: tuple[str, ...]
    confusion: dict[str, dict[str, int]]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "total": self.total,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_label_f1": self.per_label_f1,
            "labels": list(self.labels),
            "confusion": self.confusion,
        }


def f1_score(true_positive: int, false_positive: int, false_negative: int) -> float:
    """Return F1 from counts (0.0 when undefined)."""
    denominator = 2 * true_positive + false_positive + false_negative
    return 2 * true_positive / denominator if denominator else 0.0


def classification_report(
    expected: Sequence[str], predicted: Sequence[str], labels: Iterable[str] = ()
) -> ClassificationReport:
    """Compare predicted labels with expected ones."""
    all_labels = tuple(dict.fromkeys([*labels, *sorted(set(expected) | set(predicted))]))
    confusion = {row: dict.fromkeys(all_labels, 0) for row in all_labels}
    for truth, guess in zip(expected, predicted, strict=True):
        confusion[truth][guess] += 1
    per_label = {}
    for label in all_labels:
        true_positive = confusion[label][label]
        false_positive = sum(confusion[row][label] for row in all_labels) - true_positive
        false_negative = sum(confusion[label].values()) - true_positive
        per_label[label] = round(f1_score(true_positive, false_positive, false_negative), 4)
    scored = [label for label in all_labels if sum(confusion[label].values())]
    total = len(expected)
    correct = sum(confusion[label][label] for label in all_labels)
    return ClassificationReport(
        total=total,
        accuracy=round(correct / total, 4) if total else 0.0,
        macro_f1=round(sum(per_label[label] for label in scored) / len(scored), 4)
        if scored
        else 0.0,
        per_label_f1=per_label,
        labels=all_labels,
        confusion=confusion,
    )


def intent_report(
    expected: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> dict[str, Any]:
    """Score multi-label intents: exact-set accuracy, micro-F1 and F1 per intent."""
    counts = {intent: [0, 0, 0] for intent in INTENTS}
    exact = 0
    for truth, guess in zip(expected, predicted, strict=True):
        truth_set, guess_set = set(truth), set(guess)
        exact += truth_set == guess_set
        for intent in INTENTS:
            counts[intent][0] += intent in truth_set and intent in guess_set
            counts[intent][1] += intent in guess_set and intent not in truth_set
            counts[intent][2] += intent in truth_set and intent not in guess_set
    totals = [sum(values[i] for values in counts.values()) for i in range(3)]
    return {
        "exact_match": round(exact / len(expected), 4) if expected else 0.0,
        "micro_f1": round(f1_score(*totals), 4),
        "per_intent_f1": {intent: round(f1_score(*values), 4) for intent, values in counts.items()},
    }


def read_labelled_file(path: str | Path, delimiter: str = ",") -> list[LabelledText]:
    """Read a CSV/TSV file with columns label,text and optional intents,language."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        fields = set(reader.fieldnames or ())
        if not {"label", "text"} <= fields:
            raise ValueError(f"{path}: needs the columns label and text, found {sorted(fields)}")
        return [
            LabelledText(
                label=row["label"].strip().lower(),
                text=row["text"],
                intents=tuple(sorted(filter(None, row["intents"].split(";"))))
                if "intents" in fields and row["intents"] is not None
                else None,
                language=(row.get("language") or "").strip() or None,
            )
            for row in reader
        ]


def evaluate_texts(
    tagger: Tagger, examples: Sequence[LabelledText], language: str | None = None
) -> dict[str, Any]:
    """Tag labelled texts and report sentiment (and intents when labelled)."""
    results = tagger.tag_texts(
        TagInput(text=example.text, id=index, language=language or example.language)
        for index, example in enumerate(examples)
    )
    predicted = [result.sentiment_label or NO_LABEL for result in results]
    report: dict[str, Any] = {
        "sentiment": classification_report(
            [example.label for example in examples], predicted, SENTIMENT_LABELS
        ).to_dict()
    }
    labelled = [
        (example.intents, result.intents)
        for example, result in zip(examples, results, strict=True)
        if example.intents is not None
    ]
    if labelled:
        report["intents"] = intent_report(
            [truth or () for truth, _ in labelled], [guess for _, guess in labelled]
        )
    return report
