"""The fast paths give the same tags as before: compared with outputs frozen before them.

The golden files (tests/nlp/golden.py says how they were made) hold what the tagging code
wrote before ingest tagged off the event loop and stored through Core, and before
`luister nlp tag` got its light start-up, orjson output and worker processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.nlp.golden import (
    CLI_GOLDEN,
    INGEST_GOLDEN,
    ROOT,
    eval_texts,
    ingest_scenario,
    ingest_snapshot,
    read_golden,
)

Sessions = async_sessionmaker[AsyncSession]


def _tag(*args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "api", "nlp", "tag", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _golden(key: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_golden(CLI_GOLDEN)[key]]


@pytest.fixture(scope="module")
def eval_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("eval")
    english, dutch = eval_texts("en"), eval_texts("nl")
    files = {"en": english, "nl": dutch, "both": english + dutch}
    paths = {}
    for name, texts in files.items():
        paths[name] = folder / f"{name}.txt"
        paths[name].write_text("\n".join(texts) + "\n", encoding="utf-8")
    return paths


@pytest.mark.parametrize(
    ("key", "file", "language"),
    [("en_given", "en", "en"), ("nl_given", "nl", "nl"), ("detected", "both", None)],
)
def test_nlp_tag_prints_the_same_tags_as_before(
    eval_files: dict[str, Path], key: str, file: str, language: str | None
) -> None:
    args = [str(eval_files[file])] + (["--language", language] if language else [])
    assert _tag(*args) == _golden(key)


@pytest.mark.parametrize("workers", [["--workers", "2"], []], ids=["two", "default"])
def test_worker_processes_tag_every_line_as_one_process_does(
    tmp_path: Path, workers: list[str]
) -> None:
    # Three copies of both sets: 2,400 lines, so three chunks go to two worker processes.
    english, dutch = eval_texts("en"), eval_texts("nl")
    path = tmp_path / "many.txt"
    path.write_text("\n".join((english + dutch) * 3) + "\n", encoding="utf-8")
    expected = _golden("detected")
    got = _tag(str(path), *workers)  # the default: one process per CPU, at most 4
    assert [line.pop("id") for line in got] == list(range(1, len(got) + 1))
    assert len(got) == 3 * len(expected)
    for line in expected:
        line.pop("id")
    assert got == expected * 3


async def test_ingest_stores_the_same_tags_topics_and_priority_factors_as_before(
    sessions: Sessions,
) -> None:
    await ingest_scenario(sessions)
    got = await ingest_snapshot(sessions)
    expected = read_golden(INGEST_GOLDEN)
    assert len(got) == len(expected)
    for found, wanted in zip(got, expected, strict=True):
        assert found == wanted, found["external_id"]
