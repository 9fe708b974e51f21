"""The batch API: order, grouping by language, reuse of pipelines, plain serialisable Docs."""

from __future__ import annotations

import spacy
from spacy.tokens import Doc

from listener.nlp import INTENTS, TagInput, get_tagger
from listener.nlp.tagger import NlpSettings, Tagger


def test_results_come_back_in_input_order_across_languages(tagger: Tagger) -> None:
    items = [
        TagInput("Thanks for the quick help!", id="a", language="en"),
        TagInput("Bedankt voor de snelle hulp!", id="b", language="nl"),
        TagInput("Merci pour votre aide rapide", id="c", language="fr"),
        TagInput("Great support, thank you so much", id="d"),
    ]
    results = tagger.tag_texts(items)
    assert [result.id for result in results] == ["a", "b", "c", "d"]
    assert [result.language for result in results] == ["en", "nl", "fr", "en"]


def test_plain_strings_are_accepted(tagger: Tagger) -> None:
    assert tagger.tag_texts(["I love this app"])[0].sentiment_label == "positive"


def test_pipelines_are_built_once_per_language(tagger: Tagger) -> None:
    assert tagger.pipeline("nl") is tagger.pipeline("nl")
    assert tagger.pipeline("und") is tagger.pipeline("xx")


def test_get_tagger_returns_the_shared_instance_per_settings() -> None:
    assert get_tagger() is get_tagger(NlpSettings())
    assert get_tagger(NlpSettings(neutral_band=0.2)) is not get_tagger()


def test_result_dict_has_the_cli_shape(tagger: Tagger) -> None:
    data = tagger.tag_text("Waarom werkt de app niet?? Ik word er gek van").to_dict()
    assert {"id", "language", "language_confidence", "sentiment", "intents", "topics"} <= set(data)
    assert set(data["sentiment"]) == {"label", "score"}
    assert set(data["intents"]) <= set(INTENTS)


def test_empty_batch_gives_empty_list(tagger: Tagger) -> None:
    assert tagger.tag_texts([]) == []


def test_factories_work_in_any_spacy_pipeline_and_docs_serialise() -> None:
    nlp = spacy.blank("nl")
    for name in ("luister_language", "luister_sentiment", "luister_intent", "luister_topics"):
        nlp.add_pipe(name)
    doc = nlp("Kan iemand me helpen? Mijn pakket is kwijt #postnl")
    assert doc._.language == "nl"
    assert doc._.sentiment_label == "negative"
    assert "help_request" in doc._.intents
    restored = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert restored._.intents == doc._.intents
    assert restored._.facets == {"hashtags": ["postnl"], "mentions": [], "domains": []}


def test_config_of_a_pipeline_with_luister_components_round_trips() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("luister_language", config={"languages": ["en", "nl"], "threshold": 0.7})
    nlp.add_pipe("luister_sentiment", config={"neutral_band": 0.1})
    rebuilt = spacy.util.load_model_from_config(nlp.config, auto_fill=True)
    assert rebuilt.pipe_names == ["luister_language", "luister_sentiment"]
    assert rebuilt.config["components"]["luister_language"]["threshold"] == 0.7


def test_warm_up_builds_every_configured_pipeline() -> None:
    tagger = Tagger(NlpSettings(languages=("en", "nl"), preload_language_models=False))
    tagger.warm_up()
    assert set(tagger._pipelines) == {"en", "nl", "xx"}
