"""Build `tests/data/spam_eval.csv`: public texts labelled spam or not, held out from the rules.

Run once, by hand (see tests/data/README.md):

    python tests/data/spam/make_spam_eval.py VADER_DIR

VADER_DIR holds `nytEditorialSnippets_GroundTruth.txt` and `tweets_GroundTruth.txt` (inside
`additional_resources/hutto_ICWSM_2014.tar.gz` of vaderSentiment 3.3.2's source distribution).
`sms_spam_sample.tsv` beside this file holds the spam messages of lines ~170-520 of the SMS Spam
Collection (Almeida & Gomez Hidalgo, 2011; UCI, CC BY 4.0), copied verbatim. The selection is
deterministic and reads none of Luister's rules.
"""

from __future__ import annotations

import csv
import html
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "spam_eval.csv"
NEWS_ROWS = 120
QUESTION_ROWS = 60
NUMBERISH = re.compile(r"[$%£€]|\d")


def _spaced(rows: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    step = len(rows) / count
    return [rows[int(index * step)] for index in range(count)]


def news(vader_dir: Path) -> list[tuple[str, str]]:
    """NYT editorial snippets that mention a number, a price or a percentage, evenly spaced."""
    lines = (vader_dir / "nytEditorialSnippets_GroundTruth.txt").read_text(encoding="utf-8")
    rows = []
    for line in lines.splitlines():
        source_id, _, text = line.split("\t", 2)
        if NUMBERISH.search(text):
            rows.append((f"nytEditorialSnippets:{source_id}", html.unescape(text.strip())))
    return _spaced(rows, NEWS_ROWS)


def questions(vader_dir: Path) -> list[tuple[str, str]]:
    """Tweets with a question mark that are not in the sentiment evaluation set (id % 10 != 0)."""
    lines = (vader_dir / "tweets_GroundTruth.txt").read_text(encoding="utf-8")
    rows = []
    for line in lines.splitlines():
        source_id, _, text = line.split("\t", 2)
        if int(source_id) <= 4000 and int(source_id) % 10 and "?" in text:
            rows.append((f"tweets_GroundTruth:{source_id}", html.unescape(text.strip())))
    return _spaced(rows, QUESTION_ROWS)


def promotions() -> list[tuple[str, str]]:
    """The SMS spam sample, in file order."""
    lines = (HERE / "sms_spam_sample.tsv").read_text(encoding="utf-8").splitlines()
    return [(f"SMSSpamCollection:sample{index}", line) for index, line in enumerate(lines, 1)]


def main(vader_dir: Path) -> None:
    """Write the labelled set."""
    with OUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["label", "kind", "text", "source_id"])
        for source_id, text in news(vader_dir):
            writer.writerow(["not_spam", "news", text, source_id])
        for source_id, text in questions(vader_dir):
            writer.writerow(["not_spam", "question", text, source_id])
        for source_id, text in promotions():
            writer.writerow(["spam", "promotion", text, source_id])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
