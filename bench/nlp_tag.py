"""`luister nlp tag`, whole process, against a process running VADER alone on the same texts.

Run: python -m bench.nlp_tag [--count 20000] [--rounds 3]
The texts are the 400 public English tweets of tests/data/eval/sentiment_en.csv (VADER's own
ground-truth set), repeated to `--count` lines of one plain-text file. Every process reads
that file and writes one JSON line per text: the candidate is `python -m api nlp tag FILE
--language en`, in one process (`--workers 1`) and as it runs by default (one worker process per
CPU it may use, at most 4; the target is judged on this one); the baseline is a
bare script that imports vaderSentiment and prints `polarity_scores` per line. Each round
starts every process once, interleaved, and the best wall-clock rate of each is kept, so
start-up, imports and I/O all count and load from other work on the machine hits all alike.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from api.cli.nlp_text import default_workers

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ROOT / "tests" / "data" / "eval" / "sentiment_en.csv"
TARGET = 0.5

VADER_ALONE = """
import json, sys
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
analyzer = SentimentIntensityAnalyzer()
out = sys.stdout
with open(sys.argv[1], encoding="utf-8") as stream:
    for line in stream:
        out.write(json.dumps(analyzer.polarity_scores(line.rstrip("\\n"))) + "\\n")
"""


def english_texts(count: int) -> list[str]:
    """`count` one-line English tweets: the public evaluation set, repeated."""
    with TEXTS.open(encoding="utf-8", newline="") as handle:
        base = [" ".join(row["text"].split()) for row in csv.DictReader(handle)]
    return [base[i % len(base)] for i in range(count)]


def timed(command: list[str], output: Path) -> float:
    """Seconds for one process to run to completion, its stdout written to `output`."""
    with output.open("wb") as sink:
        started = time.perf_counter()
        subprocess.run(command, stdout=sink, check=True, cwd=ROOT)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    tag = [sys.executable, "-m", "api", "nlp", "tag"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        texts = folder / "texts.txt"
        texts.write_text("\n".join(english_texts(args.count)) + "\n", encoding="utf-8")
        commands = {
            "VADER alone (baseline)": [sys.executable, "-c", VADER_ALONE, str(texts)],
            "luister nlp tag --workers 1": [*tag, str(texts), "--language", "en", "--workers", "1"],
            "luister nlp tag (default)": [*tag, str(texts), "--language", "en"],
        }
        best = dict.fromkeys(commands, float("inf"))
        for _ in range(args.rounds):
            for index, (name, command) in enumerate(commands.items()):
                output = folder / f"{index}.jsonl"
                best[name] = min(best[name], timed(command, output))
                lines = output.read_bytes().count(b"\n")
                assert lines == args.count, (name, lines)

    n = args.count
    print(f"texts: {n:,} English tweets, language given; best of {args.rounds} interleaved runs")
    for name, seconds in best.items():
        print(f"{name:<28}, whole process: {n / seconds:8,.0f} texts/s ({seconds:.2f} s)")
    baseline = best["VADER alone (baseline)"]
    print(f"the default runs {default_workers()} worker process(es) here")
    for name in ("luister nlp tag --workers 1", "luister nlp tag (default)"):
        ratio = baseline / best[name]
        verdict = "met" if ratio >= TARGET else "MISSED"
        print(f"ratio {name} / VADER alone: {ratio:.2f}x (target >= {TARGET}: {verdict})")


if __name__ == "__main__":
    main()
