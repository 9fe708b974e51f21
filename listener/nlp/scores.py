"""A sentiment score, shared by the lexicon rules and the trained classifier."""

from __future__ import annotations

from typing import NamedTuple


class SentimentScore(NamedTuple):
    """A sentiment label with its score in [-1, 1] and the model that produced it."""

    label: str
    score: float
    model_version: str


def label_for(score: float, neutral_band: float) -> str:
    """Map a score in [-1, 1] to positive, neutral or negative."""
    if score >= neutral_band:
        return "positive"
    if score <= -neutral_band:
        return "negative"
    return "neutral"
