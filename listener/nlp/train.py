"""Train a bag-of-words spaCy text classifier per language and compare it with the lexicon.

Pure functions, no database: the caller supplies (text, label) examples (staff corrections
plus an optional labelled file) and a directory; the model is saved there, versioned, with
its held-out score next to the lexicon's. The caller activates it only when it is better.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.training import Example
from spacy.util import minibatch
from thinc.api import compounding, fix_random_seed

from listener.nlp.evaluation import ClassificationReport, classification_report
from listener.nlp.labels import SENTIMENT_LABELS
from listener.nlp.sentiment import score_text_words

BOW_MODEL = {
    "@architectures": "spacy.TextCatBOW.v3",
    "exclusive_classes": True,
    "ngram_size": 2,
    "no_output_layer": False,
    "length": 262144,
}
VERSION_DIR = re.compile(r"^v(\d+)$")
SCORES_FILE = "scores.json"
DEFAULT_EPOCHS = 12
DEFAULT_DROPOUT = 0.2


@dataclass(frozen=True)
class LabelledExample:
    """One training or evaluation text with its sentiment label."""

    text: str
    label: str


@dataclass(frozen=True)
class TrainingOutcome:
    """Where the model was saved and how it compares with the lexicon on held-out data."""

    language: str
    model_version: str
    path: str
    train_size: int
    heldout_size: int
    trained: dict[str, Any]
    lexicon: dict[str, Any]
    better_than_lexicon: bool

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def split_heldout(
    examples: Sequence[LabelledExample], fraction: float = 0.2, seed: int = 13
) -> tuple[list[LabelledExample], list[LabelledExample]]:
    """Split examples into (train, held-out), keeping each label's share."""
    by_label: dict[str, list[LabelledExample]] = {}
    for example in examples:
        by_label.setdefault(example.label, []).append(example)
    rng = random.Random(seed)
    train: list[LabelledExample] = []
    heldout: list[LabelledExample] = []
    for label in sorted(by_label):
        group = list(by_label[label])
        rng.shuffle(group)
        cut = max(1, round(len(group) * fraction)) if len(group) > 1 else 0
        heldout.extend(group[:cut])
        train.extend(group[cut:])
    return train, heldout


def train_textcat(
    examples: Sequence[LabelledExample],
    language: str,
    *,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 13,
) -> Language:
    """Train spacy.blank(language) + a bag-of-words textcat on the examples."""
    fix_random_seed(seed)
    nlp = spacy.blank(language)
    textcat = nlp.add_pipe("textcat", config={"model": BOW_MODEL})
    labels = sorted({example.label for example in examples} | set(SENTIMENT_LABELS))
    for label in labels:
        textcat.add_label(label)  # type: ignore[attr-defined]
    training = [
        Example.from_dict(
            nlp.make_doc(example.text),
            {"cats": {label: float(label == example.label) for label in labels}},
        )
        for example in examples
    ]
    optimizer = nlp.initialize(lambda: training)
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(training)
        for batch in minibatch(training, size=compounding(4.0, 32.0, 1.001)):
            nlp.update(batch, sgd=optimizer, drop=DEFAULT_DROPOUT, losses={})
    return nlp


def predict_labels(nlp: Language, texts: Iterable[str]) -> list[str]:
    """Return the most likely label per text."""
    return [max(doc.cats, key=doc.cats.__getitem__) for doc in nlp.pipe(texts)]


def evaluate_textcat(nlp: Language, examples: Sequence[LabelledExample]) -> ClassificationReport:
    """Score a trained classifier on labelled examples."""
    predicted = predict_labels(nlp, (example.text for example in examples))
    return classification_report([e.label for e in examples], predicted, SENTIMENT_LABELS)


def evaluate_lexicon(examples: Sequence[LabelledExample], language: str) -> ClassificationReport:
    """Score the lexicon sentiment model on the same labelled examples."""
    tokenizer = spacy.blank(language).tokenizer
    predicted = []
    for example in examples:
        words = [token.text for token in tokenizer(example.text)]
        result = score_text_words(words, language)
        predicted.append(result.label if result else "none")
    return classification_report([e.label for e in examples], predicted, SENTIMENT_LABELS)


def next_version_dir(directory: Path, language: str, at_least: int = 1) -> Path:
    """Return directory/<language>/v<N+1>, one past the highest existing version (>= at_least)."""
    base = directory / language
    versions = [
        int(match.group(1))
        for child in (base.iterdir() if base.is_dir() else ())
        if child.is_dir() and (match := VERSION_DIR.match(child.name))
    ]
    return base / f"v{max(max(versions, default=0) + 1, at_least)}"


def train_and_compare(
    examples: Sequence[LabelledExample],
    language: str,
    directory: str | Path,
    *,
    heldout: Sequence[LabelledExample] | None = None,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 13,
    min_version: int = 1,
) -> TrainingOutcome:
    """Train on the examples, score model and lexicon on held-out data, save versioned."""
    if heldout is None:
        train, heldout = split_heldout(examples, seed=seed)
    else:
        train = list(examples)
    if not train or not heldout:
        raise ValueError("need at least one training and one held-out example")
    nlp = train_textcat(train, language, epochs=epochs, seed=seed)
    trained = evaluate_textcat(nlp, heldout)
    lexicon = evaluate_lexicon(heldout, language)
    path = next_version_dir(Path(directory), language, min_version)
    model_version = f"textcat-{language}:{path.name}"
    nlp.meta.update({"name": f"luister_sentiment_{language}", "version": f"0.0.{path.name[1:]}"})
    path.mkdir(parents=True)
    nlp.to_disk(path)
    outcome = TrainingOutcome(
        language=language,
        model_version=model_version,
        path=str(path),
        train_size=len(train),
        heldout_size=len(heldout),
        trained=trained.to_dict(),
        lexicon=lexicon.to_dict(),
        better_than_lexicon=trained.macro_f1 > lexicon.macro_f1,
    )
    scores = {**outcome.to_dict(), "trained_at": datetime.now(UTC).isoformat()}
    (path / SCORES_FILE).write_text(json.dumps(scores, indent=2), encoding="utf-8")
    return outcome


def load_textcat(path: str | Path) -> Language:
    """Load a saved classifier (no download: it is a local directory)."""
    return spacy.load(Path(path))
