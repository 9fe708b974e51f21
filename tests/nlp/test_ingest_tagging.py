"""Ingest tags every new or changed mention: language, sentiment, intents, topics, version."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import NlpModel
from listener.nlp.corrections import correct_mention
from listener.nlp.train import LabelledExample, TrainingOutcome, train_and_compare
from listener.sources.ingest import ingest_mentions
from tests.factories import mention
from tests.nlp.db_helpers import add_topic, ingest_texts, stored, topics_of

Sessions = async_sessionmaker[AsyncSession]


async def test_new_mention_gets_sentiment_intents_and_the_version_that_made_them(
    sessions: Sessions,
) -> None:
    [mid] = await ingest_texts(sessions, ["Why does the app not work?? It drives me crazy"])
    found = await stored(sessions, mid)
    assert found.sentiment_label == "negative"
    assert found.sentiment_score is not None and found.sentiment_score < 0
    assert sorted(found.intents) == ["complaint", "question"]
    assert found.nlp_version == "nlp-1;none;lexicon-en:vader-3.3.2+luister-1"


async def test_platform_language_wins_over_detection_and_is_normalised(sessions: Sessions) -> None:
    [mid] = await ingest_texts(sessions, ["Ik vind het geweldig"], language="en-US")
    found = await stored(sessions, mid)
    assert (found.language, found.language_confidence) == ("en", None)


async def test_language_is_detected_with_its_confidence_when_the_platform_gives_none(
    sessions: Sessions,
) -> None:
    dutch, unsure = await ingest_texts(
        sessions, ["Waarom werkt de app niet?? Ik word er gek van", "👍👍"], language=None
    )
    found = await stored(sessions, dutch)
    assert found.language == "nl" and found.language_confidence is not None
    assert found.language_confidence >= 0.5
    assert found.sentiment_label == "negative"
    assert (await stored(sessions, unsure)).language == "und"


async def test_language_without_a_sentiment_model_gets_no_sentiment(sessions: Sessions) -> None:
    [mid] = await ingest_texts(sessions, ["Das ist wirklich wunderbar"], language="de")
    found = await stored(sessions, mid)
    assert (found.sentiment_label, found.sentiment_score) == (None, None)
    assert found.nlp_version is not None and found.nlp_version.endswith(";none")


async def test_topics_come_from_the_taxonomy_table_with_the_spans_that_matched(
    sessions: Sessions,
) -> None:
    await add_topic(sessions, "delivery", {"en": ["parcel", "courier"], "nl": ["pakket"]})
    await add_topic(sessions, "pricing", {"en": ["price"]})
    [english] = await ingest_texts(sessions, ["My parcel never arrived, courier lost it"])
    [dutch] = await ingest_texts(sessions, ["Mijn pakketten zijn zoek"], language="nl", start=5)
    assert await topics_of(sessions, english) == {
        "delivery": [
            {"start": 3, "end": 9, "text": "parcel"},
            {"start": 25, "end": 32, "text": "courier"},
        ]
    }
    assert list(await topics_of(sessions, dutch)) == ["delivery"]
    assert (await stored(sessions, english)).nlp_version.startswith("nlp-1;org-")  # type: ignore[union-attr]


async def test_without_topics_in_the_table_mentions_get_none(sessions: Sessions) -> None:
    # The built-in example taxonomy would match "parcel"; only the organisation's topics count.
    [mid] = await ingest_texts(sessions, ["My parcel never arrived"])
    assert await topics_of(sessions, mid) == {}


async def test_edited_mention_is_retagged_but_keeps_a_staff_correction(
    sessions: Sessions,
) -> None:
    await add_topic(sessions, "delivery", {"en": ["parcel"]})
    [mid] = await ingest_texts(sessions, ["Love the parcel service, thanks!"])
    async with sessions() as session, session.begin():
        await correct_mention(
            session, mention_id=mid, field="sentiment", value="neutral", user_id=None, actor="t"
        )
    async with sessions() as session, session.begin():
        await ingest_mentions(session, [mention(0, text="Can anyone help? Parcel lost again")])
    found = await stored(sessions, mid)
    assert found.sentiment_label == "neutral"
    assert "praise" not in found.intents and "help_request" in found.intents
    assert list(await topics_of(sessions, mid)) == ["delivery"]


async def test_ingest_without_tagging_stores_no_tags(sessions: Sessions) -> None:
    await add_topic(sessions, "delivery", {"en": ["parcel"]})
    [mid] = await ingest_texts(sessions, ["I love my parcel!"], tag=False)
    found = await stored(sessions, mid)
    assert (found.sentiment_label, found.intents, found.nlp_version) == (None, [], None)
    assert await topics_of(sessions, mid) == {}


@pytest.fixture(scope="module")
def trained_en(tmp_path_factory: pytest.TempPathFactory) -> TrainingOutcome:
    """A tiny English classifier that calls "the parcel came" negative."""
    examples = [
        LabelledExample("the parcel came", "negative"),
        LabelledExample("the weather is nice", "positive"),
        LabelledExample("tuesday again", "neutral"),
    ] * 6
    directory = tmp_path_factory.mktemp("models")
    return train_and_compare(examples, "en", directory, heldout=examples[:3], epochs=4)


async def test_an_active_trained_model_scores_its_language_instead_of_the_lexicon(
    sessions: Sessions, trained_en: TrainingOutcome
) -> None:
    async with sessions() as session, session.begin():
        session.add(
            NlpModel(
                language="en",
                version=trained_en.model_version,
                path=trained_en.path,
                train_size=trained_en.train_size,
                heldout_size=trained_en.heldout_size,
                macro_f1=1.0,
                accuracy=1.0,
                lexicon_macro_f1=0.0,
                lexicon_accuracy=0.0,
                scores={},
                active=True,
                created_by="test",
            )
        )
    [english] = await ingest_texts(sessions, ["the parcel came"])
    [dutch] = await ingest_texts(sessions, ["Echt geweldig!"], language="nl", start=9)
    trained = await stored(sessions, english)
    assert trained.sentiment_label == "negative"  # the lexicon would call this neutral
    assert trained.nlp_version is not None and trained.nlp_version.endswith(";textcat-en:v1")
    assert "lexicon-nl" in (await stored(sessions, dutch)).nlp_version  # type: ignore[operator]
