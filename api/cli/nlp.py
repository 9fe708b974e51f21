"""`luister nlp`: tag and evaluate (no database), retag, train, models and topics (database).

`tag` and `evaluate` live in `api.cli.nlp_text`, which imports nothing of the database side;
the database commands come from `api.cli.nlp_db`.
"""

from __future__ import annotations

import typer

from api.cli import nlp_db as cli_store
from api.cli.nlp_text import (
    BadLine,
    FileFormat,
    evaluate,
    format_report,
    make_tagger,
    parse_jsonl_line,
    read_inputs,
    tag,
    tag_stream,
    write_results,
)

__all__ = [
    "BadLine",
    "FileFormat",
    "app",
    "evaluate",
    "format_report",
    "make_tagger",
    "parse_jsonl_line",
    "read_inputs",
    "tag",
    "tag_stream",
    "write_results",
]

app = typer.Typer(
    help="Tag mentions with language, sentiment, intents and topics.", no_args_is_help=True
)
app.command("tag")(tag)
app.command("evaluate")(evaluate)
app.command("retag")(cli_store.retag)
app.command("train")(cli_store.train)
app.command("models")(cli_store.models)
app.add_typer(cli_store.topics_app, name="topics")
