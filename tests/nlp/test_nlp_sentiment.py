"""Sentiment hard cases: negation, intensifiers, contrast, emphasis, sarcasm, emoji."""

from __future__ import annotations

import pytest

from listener.nlp.tagger import Tagger


def sentiment(tagger: Tagger, text: str, language: str | None) -> tuple[str | None, float | None]:
    result = tagger.tag_text(text, language=language)
    return result.sentiment_label, result.sentiment_score


@pytest.mark.parametrize(
    ("text", "language", "label"),
    [
        ("The service was good", "en", "positive"),
        ("The service was not good", "en", "negative"),
        ("not bad at all", "en", "positive"),
        ("De service was goed", "nl", "positive"),
        ("De service was niet goed", "nl", "negative"),
        ("helemaal niet slecht", "nl", "positive"),
        ("Ik ben er niet blij mee", "nl", "negative"),
    ],
)
def test_negation_flips_sentiment(tagger: Tagger, text: str, language: str, label: str) -> None:
    assert sentiment(tagger, text, language)[0] == label


@pytest.mark.parametrize(
    ("plain", "boosted", "language"),
    [
        ("the app is good", "the app is very good", "en"),
        ("de app is leuk", "de app is heel erg leuk", "nl"),
    ],
)
def test_intensifiers_strengthen_the_score(
    tagger: Tagger, plain: str, boosted: str, language: str
) -> None:
    plain_score = sentiment(tagger, plain, language)[1]
    boosted_score = sentiment(tagger, boosted, language)[1]
    assert plain_score is not None and boosted_score is not None
    assert boosted_score > plain_score > 0


@pytest.mark.parametrize(
    ("text", "language", "label"),
    [
        ("The food was great but the service was terrible", "en", "negative"),
        ("The service was terrible but the food was great", "en", "positive"),
        ("Het eten was lekker maar de bediening was vreselijk", "nl", "negative"),
        ("Het weer was slecht maar we hebben het super gehad", "nl", "positive"),
    ],
)
def test_the_clause_after_but_or_maar_decides(
    tagger: Tagger, text: str, language: str, label: str
) -> None:
    assert sentiment(tagger, text, language)[0] == label


def test_capitals_and_exclamation_marks_add_emphasis(tagger: Tagger) -> None:
    calm = sentiment(tagger, "the new update is great", "en")[1]
    shouted = sentiment(tagger, "the new update is GREAT!!!", "en")[1]
    assert calm is not None and shouted is not None and shouted > calm


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Great, just great. The app deleted all my notes /s", "en"),
        ("Yeah right, best airline ever", "en"),
        ("Love waiting an hour for a train 🙄", "en"),
        ("Top hoor, weer een update die alles kapot maakt", "nl"),
        ("Ja hoor, de beste klantenservice van Nederland", "nl"),
        ("Leuk hoor, de lift is weer kapot 🙃", "nl"),
    ],
)
def test_sarcasm_markers_turn_praise_words_negative(
    tagger: Tagger, text: str, language: str
) -> None:
    assert sentiment(tagger, text, language)[0] == "negative"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("😍😍😍", "positive"),
        ("😡😡", "negative"),
        ("👍", "positive"),
        ("💩", "negative"),
        (":)", "positive"),
        (":(", "negative"),
        ("🤔", "neutral"),
    ],
)
def test_emoji_only_posts_get_sentiment_even_without_a_language(
    tagger: Tagger, text: str, label: str
) -> None:
    result = tagger.tag_text(text)
    assert result.language == "und"
    assert result.sentiment_label == label
    assert result.sentiment_model is not None and result.sentiment_model.startswith("emoji:")


def test_language_without_sentiment_model_gets_none_not_neutral(tagger: Tagger) -> None:
    result = tagger.tag_text("Ce service client est vraiment excellent, merci beaucoup")
    assert result.language == "fr"
    assert result.sentiment_label is None
    assert result.sentiment_score is None
    assert result.sentiment_model is None


def test_undetermined_text_with_words_gets_no_sentiment(tagger: Tagger) -> None:
    result = tagger.tag_text("ok")
    assert result.language == "und"
    assert result.sentiment_label is None


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Love the new app maar de levering was echt waardeloos", "negative"),
        ("De levering duurde lang but the support team was amazing, thanks!", "positive"),
    ],
)
def test_mixed_language_posts_get_a_sentiment(tagger: Tagger, text: str, label: str) -> None:
    result = tagger.tag_text(text)
    assert result.language in ("en", "nl")
    assert result.sentiment_label == label


def test_scores_stay_within_minus_one_and_one(tagger: Tagger) -> None:
    texts = ["BEST BEST BEST AMAZING WONDERFUL LOVE IT!!!!!!", "worst awful horrible hate!!!!"]
    scores = [tagger.tag_text(text, language="en").sentiment_score for text in texts]
    assert all(score is not None and -1.0 <= score <= 1.0 for score in scores)


def test_every_result_names_the_model_version(tagger: Tagger) -> None:
    english = tagger.tag_text("I love it", language="en")
    dutch = tagger.tag_text("Ik vind het geweldig", language="nl")
    assert english.sentiment_model == "lexicon-en:vader-3.3.2+luister-1"
    assert dutch.sentiment_model is not None and dutch.sentiment_model.startswith("lexicon-nl:")
    assert "sentiment-lexicon-nl" in dutch.model_version
