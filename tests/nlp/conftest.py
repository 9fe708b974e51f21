"""Shared fixtures for the NLP tests: pipelines are built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from listener.nlp.tagger import Tagger, get_tagger

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="session")
def tagger() -> Tagger:
    """Return the process-wide tagger with default settings."""
    return get_tagger()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Return the folder holding the labelled test sets."""
    return DATA_DIR
