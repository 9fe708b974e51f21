"""API corrections train a model whose held-out score is reported next to the lexicon's."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import NlpModel, Role
from listener.nlp.errors import NotEnoughData
from listener.nlp.learning import CorrectionExamples, is_heldout, train_language
from listener.nlp.train import LabelledExample
from tests.conftest import MakeStaff
from tests.listener.conftest import cli_env, luister
from tests.nlp.db_helpers import ingest_texts

__all__ = ["cli_env"]  # the fixture, shared with the other CLI tests

Sessions = async_sessionmaker[AsyncSession]
DATA = Path(__file__).resolve().parent.parent / "data"
CORRECTED = 100  # mentions staff correct through the API; the rest of the file is --extra


def labelled_rows(name: str) -> list[tuple[str, str]]:
    """(label, text) rows of one of the labelled test sets."""
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return [(row["label"], row["text"]) for row in csv.DictReader(handle)]


def saved_scores(path: str) -> dict[str, object]:
    """The scores.json saved next to a trained model."""
    return dict(json.loads(Path(path, "scores.json").read_text(encoding="utf-8")))


async def _correct_through_the_api(
    client: httpx.AsyncClient,
    sessions: Sessions,
    make_staff: MakeStaff,
    rows: list[tuple[str, str]],
) -> None:
    ids = await ingest_texts(sessions, [text for _, text in rows], language="nl")
    moderator = await make_staff(Role.MODERATOR)
    for mention_id, (label, _) in zip(ids, rows, strict=True):
        answer = await client.post(
            f"/api/v1/mentions/{mention_id}/corrections",
            json={"field": "sentiment", "label": label},
            headers=moderator.headers,
        )
        assert answer.status_code == 201


@pytest.mark.slow
async def test_train_reports_the_models_held_out_score_next_to_the_lexicons_and_keeps_them(
    client: httpx.AsyncClient,
    sessions: Sessions,
    make_staff: MakeStaff,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    rows = labelled_rows("sentiment_nl.csv")
    await _correct_through_the_api(client, sessions, make_staff, rows[:CORRECTED])
    extra = tmp_path / "extra.csv"
    with extra.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", "text"])
        writer.writerows(rows[CORRECTED:])

    result = luister(
        "nlp",
        "train",
        "--language",
        "nl",
        "--extra",
        str(extra),
        "--epochs",
        "2",
        "--json",
        env=cli_env,
    )

    assert result.returncode == 0, result.stderr
    [report] = json.loads(result.stdout)["models"]
    assert report["model_version"] == "textcat-nl:v1"
    assert report["corrections"] == CORRECTED
    assert report["extra_examples"] == len(rows) - CORRECTED
    assert report["heldout_size"] == report["trained"]["total"] == report["lexicon"]["total"] > 10
    assert report["activated"] == (report["trained"]["macro_f1"] > report["lexicon"]["macro_f1"])
    assert "trained model  accuracy" in result.stderr and "lexicon        accuracy" in result.stderr
    assert saved_scores(report["path"])["lexicon"] == report["lexicon"]
    async with sessions() as session:
        [model] = (await session.execute(select(NlpModel))).scalars().all()
    assert (model.macro_f1, model.lexicon_macro_f1) == (
        report["trained"]["macro_f1"],
        report["lexicon"]["macro_f1"],
    )
    assert model.active == report["activated"]
    assert model.path.startswith(cli_env["LUISTER_DATA_DIR"])


def test_training_needs_enough_corrections_with_some_held_out(tmp_path: Path) -> None:
    few = CorrectionExamples("nl", train=[LabelledExample("top", "positive")] * 3, heldout=[])
    with pytest.raises(NotEnoughData, match="nl: 3 corrected mentions"):
        train_language(few, models_dir=tmp_path, min_corrections=2)
    assert list(tmp_path.iterdir()) == []


def test_held_out_mentions_stay_held_out_as_corrections_grow() -> None:
    first = {mid for mid in range(1, 200) if is_heldout(mid)}
    later = {mid for mid in range(1, 400) if is_heldout(mid)}
    assert first <= later and 0.1 < len(later) / 400 < 0.3


def test_tag_works_with_no_database_and_no_configuration(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    result = subprocess.run(
        [sys.executable, "-m", "api", "nlp", "tag", "--language", "en"],
        input="Where is my parcel?? Worst service ever\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    tagged = json.loads(result.stdout)
    assert tagged["sentiment"]["label"] == "negative" and "question" in tagged["intents"]
    assert list(tmp_path.iterdir()) == []  # no database file, no data directory
