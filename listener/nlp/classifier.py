"""A trained sentiment classifier (spaCy textcat saved by `luister nlp train`), loaded from disk."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import spacy
from spacy.language import Language

from listener.nlp.scores import SentimentScore, label_for

# Trained models of earlier activations stay loaded only as long as a tagger uses them.
MAX_LOADED_MODELS = 8


@lru_cache(maxsize=MAX_LOADED_MODELS)
def load_classifier(path: str) -> Language:
    """Load a saved textcat pipeline once per process (a local directory, never a download)."""
    return spacy.load(Path(path))


class TrainedSentiment:
    """Scores texts with a trained textcat: score = P(positive) - P(negative)."""

    def __init__(self, path: str, version: str, neutral_band: float = 0.05) -> None:
        self.nlp = load_classifier(path)
        self.version = version
        self.neutral_band = neutral_band

    def score_many(self, texts: Sequence[str]) -> list[SentimentScore]:
        """Score many texts in one nlp.pipe pass."""
        results = []
        for doc in self.nlp.pipe(texts):
            cats = doc.cats
            score = round(cats.get("positive", 0.0) - cats.get("negative", 0.0), 4)
            best = max(cats, key=cats.__getitem__) if cats else label_for(score, self.neutral_band)
            results.append(SentimentScore(best, score, self.version))
        return results
