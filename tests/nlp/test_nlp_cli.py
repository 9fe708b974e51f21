"""`luister nlp tag` and `luister nlp evaluate`, through typer's CliRunner and `python -m`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.nlp import app

runner = CliRunner()


def json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Waarom werkt de app niet?? Ik word er gek van", "nl"),
        ("Why does the app not work?? It drives me crazy", "en"),
    ],
)
def test_tag_reads_stdin_and_prints_the_issue_example(text: str, language: str) -> None:
    result = runner.invoke(app, ["tag"], input=text + "\n")
    assert result.exit_code == 0
    [line] = json_lines(result.stdout)
    assert line["id"] == 1
    assert line["language"] == language
    assert line["sentiment"]["label"] == "negative"  # type: ignore[index]
    assert line["intents"] == ["complaint", "question"]


def test_tag_keeps_input_order_and_numbers_plain_lines(tmp_path: Path) -> None:
    path = tmp_path / "posts.txt"
    path.write_text(
        "I really love this new app!\nIk haat maandagen\n\nMerci beaucoup pour votre aide\n"
    )
    result = runner.invoke(app, ["tag", str(path)])
    assert result.exit_code == 0
    lines = json_lines(result.stdout)
    assert [line["id"] for line in lines] == [1, 2, 3, 4]
    assert [line["language"] for line in lines] == ["en", "nl", "und", "fr"]
    assert lines[3]["sentiment"] == {"label": None, "score": None}


def test_tag_jsonl_reports_bad_lines_and_exits_2_after_tagging_the_rest() -> None:
    stdin = (
        "\n".join(
            [
                json.dumps({"id": "a", "text": "Top service, bedankt!", "language": "nl"}),
                "{not json",
                json.dumps({"id": "c", "text": 42}),
                json.dumps({"text": "Kan ik met iDEAL betalen"}),
            ]
        )
        + "\n"
    )
    result = runner.invoke(app, ["tag", "--jsonl"], input=stdin)
    assert result.exit_code == 2
    lines = json_lines(result.stdout)
    assert [line["id"] for line in lines] == ["a", 4]
    assert lines[0]["language"] == "nl" and lines[0]["language_confidence"] == 1.0
    assert "question" in lines[1]["intents"]  # type: ignore[operator]
    assert "line 2" in result.stderr and "line 3" in result.stderr


def test_tag_missing_file_exits_2() -> None:
    result = runner.invoke(app, ["tag", "/nonexistent/posts.txt"])
    assert result.exit_code == 2


@pytest.fixture
def labelled_csv(tmp_path: Path) -> Path:
    path = tmp_path / "labelled.csv"
    path.write_text(
        "label,text,language\n"
        "positive,I love this app,en\n"
        "negative,Worst service ever,en\n"
        'neutral,"The store opens at 9, see you",en\n'
        "negative,Wat een waardeloze app,nl\n"
    )
    return path


def test_evaluate_json_prints_one_object_with_scores(labelled_csv: Path) -> None:
    result = runner.invoke(app, ["evaluate", str(labelled_csv), "--json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["sentiment"]["total"] == 4
    assert report["sentiment"]["accuracy"] == 1.0
    assert report["sentiment"]["macro_f1"] == 1.0
    assert report["sentiment"]["confusion"]["negative"]["negative"] == 2


def test_evaluate_prints_confusion_matrix_for_people(tmp_path: Path) -> None:
    path = tmp_path / "labelled.tsv"
    path.write_text(
        "label\ttext\npositive\tGeweldig, dank jullie wel!\nnegative\tIk ben niet blij\n"
    )
    result = runner.invoke(app, ["evaluate", str(path), "--format", "tsv", "--language", "nl"])
    assert result.exit_code == 0
    assert "accuracy:  1.0000" in result.stdout
    assert "confusion matrix" in result.stdout


def test_evaluate_rejects_files_without_label_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("sentiment,text\npositive,hi\n")
    result = runner.invoke(app, ["evaluate", str(path)])
    assert result.exit_code == 2


def test_python_dash_m_runs_the_command_group() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "api", "nlp", "tag", "-"],
        input="Waarom werkt de app niet?? Ik word er gek van\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["language"] == "nl"
