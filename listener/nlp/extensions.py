"""Doc extension attributes written by the Luister components (plain values only).

All values live in one plain dict, ``doc.user_data["luister"]``, so Docs stay serialisable
and the components can read and write it directly: going through ``doc._`` costs
microseconds per access, which adds up at thousands of mentions per second.
``doc._.language`` and friends remain the public way to read (and set) them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spacy.tokens import Doc

RESULTS_KEY = "luister"
DOC_EXTENSIONS = (
    "platform_language",
    "language",
    "language_confidence",
    "sentiment_label",
    "sentiment_score",
    "sentiment_model",
    "intents",
    "topics",
    "facets",
)


def luister_data(doc: Doc) -> dict[str, Any]:
    """Return the Doc's dict of Luister results, creating it when missing."""
    data = doc.user_data.get(RESULTS_KEY)
    if data is None:
        data = doc.user_data[RESULTS_KEY] = {}
    return data


def _getter(name: str) -> Callable[[Doc], Any]:
    def get(doc: Doc) -> Any:
        """Read one Luister value from the Doc."""
        return doc.user_data.get(RESULTS_KEY, {}).get(name)

    return get


def _setter(name: str) -> Callable[[Doc, Any], None]:
    def set_value(doc: Doc, value: Any) -> None:
        """Write one Luister value to the Doc."""
        luister_data(doc)[name] = value

    return set_value


def register_doc_extensions() -> None:
    """Register every Luister Doc extension once per process."""
    for name in DOC_EXTENSIONS:
        if not Doc.has_extension(name):
            Doc.set_extension(name, getter=_getter(name), setter=_setter(name))


register_doc_extensions()
