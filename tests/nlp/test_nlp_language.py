"""Language: the platform's field wins, else lingua among configured languages, else und."""

from __future__ import annotations

import pytest
import spacy
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from listener.nlp.language import LanguageGuesser, build_detector, normalize_language_code
from listener.nlp.store import load_tagging_state
from listener.nlp.tagger import NlpSettings, Tagger, TagInput, get_tagger
from listener.settings import Settings


def test_platform_language_wins_over_detection(tagger: Tagger) -> None:
    result = tagger.tag_texts([TagInput("Waarom werkt de app niet?", language="en")])[0]
    assert result.language == "en"
    assert result.language_confidence == 1.0


@pytest.mark.parametrize(
    ("given", "expected"),
    [("en-US", "en"), ("nl_NL", "nl"), ("NL", "nl"), (" ", None), (None, None)],
)
def test_platform_language_tags_reduce_to_primary_subtag(
    given: str | None, expected: str | None
) -> None:
    assert normalize_language_code(given) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Waarom werkt de app niet?? Ik word er gek van", "nl"),
        ("Why does the app not work?? It drives me crazy", "en"),
        ("Warum funktioniert die App nicht schon wieder?", "de"),
        ("¿Por qué no funciona la aplicación otra vez?", "es"),
    ],
)
def test_sentences_are_detected_with_confidence(tagger: Tagger, text: str, language: str) -> None:
    result = tagger.tag_text(text)
    assert result.language == language
    assert result.language_confidence >= 0.5


@pytest.mark.parametrize("text", ["ok", "👍👍", "", "12:30", "@NS_online https://ns.nl/x"])
def test_too_little_text_is_undetermined(tagger: Tagger, text: str) -> None:
    result = tagger.tag_text(text)
    assert result.language == "und"
    assert result.language_confidence == 0.0


def test_detection_is_restricted_to_configured_languages() -> None:
    guesser = LanguageGuesser(languages=("en", "nl"), threshold=0.0)
    language, _ = guesser.detect("Warum funktioniert die App nicht schon wieder?")
    assert language in ("en", "nl")


def test_below_threshold_a_plausible_language_is_given_with_its_low_confidence() -> None:
    guesser = LanguageGuesser(threshold=0.99)
    language, confidence = guesser.detect("Just landed in Amsterdam")
    assert language != "und"
    assert 0.0 < confidence < 0.99


def test_below_threshold_no_plausible_language_is_undetermined() -> None:
    # lingua spreads "lol" almost evenly over the five languages: none is plausible.
    assert LanguageGuesser(threshold=0.99).detect("lol")[0] == "und"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("dank je", "nl"),
        ("wat jammer", "nl"),
        ("fiets kapot", "nl"),
        ("heel goed", "nl"),
        ("thanks guys", "en"),
        ("great app", "en"),
        ("not again", "en"),
        ("so good", "en"),
    ],
)
def test_two_word_texts_get_a_best_guess_with_confidence(
    tagger: Tagger, text: str, language: str
) -> None:
    result = tagger.tag_text(text)
    assert result.language == language
    assert 0.0 < result.language_confidence <= 1.0


def test_detector_is_built_once_per_language_set() -> None:
    assert build_detector(("en", "nl"), True) is build_detector(("en", "nl"), True)


def test_language_component_reads_platform_language_on_any_pipeline() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("luister_language", config={"languages": ["en", "nl"]})
    doc = nlp.make_doc("Dit is duidelijk een Nederlandse zin over de trein")
    doc._.platform_language = "fr-CA"
    assert nlp(doc)._.language == "fr"
    assert nlp("Dit is duidelijk een Nederlandse zin over de trein")._.language == "nl"


def test_settings_choose_the_candidate_languages() -> None:
    tagger = Tagger(NlpSettings(languages=("en", "nl"), preload_language_models=False))
    assert tagger.tag_text("¿Por qué no funciona la aplicación otra vez?").language != "es"


def test_low_accuracy_detector_is_a_detector_of_its_own() -> None:
    assert build_detector(("en", "nl"), False, True) is not build_detector(("en", "nl"), False)
    guesser = LanguageGuesser(("en", "nl"), threshold=0.0, preload=False, low_accuracy=True)
    assert guesser.detect("De trein naar Utrecht is weer eens te laat vandaag")[0] == "nl"


async def test_the_accuracy_setting_reaches_the_tagger_ingest_uses(
    engine: AsyncEngine, settings: Settings
) -> None:
    from api.wiring import session_factory

    compact = settings.model_copy(update={"nlp_language_accuracy": "low"})
    for configured, expected in ((settings, "high"), (compact, "low")):
        async with session_factory(configured, engine)() as session:
            state = await load_tagging_state(session)
        assert state.settings.language_accuracy == expected
        suffix = get_tagger(state.settings).tag_text("Where is my refund?").model_version
        assert ("-low;" in suffix) is (expected == "low")


def test_an_unknown_accuracy_mode_is_refused_with_the_setting_named() -> None:
    with pytest.raises(ValidationError, match="nlp_language_accuracy"):
        Settings(nlp_language_accuracy="fast")  # type: ignore[arg-type]
