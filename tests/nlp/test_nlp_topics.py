"""Topics matched on words and light lemmas, with spans; hashtag/mention/domain facets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy

from listener.nlp.tagger import NlpSettings, Tagger
from listener.nlp.taxonomy import Taxonomy
from listener.nlp.topics import SPAN_KEY, light_lemma

TAXONOMY = Taxonomy.from_dicts(
    [
        {"key": "delivery", "terms": {"en": ["delivery", "parcel"], "nl": ["pakket", "bezorging"]}},
        {"key": "support", "terms": {"en": ["customer service"], "nl": ["klantenservice"]}},
        {"key": "brand", "terms": {"*": ["Luister"]}},
    ],
    version="test-1",
)


@pytest.fixture(scope="module")
def topic_tagger() -> Tagger:
    """Return a tagger using a small test taxonomy."""
    return Tagger(NlpSettings(taxonomy=TAXONOMY))


def test_topics_are_matched_with_their_spans(topic_tagger: Tagger) -> None:
    text = "Two parcels lost and Customer Service never called back"
    result = topic_tagger.tag_text(text, language="en")
    spans = {match.topic: match.spans for match in result.topics}
    assert set(spans) == {"delivery", "support"}
    delivery = spans["delivery"][0]
    assert (delivery.start, delivery.end, delivery.text) == (4, 11, "parcels")
    assert text[delivery.start : delivery.end] == "parcels"
    assert spans["support"][0].text == "Customer Service"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Mijn pakketten zijn nog steeds niet bezorgd", "nl"),
        ("Drie PAKKETTEN kwijt", "nl"),
        ("All my deliveries are late", "en"),
    ],
)
def test_inflected_forms_match_through_light_lemmas(
    topic_tagger: Tagger, text: str, language: str
) -> None:
    result = topic_tagger.tag_text(text, language=language)
    assert [match.topic for match in result.topics] == ["delivery"]


def test_language_specific_terms_stay_in_their_language(topic_tagger: Tagger) -> None:
    result = topic_tagger.tag_text("The pakket arrived", language="en")
    assert result.topics == ()


def test_language_independent_terms_match_everywhere(topic_tagger: Tagger) -> None:
    for language in ("en", "nl", "de"):
        result = topic_tagger.tag_text("Ich mag luister sehr", language=language)
        assert [match.topic for match in result.topics] == ["brand"]


@pytest.mark.parametrize(
    ("word", "language", "lemma"),
    [
        ("prijzen", "nl", "prijs"),
        ("problemen", "nl", "probleem"),
        ("pakketten", "nl", "pakket"),
        ("deliveries", "en", "delivery"),
        ("shipping", "en", "ship"),
        ("prices", "en", "pric"),
    ],
)
def test_light_lemma_reduces_common_inflections(word: str, language: str, lemma: str) -> None:
    assert light_lemma(word, language) == lemma


def test_facets_list_hashtags_mentions_and_domains(tagger: Tagger) -> None:
    text = (
        "@NS_online #Trein weer vertraagd, zie https://www.NS.nl/actueel en "
        "nos.nl/artikel/1 cc @ProRail #fail #trein mail me: jan@example.com"
    )
    facets = tagger.tag_text(text, language="nl").facets
    assert facets.hashtags == ("trein", "fail")
    assert facets.mentions == ("ns_online", "prorail")
    assert facets.domains == ("ns.nl", "nos.nl")  # an e-mail address is not a link


def test_topic_component_writes_span_group_on_plain_spacy_pipeline() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("luister_topics")
    doc = nlp("My parcel never arrived, delivery was a mess")
    assert {span.label_ for span in doc.spans[SPAN_KEY]} == {"delivery"}
    assert doc._.topics[0]["topic"] == "delivery"


def test_taxonomy_loads_from_json_file(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.json"
    path.write_text(
        json.dumps(
            {
                "version": "7",
                "topics": [{"key": "fries", "label": "Fries", "terms": {"nl": ["friet", "patat"]}}],
            }
        )
    )
    taxonomy = Taxonomy.from_json_file(path)
    assert taxonomy.version == "7"
    assert taxonomy.topics[0].terms_for("nl") == ("friet", "patat")
    result = Tagger(NlpSettings(taxonomy=taxonomy)).tag_text("Lekkere patat!", language="nl")
    assert [match.topic for match in result.topics] == ["fries"]
