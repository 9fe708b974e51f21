"""The labels the tagger gives and staff may correct to; no spaCy needed to read them."""

from __future__ import annotations

SENTIMENT_LABELS = ("negative", "neutral", "positive")
INTENTS = ("question", "complaint", "praise", "help_request", "spam")
