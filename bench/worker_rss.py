"""Resident memory of a `luister worker`-like process before and after the NLP pipeline loads.

Run: python -m bench.worker_rss [--database-url URL] [--batch 1000]
This process does what `luister worker` does at start-up, minus the Redis loop: it imports
`api.worker` (and with it every job's module), runs the worker's `startup` (engine, session
factory, HTTP client, `warm_up_tagger`), then tags a batch of mixed English and Dutch posts
the way ingest does (first with the platform's language, then without, which loads the
language detector). It prints the resident set size (VmRSS) at each stage, against the bare
interpreter's as the baseline of the same run. The database (a fresh SQLite file by default)
is migrated by a child process, so migration code never counts here.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_MIB = 300.0


def rss_mib() -> float:
    """This process's resident set size now, in MiB (from /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def migrate_in_child(url: str) -> None:
    """Bring the database to the newest schema in another process."""
    code = "import sys; from listener import migrate; migrate.upgrade(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, url], check=True)


def posts(count: int) -> list[tuple[str, str]]:
    """`count` (text, language) posts from the public evaluation sets, English and Dutch."""
    import csv

    data = Path(__file__).resolve().parent.parent / "tests" / "data" / "eval"
    pools = {}
    for language in ("en", "nl"):
        with (data / f"sentiment_{language}.csv").open(encoding="utf-8", newline="") as handle:
            pools[language] = [row["text"] for row in csv.DictReader(handle)]
    return [
        (pools[lang][i % len(pools[lang])], lang)
        for i, lang in ((i, ("en", "nl")[i % 2]) for i in range(count))
    ]


async def run(url: str, batch: int) -> dict[str, float]:
    figures = {"bare interpreter": rss_mib()}
    from api.worker import shutdown, startup
    from listener.settings import Settings

    gc.collect()
    figures["api.worker imported"] = rss_mib()
    settings = Settings(database_url=url)
    ctx: dict = {"settings": settings}
    await startup(ctx)
    gc.collect()
    figures["after startup (NLP loaded)"] = rss_mib()

    from listener.nlp.store import load_tagging_state, tag_inputs
    from listener.nlp.tagger import TagInput

    async with ctx["sessions"]() as session:
        state = await load_tagging_state(session)
    inputs = [TagInput(text=t, language=lang) for t, lang in posts(batch)]
    await tag_inputs(state, inputs)
    gc.collect()
    figures[f"after tagging {batch:,} (language given)"] = rss_mib()
    undetected = [TagInput(text=t) for t, _ in posts(batch // 4)]
    await tag_inputs(state, undetected)
    gc.collect()
    figures[f"then {batch // 4:,} (language detected)"] = rss_mib()
    await shutdown(ctx)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{os.path.join(tmp, 'worker.db')}"
        migrate_in_child(url)
        figures = asyncio.run(run(url, args.batch))
    for stage, mib in figures.items():
        print(f"RSS {stage:<32}: {mib:7.1f} MiB")
    loaded = figures["after startup (NLP loaded)"]
    # Judged once everything a worker loads is in: the detector too (its first text without a
    # language loads it; its size grows with LUISTER_NLP_LANGUAGES, about 40 MiB per language).
    peak = max(figures.values())
    languages = os.environ.get("LUISTER_NLP_LANGUAGES", "en,nl,de,fr,es (the default)")
    accuracy = os.environ.get("LUISTER_NLP_LANGUAGE_ACCURACY", "high (the default)")
    print(f"detection languages: {languages}; detector accuracy mode: {accuracy}")
    print(f"worker RSS after start-up: {loaded:.0f} MiB")
    verdict = "met" if peak <= TARGET_MIB else "MISSED"
    target = f"target <= {TARGET_MIB:.0f}: {verdict}"
    print(f"worker RSS with NLP and the detector loaded: {peak:.0f} MiB ({target})")
    print(f"NLP load adds {loaded - figures['api.worker imported']:.0f} MiB to the imported worker")


if __name__ == "__main__":
    main()
