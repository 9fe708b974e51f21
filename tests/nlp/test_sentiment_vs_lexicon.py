"""The sentiment rules must not lose to the lexicon they are built on, on public text.

Measured on the frozen evaluation set (tests/data/eval/, never used to choose rules) with the
language given. The lexicon alone is, for English, vaderSentiment's own analyzer (compound score,
neutral within the tagger's band) and, for Dutch, our scorer with the bare pattern lexicon and
every Luister rule group left out. The rule groups are chosen on a separate selection set by
`python -m scripts.sentiment_selection` (docs/NLP.md, "Sentiment against the bare lexicon").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from listener.nlp.evaluation import LabelledText, read_labelled_file
from listener.nlp.lexicons import pattern_dutch_version
from listener.nlp.scores import label_for
from listener.nlp.sentiment import LexiconScorer
from listener.nlp.sentiment_rules import lexicon_only_rules
from listener.nlp.tagger import Tagger, TagInput

NEUTRAL_BAND = 0.05  # the tagger's default


def accuracy(examples: list[LabelledText], labels: list[str | None]) -> float:
    """Share of examples labelled as expected (a neutral label on a binary set is wrong)."""
    right = sum(example.label == label for example, label in zip(examples, labels, strict=True))
    return right / len(examples)


def lexicon_labeller(tagger: Tagger, language: str) -> Callable[[str], str]:
    """Label a text with the lexicon alone, tokenized as the pipeline tokenizes it."""
    if language == "en":
        analyzer = SentimentIntensityAnalyzer()
        return lambda text: label_for(analyzer.polarity_scores(text)["compound"], NEUTRAL_BAND)
    scorer = LexiconScorer(lexicon_only_rules(language, pattern_dutch_version()), NEUTRAL_BAND)
    nlp = tagger.pipeline(language)
    return lambda text: scorer.score_words([token.text for token in nlp.make_doc(text)]).label


@pytest.mark.parametrize(
    "language",
    [
        pytest.param(
            "en",
            marks=pytest.mark.xfail(
                strict=True,
                reason="English loses to vaderSentiment's own analyzer by 2 of 400 texts "
                "(0.795 vs 0.800; on the selection set 0.822 vs 0.827): the gap is in the "
                "scorer's core, not in a Luister rule group (docs/NLP.md)",
            ),
        ),
        "nl",
    ],
)
def test_pipeline_does_not_lose_to_the_lexicon_alone(
    tagger: Tagger, data_dir: Path, language: str
) -> None:
    examples = read_labelled_file(data_dir / "eval" / f"sentiment_{language}.csv")
    results = tagger.tag_texts(
        TagInput(text=example.text, id=index, language=language)
        for index, example in enumerate(examples)
    )
    pipeline = accuracy(examples, [result.sentiment_label for result in results])
    label = lexicon_labeller(tagger, language)
    lexicon = accuracy(examples, [label(example.text) for example in examples])
    print(f"{language} n={len(examples)}: lexicon alone {lexicon:.4f}, pipeline {pipeline:.4f}")
    assert pipeline >= lexicon
