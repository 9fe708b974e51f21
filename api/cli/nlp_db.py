"""`luister nlp retag | train | models | topics`: the commands that work on the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.ext.asyncio import AsyncSession

from api.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    err,
    fail,
    in_session,
    load_settings,
    run,
    stdout_is_tty,
    wired_sessions,
)
from listener.nlp.errors import NlpError, NotEnoughData
from listener.settings import Settings

if TYPE_CHECKING:
    from listener.nlp.learning import TrainingRun

CLI_ACTOR = "cli"
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
topics_app = typer.Typer(help="The organisation's topic taxonomy.", no_args_is_help=True)


def _since(value: datetime | None) -> datetime | None:
    # A date typed without a zone means UTC, like every timestamp Luister stores.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def retag(
    since: Annotated[
        datetime | None, typer.Option(help="Only mentions posted at or after this date (UTC).")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Only mentions stored with this language code.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Mentions per batch.")] = 500,
    as_json: JsonOption = False,
) -> None:
    """Re-tag stored mentions with the current taxonomy and models (keeps staff corrections)."""
    from listener.nlp.retag import count_to_retag, retag_mentions

    settings = load_settings()
    start = _since(since)
    code = language.lower() if language else None

    async def _go(progress: Progress | None) -> dict[str, int]:
        async with wired_sessions(settings) as sessions:
            on_progress = None
            if progress is not None:
                async with sessions() as session:
                    total = await count_to_retag(session, since=start, language=code)
                task = progress.add_task("re-tagging", total=total)

                def on_progress(done: int) -> None:
                    progress.advance(task, done)

            report = await retag_mentions(
                sessions, since=start, language=code, batch_size=batch_size, on_progress=on_progress
            )
            return report.to_dict()

    if stdout_is_tty() and not as_json:
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
        with Progress(*columns, TimeRemainingColumn(), console=err, transient=True) as progress:
            counts = run(_go(progress))
    else:
        counts = run(_go(None))
    err.print(
        f"re-tagged {counts['seen']} mentions: {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged"
    )
    if as_json:
        print(json.dumps(counts))


def _extra_examples(path: Path | None, language: str | None) -> dict[str | None, list[Any]]:
    """Labelled rows of --extra by language (None: rows without a language column)."""
    from listener.nlp.evaluation import read_labelled_file
    from listener.nlp.labels import SENTIMENT_LABELS
    from listener.nlp.train import LabelledExample

    if path is None:
        return {}
    try:
        rows = read_labelled_file(path, "\t" if path.suffix == ".tsv" else ",")
    except (OSError, ValueError, KeyError) as exc:
        fail(f"--extra {path}: {exc}")
    unknown = sorted({row.label for row in rows} - set(SENTIMENT_LABELS))
    if unknown or not rows:
        fail(f"--extra {path}: no rows, or labels other than {SENTIMENT_LABELS}: {unknown}")
    by_language: dict[str | None, list[Any]] = {}
    for row in rows:
        key = (row.language or language or "").lower() or None
        by_language.setdefault(key, []).append(LabelledExample(row.text, row.label))
    if None in by_language:
        fail(f"--extra {path}: rows without a language column need --language")
    return by_language


async def _record(session: AsyncSession, trained: TrainingRun, *, actor: str) -> int:
    from listener.nlp.models_store import record_model

    model = await record_model(
        session,
        outcome=trained.outcome,
        scores=trained.to_dict(),
        activate=trained.activated,
        actor=actor,
    )
    return model.id


def _train_one(
    settings: Settings, language: str, extra: list[Any], epochs: int, minimum: int
) -> dict[str, Any]:
    from listener.nlp.learning import correction_examples, train_language
    from listener.nlp.models_store import active_model, next_version_number

    async def _read(session: AsyncSession) -> tuple[Any, tuple[str, str] | None, int]:
        examples = await correction_examples(session, language=language)
        active = await active_model(session, language=language)
        number = await next_version_number(session, language=language)
        return examples, (active.path, active.version) if active else None, number

    examples, active, number = run(in_session(_read, settings=settings))
    err.print(f"{language}: training on {examples.total} corrected mentions + {len(extra)} extra")
    trained = train_language(
        examples,
        models_dir=(settings.data_dir / "models").resolve(),
        extra=extra,
        active=active,
        epochs=epochs,
        min_corrections=minimum,
        min_version=number,
    )
    trained.model_id = run(
        in_session(lambda s: _record(s, trained, actor=CLI_ACTOR), settings=settings)
    )
    return trained.to_dict()


def _describe(result: dict[str, Any]) -> str:
    trained, lexicon, before = result["trained"], result["lexicon"], result["active_before"]
    lines = [
        f"{result['language']}: {result['model_version']} "
        f"(trained on {result['train_size']}, scored on {result['heldout_size']} held-out "
        "corrections)",
        f"  trained model  accuracy {trained['accuracy']:.3f}  macro-F1 {trained['macro_f1']:.3f}",
        f"  lexicon        accuracy {lexicon['accuracy']:.3f}  macro-F1 {lexicon['macro_f1']:.3f}",
    ]
    if before:
        lines.append(
            f"  active before  accuracy {before['accuracy']:.3f}  macro-F1 "
            f"{before['macro_f1']:.3f}  ({before['model_version']})"
        )
    lines.append(
        "  activated: now used for sentiment"
        if result["activated"]
        else "  not activated: it does not beat what is in use"
    )
    return "\n".join(lines)


def train(
    language: Annotated[
        str | None, typer.Option(help="Train this language only (default: every corrected one).")
    ] = None,
    extra: Annotated[
        Path | None,
        typer.Option(help="Extra labelled CSV/TSV (label,text[,language]) to train on."),
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, max=100, help="Passes over the data.")] = 12,
    min_corrections: Annotated[
        int, typer.Option(min=2, help="Corrected mentions a language needs before training.")
    ] = 30,
    as_json: JsonOption = False,
) -> None:
    """Train sentiment per language from staff corrections; activate it only when it is better."""
    from listener.nlp.learning import correction_languages

    settings = load_settings()
    code = language.lower() if language else None
    if code is not None and code not in settings.nlp_languages:
        fail(f"--language {code}: not one of the configured languages {settings.nlp_languages}")
    extras = _extra_examples(extra, code)
    languages = [code] if code else run(in_session(correction_languages, settings=settings))
    languages = [lang for lang in languages if lang in settings.nlp_languages]
    if not languages:
        fail("no sentiment corrections yet: correct some mentions first", EXIT_FAILED)
    results, problems = [], []
    for lang in languages:
        try:
            results.append(
                _train_one(settings, lang, extras.get(lang, []), epochs, min_corrections)
            )
        except NotEnoughData as exc:
            problems.append(exc.detail)
            err.print(f"[yellow]skipped[/] {exc.detail}")
    for result in results:
        err.print(_describe(result), markup=False)
    if as_json:
        print(json.dumps({"models": results, "skipped": problems}))
    if not results:
        raise typer.Exit(EXIT_FAILED)


def models(as_json: JsonOption = False) -> None:
    """List trained sentiment models with their held-out scores and which are active."""
    from listener.nlp.models_store import list_models

    async def _list(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            {
                "id": m.id,
                "language": m.language,
                "version": m.version,
                "active": m.active,
                "macro_f1": m.macro_f1,
                "lexicon_macro_f1": m.lexicon_macro_f1,
                "accuracy": m.accuracy,
                "lexicon_accuracy": m.lexicon_accuracy,
                "heldout_size": m.heldout_size,
                "created_at": m.created_at.isoformat(),
            }
            for m in await list_models(session)
        ]

    found = run(in_session(_list, settings=load_settings()))
    if as_json:
        print(json.dumps({"models": found}))
        return
    if not found:
        err.print("no trained models: sentiment comes from the lexicons")
    for m in found:
        mark = "*" if m["active"] else " "
        err.print(
            f"{mark} {m['id']:>4} {m['version']:<18} macro-F1 {m['macro_f1']:.3f} "
            f"(lexicon {m['lexicon_macro_f1']:.3f}) on {m['heldout_size']} held out"
        )


@topics_app.command("list")
def list_topics_command(as_json: JsonOption = False) -> None:
    """List the topics and their terms per language."""
    from listener.nlp.topics_store import list_topics, topic_state

    async def _list(session: AsyncSession) -> list[dict[str, Any]]:
        return [{"id": t.id, **topic_state(t)} for t in await list_topics(session)]

    found = run(in_session(_list, settings=load_settings()))
    if as_json:
        print(json.dumps({"topics": found}))
        return
    if not found:
        err.print("no topics yet: mentions get none (try `luister nlp topics import --default`)")
    for topic in found:
        terms = "; ".join(
            f"{lang}: {', '.join(words)}" for lang, words in topic["keywords"].items()
        )
        labels = ", ".join(f"{lang}: {label}" for lang, label in topic["labels"].items())
        shown = f"{topic['name']} ({labels})" if labels else topic["name"]
        err.print(f"{shown}: {terms}", markup=False)


@topics_app.command("import")
def import_topics_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            help='JSON list of {"key", "label", "labels": {lang: label}, "terms": {lang: [...]}}.'
        ),
    ] = None,
    default: Annotated[
        bool, typer.Option("--default", help="Import the built-in example taxonomy.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create or update topics by name from a taxonomy file (the `nlp tag --taxonomy` format)."""
    from listener.nlp.taxonomy import DEFAULT_TAXONOMY, Taxonomy
    from listener.nlp.topics_store import import_topics, taxonomy_items

    if (file is None) == (not default):
        fail("give a FILE or --default (one of them)")
    if file is not None:
        try:
            taxonomy = Taxonomy.from_json_file(file)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            fail(f"{file}: not a taxonomy file ({exc})", EXIT_BAD_INPUT)
    else:
        taxonomy = DEFAULT_TAXONOMY
    items = taxonomy_items(taxonomy)

    async def _import(session: AsyncSession) -> dict[str, int]:
        return await import_topics(session, items=items, actor=CLI_ACTOR)

    try:
        counts = run(in_session(_import, settings=load_settings()))
    except NlpError as exc:
        fail(f"{file or 'default taxonomy'}: {exc.detail}")
    err.print(
        f"topics: {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged (run `luister nlp retag` to re-tag stored mentions)"
    )
    if as_json:
        print(json.dumps(counts))
