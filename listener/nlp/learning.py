"""Learning from staff: sentiment corrections become a trained classifier per language.

Reading corrections and recording models are short database steps; training in between
runs outside any transaction. Which corrections are held out depends only on the mention
id, so every run scores on a superset of the previous run's held-out mentions and never on
texts an earlier model was trained on: comparing with the active model stays fair.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import Mention, NlpCorrection
from listener.nlp.errors import NotEnoughData
from listener.nlp.train import (
    DEFAULT_EPOCHS,
    LabelledExample,
    TrainingOutcome,
    evaluate_textcat,
    load_textcat,
    train_and_compare,
)

MIN_CORRECTIONS = 30
HELDOUT_ONE_IN = 5


def is_heldout(mention_id: int) -> bool:
    """Whether a mention's correction is kept for scoring (about one in five, for good)."""
    return zlib.crc32(str(mention_id).encode()) % HELDOUT_ONE_IN == 0


@dataclass(frozen=True)
class CorrectionExamples:
    """One language's corrected sentiment labels, split into training and held-out."""

    language: str
    train: list[LabelledExample]
    heldout: list[LabelledExample]

    @property
    def total(self) -> int:
        """How many mentions carry a sentiment correction."""
        return len(self.train) + len(self.heldout)


async def correction_languages(session: AsyncSession) -> list[str]:
    """The languages of the mentions whose sentiment staff corrected."""
    rows = await session.execute(
        select(Mention.language)
        .join(NlpCorrection, NlpCorrection.mention_id == Mention.id)
        .where(NlpCorrection.field == "sentiment", Mention.language.is_not(None))
        .distinct()
    )
    return sorted(language for language in rows.scalars() if language and language != "und")


async def correction_examples(session: AsyncSession, *, language: str) -> CorrectionExamples:
    """The newest sentiment label per corrected mention in a language, with its text."""
    rows = await session.execute(
        select(NlpCorrection.mention_id, NlpCorrection.value, Mention.text)
        .join(Mention, Mention.id == NlpCorrection.mention_id)
        .where(NlpCorrection.field == "sentiment", Mention.language == language)
        .order_by(NlpCorrection.created_at, NlpCorrection.id)
    )
    latest: dict[int, LabelledExample] = {}
    for mention_id, value, text in rows:
        latest[mention_id] = LabelledExample(text=text, label=value["label"])
    train = [example for mid, example in latest.items() if not is_heldout(mid)]
    heldout = [example for mid, example in latest.items() if is_heldout(mid)]
    return CorrectionExamples(language=language, train=train, heldout=heldout)


@dataclass
class TrainingRun:
    """What one language's training produced and whether the model is now in use."""

    language: str
    corrections: int
    extra: int
    outcome: TrainingOutcome
    active_before: dict[str, Any] | None
    activated: bool
    model_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON `luister nlp train --json` prints per language."""
        return {
            "language": self.language,
            "model_id": self.model_id,
            "model_version": self.outcome.model_version,
            "path": self.outcome.path,
            "corrections": self.corrections,
            "extra_examples": self.extra,
            "train_size": self.outcome.train_size,
            "heldout_size": self.outcome.heldout_size,
            "trained": self.outcome.trained,
            "lexicon": self.outcome.lexicon,
            "active_before": self.active_before,
            "activated": self.activated,
        }


def train_language(
    examples: CorrectionExamples,
    *,
    models_dir: Path,
    extra: Sequence[LabelledExample] = (),
    active: tuple[str, str] | None = None,
    epochs: int = DEFAULT_EPOCHS,
    min_corrections: int = MIN_CORRECTIONS,
    min_version: int = 1,
) -> TrainingRun:
    """Train on corrections (+ extra), score against the lexicon and the active model."""
    if examples.total < min_corrections or not examples.heldout:
        raise NotEnoughData(
            f"{examples.language}: {examples.total} corrected mentions "
            f"({len(examples.heldout)} held out); training needs at least {min_corrections}"
            " with some held out"
        )
    outcome = train_and_compare(
        [*examples.train, *extra],
        examples.language,
        models_dir,
        heldout=examples.heldout,
        epochs=epochs,
        min_version=min_version,
    )
    active_before = None
    if active is not None and Path(active[0]).is_dir():
        report = evaluate_textcat(load_textcat(active[0]), examples.heldout).to_dict()
        active_before = {"model_version": active[1], **report}
    rival = max(outcome.lexicon["macro_f1"], (active_before or {}).get("macro_f1", 0.0))
    return TrainingRun(
        language=examples.language,
        corrections=examples.total,
        extra=len(extra),
        outcome=outcome,
        active_before=active_before,
        activated=outcome.trained["macro_f1"] > rival,
    )
