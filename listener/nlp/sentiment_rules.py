"""Per-language sentiment rules: lexicon supplements, negators, boosters, contrast, sarcasm."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE

from listener.nlp.lexicons import pattern_dutch_lexicon, vader_emoticons, vader_lexicon

BOOST = 0.293

# Social and customer-service words the shipped lexicons lack (VADER scale, -4..4).
ENGLISH_SUPPLEMENT: dict[str, float] = {
    "slow": -1.2,
    "crashes": -1.7,
    "crashed": -1.7,
    "crashing": -1.7,
    "laggy": -1.5,
    "buggy": -1.8,
    "unusable": -2.3,
    "overpriced": -2.0,
    "soggy": -1.5,
    "ripoff": -2.5,
    "scammed": -2.5,
    "props": 2.0,
    "shoutout": 1.8,
    "disgusting": -2.5,
    "unacceptable": -2.3,
    "outage": -1.5,
    "refunded": 1.0,
    "damaged": -1.5,
    "rude": -2.0,
    "down": -1.0,
    # Requests for help are problems in customer conversations, not praise.
    "help": 0.0,
    "please": 0.0,
    "pls": 0.0,
    "plz": 0.0,
}
ENGLISH_PHRASES: dict[tuple[str, ...], float] = {
    ("thanks", "for", "nothing"): -2.5,
    ("never", "again"): -2.0,
    ("waste", "of", "money"): -2.5,
    ("not", "worth"): -1.8,
    ("still", "waiting"): -1.5,
    ("still", "no"): -1.5,
    ("not", "working"): -1.8,
    ("stopped", "working"): -1.8,
    ("does", "n't", "work"): -1.8,
    ("did", "n't", "work"): -1.8,
    ("doesnt", "work"): -1.8,
    ("didnt", "work"): -1.8,
    ("does", "not", "work"): -1.8,
    ("on", "hold"): -1.0,
    ("hung", "up"): -1.5,
    ("shout", "out"): 1.8,
    ("well", "done"): 2.3,
    ("great", "job"): 2.3,
    ("game", "changer"): 2.3,
    ("top", "notch"): 2.5,
    ("above", "and", "beyond"): 2.5,
    ("made", "my", "day"): 2.5,
    ("keep", "up", "the", "good", "work"): 2.5,
    ("not", "too", "shabby"): 1.5,
    ("last", "straw"): -2.0,
    ("no", "thanks"): -1.0,
    ("could", "n't", "be", "happier"): 3.0,
    ("could", "not", "be", "happier"): 3.0,
    ("could", "n't", "be", "better"): 3.0,
}

DUTCH_SUPPLEMENT: dict[str, float] = {
    "top": 2.0,
    "toppie": 2.2,
    "topper": 2.2,
    "toppers": 2.2,
    "super": 2.5,
    "gaaf": 2.2,
    "vet": 1.5,
    "vette": 1.5,
    "tof": 2.0,
    "lekker": 1.8,
    "heerlijk": 2.5,
    "genieten": 2.3,
    "genoten": 2.3,
    "geniet": 2.3,
    "blij": 2.0,
    "bedankt": 1.8,
    "dank": 1.8,
    "dankjewel": 1.9,
    "dankuwel": 1.9,
    "bedankje": 1.5,
    "dankbaar": 2.0,
    "aanrader": 2.2,
    "aanraden": 1.5,
    "hulde": 2.2,
    "pluim": 2.0,
    "chapeau": 2.2,
    "complimenten": 2.2,
    "compliment": 2.0,
    "respect": 1.5,
    "prachtig": 2.8,
    "trots": 1.8,
    "gefeliciteerd": 2.5,
    "proficiat": 2.5,
    "hoera": 2.5,
    "joepie": 2.5,
    "haha": 1.5,
    "hahaha": 1.8,
    "lol": 1.8,
    "liefde": 2.5,
    "verliefd": 2.0,
    "njam": 1.5,
    "smullen": 2.0,
    "uitkomst": 2.0,
    "gezellig": 2.2,
    "held": 1.8,
    "helden": 2.0,
    "opgelost": 1.2,
    "behulpzaam": 2.0,
    "ijzersterk": 2.2,
    "gezegend": 2.0,
    "love": 3.0,
    "nice": 1.8,
    "thanks": 1.9,
    "thx": 1.5,
    "fan": 1.5,
    "kut": -2.5,
    "klote": -2.5,
    "balen": -2.0,
    "baal": -2.0,
    "shit": -2.0,
    "kapot": -2.0,
    "storing": -2.0,
    "vertraging": -1.5,
    "vertraagd": -1.5,
    "uitgevallen": -1.5,
    "geannuleerd": -1.5,
    "crasht": -2.0,
    "crash": -1.7,
    "traag": -1.5,
    "irritant": -2.2,
    "belachelijk": -2.2,
    "schandalig": -2.8,
    "schande": -2.5,
    "bagger": -2.5,
    "waardeloos": -2.5,
    "ranzig": -2.5,
    "smerig": -2.3,
    "vies": -2.0,
    "zonde": -1.5,
    "oplichterij": -2.8,
    "oplichters": -2.8,
    "fail": -2.5,
    "haat": -2.8,
    "hekel": -2.0,
    "teleurgesteld": -2.0,
    "teleurstellend": -2.0,
    "teleurstelling": -2.0,
    "boos": -2.0,
    "woedend": -3.0,
    "kwaad": -2.0,
    "verdrietig": -2.0,
    "spijt": -1.5,
    "hoofdpijn": -1.5,
    "rot": -2.0,
    "rotweer": -2.0,
    "frustrerend": -2.2,
    "ellende": -2.3,
    "drama": -1.8,
    "onacceptabel": -2.5,
    "onbeschoft": -2.3,
    "chagrijnig": -1.8,
    "jammer": -1.5,
    "helaas": -1.2,
    "probleem": -1.2,
    "problemen": -1.2,
    "foutmelding": -1.5,
    "mislukt": -1.8,
    "kwijt": -1.3,
    "verspilling": -2.0,
    "nutteloos": -2.2,
    "mwah": -0.5,
    "meh": -0.3,
    "pff": -1.0,
    "zucht": -1.2,
    "bah": -1.8,
    "getver": -2.0,
    "ziek": -1.5,
    "beroerd": -2.2,
    "vreselijk": -2.8,
    "verschrikkelijk": -2.8,
    "hartverscheurend": -2.5,
    "saai": -1.5,
    "spam": -1.0,
    "afgewezen": -1.2,
    "herrie": -1.2,
    "file": -0.8,
}
DUTCH_PHRASES: dict[tuple[str, ...], float] = {
    ("bedankt", "voor", "niks"): -2.5,
    ("bedankt", "voor", "niets"): -2.5,
    ("dank", "je", "de", "koekoek"): -2.5,
    ("nooit", "meer"): -2.0,
    ("werkt", "niet"): -1.8,
    ("doet", "het", "niet"): -1.8,
    ("deed", "het", "niet"): -1.8,
    ("ligt", "eruit"): -1.8,
    ("ligt", "er", "uit"): -1.8,
    ("ligt", "er", "weer", "uit"): -1.8,
    ("ligt", "er", "alweer", "uit"): -1.8,
    ("in", "de", "wacht"): -1.0,
    ("word", "er", "gek", "van"): -2.2,
    ("word", "gek", "van"): -2.2,
    ("maat", "is", "vol"): -2.0,
    ("klaar", "mee"): -1.8,
    ("nog", "steeds", "geen"): -1.5,
    ("nog", "steeds", "niet"): -1.5,
    ("goed", "gedaan"): 2.3,
    ("goed", "bezig"): 1.8,
    ("ga", "zo", "door"): 2.0,
    ("dikke", "duim"): 2.2,
    ("hou", "van"): 2.5,
    ("houd", "van"): 2.5,
    ("geen", "klachten"): 2.0,
    ("niet", "normaal"): -1.5,
    ("nee", "dank", "je"): -1.0,
    ("niet", "waard"): -1.8,
    ("kan", "slechter"): 1.2,
    ("geen", "woorden", "voor"): -1.0,
    ("vind", "het", "niks"): -1.5,
    ("helemaal", "niks"): -1.5,
    ("echt", "niks"): -1.5,
    ("niks", "werkt"): -1.8,
    ("hielp", "niks"): -1.2,
    ("doet", "niks"): -1.2,
    ("niet", "blijer"): 2.5,
}

DUTCH_NEGATORS = frozenset(
    {"niet", "geen", "nooit", "niks", "niets", "nergens", "allesbehalve", "nimmer", "noch"}
)
DUTCH_BOOSTERS: dict[str, float] = {
    word: BOOST
    for word in (
        "heel",
        "erg",
        "zeer",
        "echt",
        "super",
        "ontzettend",
        "enorm",
        "hartstikke",
        "vreselijk",
        "verschrikkelijk",
        "bijzonder",
        "extreem",
        "totaal",
        "helemaal",
        "zo",
        "zoo",
        "zooo",
        "mega",
        "ongelooflijk",
        "ongelofelijk",
        "keihard",
        "behoorlijk",
        "dik",
        "veel",
        "bizar",
        "ernstig",
        "absoluut",
        "ultra",
        "zwaar",
    )
} | {word: -BOOST for word in ("beetje", "redelijk", "vrij", "nogal", "enigszins")}

ENGLISH_NEGATORS = frozenset(NEGATE) | {"n't", "not", "no", "never", "nothing", "nobody"}
ENGLISH_BOOSTERS: dict[str, float] = {**BOOSTER_DICT, "sooo": BOOST, "soooo": BOOST}
ENGLISH_CONTRAST = frozenset({"but", "however", "although", "though", "yet"})
DUTCH_CONTRAST = frozenset({"maar", "echter", "but"})

SARCASM_STRONG_EN = (
    "/s",
    "yeah right",
    "said no one ever",
    "said nobody ever",
    "🙄",
    "🙃",
    ". not .",
)
SARCASM_WEAK_EN = ("oh great", "just great", "thanks a lot", "great job guys", "love it when")
SARCASM_STRONG_NL = ("/s", "ja hoor", "ja ja", "🙄", "🙃", ". not .", "niet dus")
# Weak markers turn a text around only when it also holds negative words. "heerlijk" was one
# until luister-2: in public reviews it is sincere praise beside criticism far more often than
# sarcasm (leaving it out fixed 41 and broke 3 of 2,598 selection reviews; docs/NLP.md).
SARCASM_WEAK_NL = (
    "top hoor",
    "leuk hoor",
    "lekker dan",
    "goed bezig",
    "gaat lekker",
    "heel handig",
    "geniaal",
)


@dataclass(frozen=True)
class SentimentRules:
    """Everything the lexicon scorer needs to score one language."""

    language: str
    model_version: str
    lexicon: dict[str, float]
    phrases: dict[tuple[str, ...], float]
    negators: frozenset[str]
    boosters: dict[str, float]
    contrast_words: frozenset[str]
    strong_sarcasm: tuple[str, ...]
    weak_sarcasm: tuple[str, ...]
    inflections: bool = False
    max_phrase_len: int = field(init=False)

    def __post_init__(self) -> None:
        longest = max((len(phrase) for phrase in self.phrases), default=1)
        object.__setattr__(self, "max_phrase_len", longest)


# The rule groups Luister adds on top of a lexicon, by the names `without` accepts. Leaving
# out every group gives the lexicon alone (`lexicon_only_rules`); scripts/sentiment_selection.py
# scores the rules with each group left out in turn on public text (docs/NLP.md).
ENGLISH_GROUPS = (
    "supplement",
    "phrases",
    "negators",
    "boosters",
    "contrast",
    "strong_sarcasm",
    "weak_sarcasm",
)
DUTCH_GROUPS = (
    "supplement",
    "emoticons",
    "phrases",
    "negators",
    "boosters",
    "contrast",
    "strong_sarcasm",
    "weak_sarcasm",
    "inflections",
)
RULE_GROUPS = {"en": ENGLISH_GROUPS, "nl": DUTCH_GROUPS}
# Bumped whenever the rules of a language change.
RULES_VERSION = {"en": "luister-1", "nl": "luister-2"}


def _left_out(language: str, without: Collection[str]) -> frozenset[str]:
    unknown = set(without) - set(RULE_GROUPS[language])
    if unknown:
        raise ValueError(f"unknown {language} rule groups: {sorted(unknown)}")
    return frozenset(without)


def _model_version(language: str, lexicon_version: str, left_out: frozenset[str]) -> str:
    if left_out == set(RULE_GROUPS[language]):
        return f"lexicon-{language}:{lexicon_version}"
    rules = RULES_VERSION[language]
    if left_out:
        rules += "-without-" + ",".join(sorted(left_out))
    return f"lexicon-{language}:{lexicon_version}+{rules}"


# What a left-out group becomes in SentimentRules: the field it fills, emptied.
_EMPTY_GROUP: dict[str, tuple[str, Any]] = {
    "phrases": ("phrases", {}),
    "negators": ("negators", frozenset()),
    "boosters": ("boosters", {}),
    "contrast": ("contrast_words", frozenset()),
    "strong_sarcasm": ("strong_sarcasm", ()),
    "weak_sarcasm": ("weak_sarcasm", ()),
}


def _rules(
    language: str,
    lexicon_version: str,
    lexicon: dict[str, float],
    left_out: frozenset[str],
    groups: dict[str, Any],
    **extra: Any,
) -> SentimentRules:
    """SentimentRules with each of `groups` (by group name) kept, or emptied when left out."""
    fields: dict[str, Any] = {}
    for group, value in groups.items():
        name, empty = _EMPTY_GROUP[group]
        fields[name] = empty if group in left_out else value
    return SentimentRules(
        language=language,
        model_version=_model_version(language, lexicon_version, left_out),
        lexicon=lexicon,
        **fields,
        **extra,
    )


def english_rules(without: Collection[str] = ()) -> SentimentRules:
    """Build the English rules over VADER's lexicon, leaving out the groups named in `without`."""
    left_out = _left_out("en", without)
    lexicon = dict(vader_lexicon())
    if "supplement" not in left_out:
        lexicon.update(ENGLISH_SUPPLEMENT)
    groups = {
        "phrases": ENGLISH_PHRASES,
        "negators": ENGLISH_NEGATORS,
        "boosters": ENGLISH_BOOSTERS,
        "contrast": ENGLISH_CONTRAST,
        "strong_sarcasm": SARCASM_STRONG_EN,
        "weak_sarcasm": SARCASM_WEAK_EN,
    }
    return _rules("en", "vader-3.3.2", lexicon, left_out, groups)


def dutch_rules(pattern_version: str, without: Collection[str] = ()) -> SentimentRules:
    """Build the Dutch rules over the pattern Dutch adjective lexicon, minus `without`."""
    left_out = _left_out("nl", without)
    lexicon = {} if "emoticons" in left_out else dict(vader_emoticons())
    lexicon.update(pattern_dutch_lexicon())
    if "supplement" not in left_out:
        lexicon.update(DUTCH_SUPPLEMENT)
    groups = {
        "phrases": DUTCH_PHRASES,
        "negators": DUTCH_NEGATORS,
        "boosters": DUTCH_BOOSTERS,
        "contrast": DUTCH_CONTRAST,
        "strong_sarcasm": SARCASM_STRONG_NL,
        "weak_sarcasm": SARCASM_WEAK_NL,
    }
    lexicon_version = f"pattern-nl-{pattern_version}"
    inflections = "inflections" not in left_out
    return _rules("nl", lexicon_version, lexicon, left_out, groups, inflections=inflections)


def lexicon_only_rules(language: str, pattern_version: str = "") -> SentimentRules:
    """The bare lexicon of a language: every Luister rule group left out."""
    if language == "en":
        return english_rules(without=ENGLISH_GROUPS)
    return dutch_rules(pattern_version, without=DUTCH_GROUPS)
