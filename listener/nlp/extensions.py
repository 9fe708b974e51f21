"""Doc extension attributes written by the Luister components (plain values only)."""

from __future__ import annotations

from spacy.tokens import Doc

# Each attribute holds plain data (str, float, list, dict) so Docs stay serialisable
# and usable with nlp.pipe(n_process=...).
DOC_EXTENSIONS: dict[str, object] = {
    "platform_language": None,
    "language": None,
    "language_confidence": None,
    "sentiment_label": None,
    "sentiment_score": None,
    "sentiment_model": None,
    "intents": None,
    "topics": None,
    "facets": None,
}


def register_doc_extensions() -> None:
    """Register every Luister Doc extension once per process."""
    for name, default in DOC_EXTENSIONS.items():
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=default)


register_doc_extensions()
