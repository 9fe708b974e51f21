"""Training a bag-of-words textcat from labelled examples and comparing it with the lexicon."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from listener.nlp.train import (
    LabelledExample,
    TrainingOutcome,
    load_textcat,
    predict_labels,
    split_heldout,
    train_and_compare,
)


def read_examples(path: Path) -> list[LabelledExample]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [LabelledExample(row["text"], row["label"]) for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def outcome(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainingOutcome:
    """Train once on the Dutch test set (80/20 split) into a temporary directory."""
    directory = tmp_path_factory.mktemp("models")
    examples = read_examples(data_dir / "sentiment_nl.csv")
    return train_and_compare(examples, "nl", directory, epochs=6)


def test_split_keeps_every_label_in_both_parts() -> None:
    examples = [
        LabelledExample(f"text {i}", label)
        for i in range(10)
        for label in ("positive", "negative", "neutral")
    ]
    train, heldout = split_heldout(examples, fraction=0.2)
    assert len(train) + len(heldout) == len(examples)
    assert (
        {e.label for e in heldout}
        == {e.label for e in train}
        == {"positive", "negative", "neutral"}
    )
    assert not {e.text + e.label for e in train} & {e.text + e.label for e in heldout}


def test_outcome_reports_both_scores_on_the_same_heldout_set(outcome: TrainingOutcome) -> None:
    assert outcome.heldout_size == outcome.trained["total"] == outcome.lexicon["total"]
    assert outcome.train_size + outcome.heldout_size >= 400
    assert 0.0 <= outcome.trained["accuracy"] <= 1.0
    assert outcome.better_than_lexicon == (
        outcome.trained["macro_f1"] > outcome.lexicon["macro_f1"]
    )


def test_model_is_saved_versioned_with_its_scores(outcome: TrainingOutcome) -> None:
    path = Path(outcome.path)
    assert path.name == "v1" and path.parent.name == "nl"
    assert outcome.model_version == "textcat-nl:v1"
    scores = json.loads((path / "scores.json").read_text())
    assert scores["lexicon"]["accuracy"] == outcome.lexicon["accuracy"]


def test_saved_model_loads_and_predicts_labels(outcome: TrainingOutcome) -> None:
    nlp = load_textcat(outcome.path)
    labels = predict_labels(nlp, ["Wat een geweldige service, dank jullie wel!"])
    assert labels[0] in {"positive", "neutral", "negative"}


def test_next_training_gets_the_next_version(tmp_path: Path) -> None:
    examples = [
        LabelledExample("heel goed", "positive"),
        LabelledExample("heel slecht", "negative"),
        LabelledExample("het is dinsdag", "neutral"),
    ] * 4
    first = train_and_compare(examples, "nl", tmp_path, heldout=examples[:3], epochs=2)
    second = train_and_compare(examples, "nl", tmp_path, heldout=examples[:3], epochs=2)
    assert (Path(first.path).name, Path(second.path).name) == ("v1", "v2")


def test_training_needs_examples(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        train_and_compare([], "nl", tmp_path)
