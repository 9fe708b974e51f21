"""`luister nlp tag` and `luister nlp evaluate`: the commands that need no database.

They live apart from the database commands so that `luister nlp tag` can start without the
database side (SQLAlchemy, the models, every job's module): `api.cli.app` runs them through
`text_app` when the command line starts with them. spaCy and lingua are imported inside the
commands too, and lingua only when some text has no language.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

if TYPE_CHECKING:
    from listener.nlp.tagger import Tagger, TagInput

# spaCy and lingua load in about a second, so they are imported inside the commands:
# `luister --help` stays fast.

app = typer.Typer(
    help="Tag mentions with language, sentiment, intents and topics.", no_args_is_help=True
)

CHUNK_SIZE = 1000
EXIT_BAD_INPUT = 2
MAX_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """The CPUs this process may run on (its affinity, where the system says), at most 4."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_DEFAULT_WORKERS))


class FileFormat(StrEnum):
    """Delimited file formats that `evaluate` reads."""

    csv = "csv"
    tsv = "tsv"


class BadLine(ValueError):
    """A JSONL line that cannot be tagged."""


def make_tagger(taxonomy: Path | None) -> Tagger:
    """Return the shared tagger, with a taxonomy file when one is given."""
    from listener.nlp.tagger import NlpSettings, get_tagger
    from listener.nlp.taxonomy import Taxonomy

    if taxonomy is None:
        return get_tagger()
    return get_tagger(NlpSettings(taxonomy=Taxonomy.from_json_file(taxonomy)))


def parse_jsonl_line(line: str, line_number: int) -> TagInput:
    """Turn one JSONL line into a TagInput or raise BadLine."""
    from listener.nlp.tagger import TagInput

    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise BadLine(f"not valid JSON ({error.msg})") from error
    if not isinstance(data, dict):
        raise BadLine("expected a JSON object")
    text, language = data.get("text"), data.get("language")
    if not isinstance(text, str):
        raise BadLine('"text" must be a string')
    if language is not None and not isinstance(language, str):
        raise BadLine('"language" must be a string or null')
    return TagInput(text=text, id=data.get("id", line_number), language=language)


def read_inputs(
    stream: TextIO, jsonl: bool, language: str | None
) -> Iterator[tuple[int, TagInput | str]]:
    """Yield (line number, input or error message) for every input line."""
    from listener.nlp.tagger import TagInput

    for line_number, raw in enumerate(stream, start=1):
        line = raw.rstrip("\r\n")
        if not jsonl:
            yield line_number, TagInput(text=line, id=line_number, language=language)
        elif line.strip():
            try:
                yield line_number, parse_jsonl_line(line, line_number)
            except BadLine as error:
                yield line_number, str(error)


def tag_stream(
    tagger: Tagger, stream: TextIO, jsonl: bool, language: str | None, workers: int = 1
) -> int:
    """Tag a stream chunk by chunk, writing JSON lines to stdout; return the bad-line count.

    With `workers` > 1, chunks are tagged in that many forked processes (which share the
    pipelines built here) and written in input order; each text is tagged on its own, so the
    output is the same whichever process tags it.
    """
    counter = BadLineCounter()
    chunks = input_chunks(stream, jsonl, language, counter)
    out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
    for encoded in tagged_chunks(tagger, chunks, workers):
        if out is not None:
            out.write(encoded)
        else:  # a text-only stdout (some test runners)
            sys.stdout.write(encoded.decode("utf-8"))
    sys.stdout.flush()
    return counter.count


class BadLineCounter:
    """Counts the lines that could not be tagged, reporting each on stderr."""

    def __init__(self) -> None:
        self.count = 0

    def report(self, line_number: int, message: str) -> None:
        """Tell the user which line was skipped and why."""
        self.count += 1
        typer.echo(f"line {line_number}: {message}", err=True)


def input_chunks(
    stream: TextIO, jsonl: bool, language: str | None, bad: BadLineCounter
) -> Iterator[list[TagInput]]:
    """The inputs in chunks of CHUNK_SIZE; bad lines are reported and skipped."""
    chunk: list[TagInput] = []
    for line_number, item in read_inputs(stream, jsonl, language):
        if isinstance(item, str):
            bad.report(line_number, item)
            continue
        chunk.append(item)
        if len(chunk) >= CHUNK_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def encode_results(tagger: Tagger, chunk: list[TagInput]) -> bytes:
    """Tag one chunk: one JSON object per input, in order, as UTF-8 lines."""
    import orjson

    return b"".join(orjson.dumps(r.to_dict()) + b"\n" for r in tagger.tag_texts(chunk))


def write_results(tagger: Tagger, chunk: list[TagInput]) -> None:
    """Tag one chunk and print one JSON object per input, in order."""
    sys.stdout.write(encode_results(tagger, chunk).decode("utf-8"))
    sys.stdout.flush()


# The tagger a forked worker process inherits from its parent (set just before forking).
_FORKED_TAGGER: Tagger | None = None


def _encode_in_worker(chunk: list[TagInput]) -> bytes:
    assert _FORKED_TAGGER is not None
    return encode_results(_FORKED_TAGGER, chunk)


def tagged_chunks(
    tagger: Tagger, chunks: Iterator[list[TagInput]], workers: int
) -> Iterator[bytes]:
    """Encoded results per chunk, in input order; in `workers` processes when it pays."""
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    # One chunk: forking costs more than it saves. Without fork (Windows), one process.
    if workers <= 1 or second is None or not _can_fork():
        yield encode_results(tagger, first)
        if second is not None:
            yield encode_results(tagger, second)
        for chunk in chunks:
            yield encode_results(tagger, chunk)
        return
    yield from _tag_in_processes(tagger, [first, second], chunks, workers)


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _tag_in_processes(
    tagger: Tagger, head: list[list[TagInput]], chunks: Iterator[list[TagInput]], workers: int
) -> Iterator[bytes]:
    global _FORKED_TAGGER
    import gc
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    _FORKED_TAGGER = tagger
    # Move what exists now out of the collector's sight: a child's collections then do not
    # write to (and so copy) the parent's pages of pipelines and lexicons.
    gc.collect()
    gc.freeze()
    # Fork, so the workers start at once with the pipelines already built; a bounded window
    # of chunks in flight keeps memory flat on endless stdin.
    context = multiprocessing.get_context("fork")
    window: deque[Future[bytes]] = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for chunk in head:
            window.append(pool.submit(_encode_in_worker, chunk))
        for chunk in chunks:
            window.append(pool.submit(_encode_in_worker, chunk))
            if len(window) > 2 * workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


@app.command()
def tag(
    file: Annotated[
        str, typer.Argument(help="Text file, one mention per line; '-' = stdin.")
    ] = "-",
    jsonl: Annotated[
        bool,
        typer.Option(
            "--jsonl", help='Read JSON lines {"id", "text", "language"?} instead of plain text.'
        ),
    ] = False,
    language: Annotated[
        str | None,
        typer.Option(help="Language of every plain-text line, when known (skips detection)."),
    ] = None,
    taxonomy: Annotated[
        Path | None,
        typer.Option(help="JSON taxonomy file (default: the built-in example taxonomy)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes that tag in parallel on inputs over 1,000 lines (forked; Linux). "
            f"Default: the CPUs this process may use, at most {MAX_DEFAULT_WORKERS}; "
            "1 tags in this process alone.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Tag each input line and print one JSON object per line, in input order."""
    if workers is None:
        workers = default_workers()
    tagger = make_tagger(taxonomy)
    if language:
        tagger.pipeline(language)  # built once here, shared by forked workers
    if file == "-":
        bad_lines = tag_stream(tagger, sys.stdin, jsonl, language, workers)
    else:
        path = Path(file)
        if not path.is_file():
            typer.echo(f"no such file: {file}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        with path.open(encoding="utf-8") as stream:
            bad_lines = tag_stream(tagger, stream, jsonl, language, workers)
    if bad_lines:
        typer.echo(f"{bad_lines} bad line(s) skipped", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)


def format_report(report: dict[str, Any]) -> str:
    """Render an evaluation report as plain text."""
    sentiment = report["sentiment"]
    labels = [label for label in sentiment["labels"] if label in sentiment["confusion"]]
    width = max(len(label) for label in [*labels, "expected"]) + 2
    lines = [
        f"examples:  {sentiment['total']}",
        f"accuracy:  {sentiment['accuracy']:.4f}",
        f"macro-F1:  {sentiment['macro_f1']:.4f}",
        "",
        "confusion matrix (rows: expected, columns: predicted)",
        "expected".ljust(width) + "".join(label.rjust(width) for label in labels),
    ]
    for row in labels:
        counts = sentiment["confusion"][row]
        lines.append(row.ljust(width) + "".join(str(counts[c]).rjust(width) for c in labels))
    if "intents" in report:
        intents = report["intents"]
        lines += [
            "",
            f"intents exact match: {intents['exact_match']:.4f}",
            f"intents micro-F1:    {intents['micro_f1']:.4f}",
        ]
    return "\n".join(lines)


@app.command()
def evaluate(
    file: Annotated[Path, typer.Argument(help="Labelled file with columns label,text.")],
    file_format: Annotated[
        FileFormat, typer.Option("--format", help="csv or tsv.")
    ] = FileFormat.csv,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    language: Annotated[
        str | None,
        typer.Option(help="Language of every text (overrides a language column; default: detect)."),
    ] = None,
) -> None:
    """Print accuracy, macro-F1 and the confusion matrix of sentiment on a labelled file."""
    from listener.nlp.evaluation import evaluate_texts, read_labelled_file
    from listener.nlp.labels import SENTIMENT_LABELS
    from listener.nlp.tagger import get_tagger

    delimiter = "\t" if file_format is FileFormat.tsv else ","
    try:
        examples = read_labelled_file(file, delimiter)
    except (OSError, ValueError, KeyError) as error:
        typer.echo(f"cannot read {file}: {error}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from error
    unknown = {example.label for example in examples} - set(SENTIMENT_LABELS)
    if unknown or not examples:
        typer.echo(f"{file}: no examples or unknown labels {sorted(unknown)}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    report = evaluate_texts(get_tagger(), examples, language)
    typer.echo(json.dumps(report) if as_json else format_report(report))
