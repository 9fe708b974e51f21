"""Frozen outputs of the tagging paths, to prove that faster paths give the same results.

The files in tests/nlp/data were written by the tagging code as it was before the fast paths
(batched tagging off the event loop in ingest, the light `luister nlp tag` start-up). The
tests compare today's output with them, field by field; they never time anything.

Rewrite them only when a change is *meant* to change tags (then say so in the commit):

    python -m tests.nlp.golden
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Mention, MentionTopic, QueueItem, Topic
from listener.nlp.corrections import correct_mention
from listener.sources.ingest import ingest_mentions
from tests.factories import mention

ROOT = Path(__file__).resolve().parents[2]
EVAL_DIR = ROOT / "tests" / "data" / "eval"
GOLDEN_DIR = Path(__file__).resolve().parent / "data"
CLI_GOLDEN = GOLDEN_DIR / "golden_cli.json.gz"
INGEST_GOLDEN = GOLDEN_DIR / "golden_ingest.json.gz"

TOPICS = {
    "delivery": {"en": ["parcel", "delivery", "package"], "nl": ["levering", "bezorging"]},
    "service": {"en": ["service", "support", "work"], "nl": ["service", "klantenservice"]},
    "quality": {"*": ["quality", "kwaliteit"], "en": ["love", "day"], "nl": ["boek", "product"]},
}
# The factors of a queue item's priority that come from its tags and its author, not the clock.
TAG_FACTORS = ("intent", "sentiment", "keywords", "reach")


def eval_texts(language: str) -> list[str]:
    """The public evaluation set of a language, one line per text."""
    path = EVAL_DIR / f"sentiment_{language}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return [" ".join(row["text"].split()) for row in csv.DictReader(handle)]


def cli_runs(folder: Path) -> dict[str, list[str]]:
    """Run `python -m api nlp tag` the three ways the golden file records; stdout lines."""
    english, dutch = eval_texts("en"), eval_texts("nl")
    files = {"en": english, "nl": dutch, "both": english + dutch}
    for name, texts in files.items():
        (folder / f"{name}.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")

    def run(*args: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "api", "nlp", "tag", *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            timeout=300,
        )
        return done.stdout.splitlines()

    return {
        "en_given": run(str(folder / "en.txt"), "--language", "en"),
        "nl_given": run(str(folder / "nl.txt"), "--language", "nl"),
        "detected": run(str(folder / "both.txt")),
    }


def ingest_items() -> list[dict[str, Any]]:
    """English and Dutch posts: the platform gives the language for some, not for others."""
    items = []
    for n, (text, language) in enumerate(
        [(t, "en") for t in eval_texts("en")] + [(t, "nl") for t in eval_texts("nl")]
    ):
        given = (language, f"{language}-NL" if language == "nl" else "en-GB", None)[n % 3]
        items.append(mention(n, text=text, language=given))
    return items


async def ingest_scenario(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Topics, a first ingest in batches, a correction, then changed copies of some posts."""
    async with sessions() as session, session.begin():
        for name, keywords in TOPICS.items():
            session.add(Topic(name=name, description=name.title(), keywords=keywords))
    items = ingest_items()
    for start in range(0, len(items), 300):
        async with sessions() as session, session.begin():
            await ingest_mentions(session, items[start : start + 300])
    async with sessions() as session, session.begin():
        first = (
            await session.execute(select(Mention.id).order_by(Mention.id).limit(1))
        ).scalar_one()
        await correct_mention(
            session, mention_id=first, field="sentiment", value="negative", user_id=None, actor="t"
        )
    changed = [{**item, "text": item["text"] + " Thanks!"} for item in items[::9]]
    async with sessions() as session, session.begin():
        await ingest_mentions(session, changed)


async def ingest_snapshot(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    """What the scenario stored, per mention (by its platform id): tags, topics, priority.

    Of the priority, the factors that the tags decide are kept; recency, growth and the SLA
    move with the clock, so the total would differ from one day to the next.
    """
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Mention, QueueItem.priority_explain, QueueItem.status)
                .join(QueueItem, QueueItem.mention_id == Mention.id)
                .order_by(Mention.external_id)
            )
        ).all()
        links = (
            await session.execute(
                select(MentionTopic.mention_id, Topic.name, MentionTopic.spans).join(
                    Topic, Topic.id == MentionTopic.topic_id
                )
            )
        ).all()
    topics: dict[int, dict[str, Any]] = {}
    for mention_id, name, spans in links:
        topics.setdefault(mention_id, {})[name] = spans
    return [
        {
            "external_id": m.external_id,
            "text": m.text,
            "language": m.language,
            "language_confidence": _rounded(m.language_confidence),
            "sentiment_label": m.sentiment_label,
            "sentiment_score": _rounded(m.sentiment_score),
            "intents": sorted(m.intents or []),
            "nlp_version": m.nlp_version,
            "topics": topics.get(m.id, {}),
            "priority_factors": _tag_factors(explain),
            "status": str(status),
        }
        for m, explain, status in rows
    ]


def _tag_factors(explain: Any) -> dict[str, Any]:
    factors = (explain or {}).get("factors") or []
    return {f["name"]: f["value"] for f in factors if f["name"] in TAG_FACTORS}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def read_golden(path: Path) -> Any:
    """Load a gzipped JSON golden file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _write(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, indent=0, sort_keys=True)


async def _ingest_golden(folder: Path) -> list[dict[str, Any]]:
    from api.wiring import session_factory
    from listener import migrate
    from listener.db import make_engine
    from listener.settings import Settings

    url = f"sqlite+aiosqlite:///{folder / 'golden.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    settings = Settings(database_url=url, redis_url=None, run_jobs=False)
    sessions = session_factory(settings, engine)
    await ingest_scenario(sessions)
    snapshot = await ingest_snapshot(sessions)
    await engine.dispose()
    return snapshot


def main() -> None:
    """Rewrite both golden files from the code as it is now."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(CLI_GOLDEN, cli_runs(folder))
        _write(INGEST_GOLDEN, asyncio.run(_ingest_golden(folder)))
    print(f"wrote {CLI_GOLDEN} and {INGEST_GOLDEN}")


if __name__ == "__main__":
    main()
