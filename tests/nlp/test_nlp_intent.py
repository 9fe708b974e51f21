"""Intents: questions (with and without '?'), complaints, praise, help requests, spam."""

from __future__ import annotations

import pytest

from listener.nlp.tagger import Tagger


def intents(tagger: Tagger, text: str, language: str) -> tuple[str, ...]:
    return tagger.tag_text(text, language=language).intents


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("hoe zeg ik mijn abonnement op", "nl"),
        ("Kan ik ook met iDEAL betalen", "nl"),
        ("Bezorgen jullie ook op zondag", "nl"),
        ("weet iemand of de brug weer open is", "nl"),
        ("@KLM is er vandaag nog een vlucht naar Londen", "nl"),
        ("how do I change my delivery address", "en"),
        ("can you tell me when my order ships", "en"),
        ("anyone know a good plumber in Rotterdam", "en"),
        ("Is the museum open on Mondays", "en"),
    ],
)
def test_questions_without_question_mark_are_found(
    tagger: Tagger, text: str, language: str
) -> None:
    assert "question" in intents(tagger, text, language)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("What a match last night!!", "en"),
        ("Wat een prachtige dag", "nl"),
        ("Dank je wel voor de snelle hulp", "nl"),
        ("Volg ons voor meer nieuws", "nl"),
        ("The train was on time today", "en"),
    ],
)
def test_exclamations_thanks_and_statements_are_not_questions(
    tagger: Tagger, text: str, language: str
) -> None:
    assert "question" not in intents(tagger, text, language)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Waarom werkt de app niet?? Ik word er gek van", "nl"),
        ("Why does the app not work?? It drives me crazy", "en"),
    ],
)
def test_angry_why_question_is_question_and_complaint(
    tagger: Tagger, text: str, language: str
) -> None:
    assert intents(tagger, text, language) == ("complaint", "question")


@pytest.mark.parametrize(
    ("text", "language", "intent"),
    [
        ("Still waiting for my refund after three weeks @shop", "en", "complaint"),
        ("Your delivery service is terrible", "en", "complaint"),
        ("Al 45 minuten in de wacht bij jullie klantenservice", "nl", "complaint"),
        ("Thank you @KLM for rebooking me so quickly", "en", "praise"),
        ("Complimenten aan de klantenservice, super snel geholpen", "nl", "praise"),
        ("Can someone help me? My card is blocked", "en", "help_request"),
        ("Kan iemand me helpen met mijn factuur", "nl", "help_request"),
        ("Kunnen jullie even kijken waar mijn pakket is", "nl", "help_request"),
        ("WIN a FREE iPhone!!! Click here now bit.ly/free-phone", "en", "spam"),
        ("Verdien €500 per dag vanuit huis, stuur me een DM", "nl", "spam"),
    ],
)
def test_intents_are_recognised(tagger: Tagger, text: str, language: str, intent: str) -> None:
    assert intent in intents(tagger, text, language)


def test_personal_bad_news_is_not_a_complaint(tagger: Tagger) -> None:
    assert "complaint" not in intents(tagger, "Feeling really down today", "en")


def test_spam_is_not_praise_or_a_question(tagger: Tagger) -> None:
    found = intents(tagger, "Follow back? Amazing deals, click here: cheap-deals.xyz", "en")
    assert found == ("spam",)


def test_languages_without_rules_get_no_intents(tagger: Tagger) -> None:
    assert intents(tagger, "Pourquoi l'application ne marche pas?", "fr") == ()
