"""Phrase patterns and cue words for intents, per language (English and Dutch)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import product
from typing import Any

Pattern = list[dict[str, Any]]


def _in(*words: str) -> dict[str, Any]:
    return {"LOWER": {"IN": list(words)}}


def _opt(*words: str) -> dict[str, Any]:
    return {"LOWER": {"IN": list(words)}, "OP": "?"}


def _seq(*words: str) -> Pattern:
    return [{"LOWER": word} for word in words]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def expand_pattern(pattern: Pattern) -> list[tuple[str, ...]]:
    """Expand a token pattern of LOWER / IN / optional entries into literal phrases."""
    choices: list[list[str | None]] = []
    for spec in pattern:
        lower = spec["LOWER"]
        words: list[str | None] = list(lower["IN"]) if isinstance(lower, dict) else [lower]
        if spec.get("OP") == "?":
            words.append(None)
        choices.append(words)
    phrases = {tuple(word for word in combo if word) for combo in product(*choices)}
    return sorted(phrase for phrase in phrases if phrase)


@dataclass(frozen=True)
class NearRule:
    """A phrase followed within `window` tokens by a follower ("kunnen jullie ... kijken")."""

    key: str
    prefix: Pattern
    followers: frozenset[str]
    window: int = 4


@dataclass(frozen=True)
class IntentRules:
    """Phrase patterns (by match key), clause-start words and cue word sets for a language."""

    phrases: dict[str, list[Pattern]]
    wh_words: frozenset[str]
    aux_words: frozenset[str]
    subjects: frozenset[str]
    aux_subjects: frozenset[str]
    second_person: frozenset[str]
    service_words: frozenset[str]
    why_words: frozenset[str]
    not_question_starts: frozenset[tuple[str, str]]
    verb_first_excluded: frozenset[str] | None = None
    near_rules: tuple[NearRule, ...] = field(default=())


# Cues that need no tokens. Spam needs positive evidence: prices and money amounts are not
# evidence (press articles and price changes mention them), links only when they pile up.
SPAM_SHORTENERS = ("bit.ly/", "tinyurl.com/", "t.ly/", "goo.gl/", "cutt.ly/", "is.gd/", "ow.ly/")
SPAM_DOMAIN = re.compile(r"\.(?:xyz|biz|shop|top|click)\b", re.IGNORECASE)
SPAM_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
# "Text WIN to 80086", "stuur JA naar 4411": premium-rate promotions.
SPAM_TEXT_TO = re.compile(
    r"\b(?:txt|text|sms|send|reply|stuur|sms'?)\b[^.!?\n]{0,30}?\b(?:to|naar)\s+\d{4,6}\b",
    re.IGNORECASE,
)
# Crypto wallet addresses (Ethereum, Bitcoin) in a post asking for money or an airdrop.
SPAM_WALLET = re.compile(r"\b0x[0-9a-fA-F]{40}\b|\b(?:bc1|[13])[a-km-zA-HJ-NP-Z1-9]{25,39}\b")
# A money amount or a phone number is evidence only beside several promotion cue words.
SPAM_MONEY_OR_PHONE = re.compile(r"(?<!\w)(?:[$€£]\s?\d|\d+k\b)|\b0\d{9,11}\b")
SPAM_LINK_FARM = 3  # this many links in one post is a link farm
DIGIT = re.compile(r"\d")

EN_SUBJECTS = (
    "i",
    "you",
    "we",
    "they",
    "it",
    "he",
    "she",
    "there",
    "anyone",
    "anybody",
    "someone",
    "somebody",
    "this",
    "that",
    "u",
    "these",
    "my",
    "your",
    "the",
)
NL_SUBJECTS = ("ik", "jij", "jullie", "u", "we", "wij", "iemand", "er", "hij", "zij")

ENGLISH = IntentRules(
    phrases={
        "QUESTION": [
            _seq("anyone", "know"),
            _seq("does", "anyone"),
            _seq("has", "anyone"),
            _seq("any", "idea"),
            _seq("any", "update"),
            _seq("any", "news"),
            _seq("wondering", "if"),
            _seq("wondering", "whether"),
            _seq("i", "wonder"),
            _seq("anyone", "else"),
            _seq("do", "you", "know"),
            _seq("is", "there"),
        ],
        "HELP": [
            [{"LOWER": "help"}, _in("me", "us", "please", "pls", "plz", "asap", "!")],
            [_in("please", "pls", "plz"), {"LOWER": "help"}],
            [
                _in("need", "needs", "needed"),
                _opt("some", "urgent", "your", "a", "more", "immediate"),
                _in("help", "assistance", "support"),
            ],
            [
                _in("can", "could", "would", "will"),
                _in("someone", "anyone", "you", "u", "somebody", "anybody"),
                _opt("please", "pls"),
                _in("help", "assist", "resend", "fix", "check", "sort"),
            ],
            [{"LOWER": "what"}, _in("should", "can", "do"), {"LOWER": "i"}, {"LOWER": "do"}],
            _seq("money", "back"),
            _seq("locked", "out"),
            _seq("to", "help", "me"),
        ],
        "HELP_START": [_seq("help")],
        "SPAM_STRONG": [
            _seq("click", "here"),
            _seq("link", "in", "bio"),
            _seq("dm", "me"),
            _seq("follow", "back"),
            _seq("follow", "for", "follow"),
            _seq("f4f"),
            _seq("buy", "followers"),
            _seq("claim", "your"),
            _seq("exclusive", "content"),
            _seq("no", "experience", "needed"),
            _seq("make", "money"),
            _seq("work", "from", "home"),
            _seq("get", "verified"),
            [_in("promo", "discount", "coupon"), {"LOWER": "code"}],
            _seq("use", "code"),
            [{"LOWER": "dm"}, _opt("me", "us"), {"LOWER": "for"}],
            [_in("airdrop", "follow4follow", "like4like")],
            [{"LOWER": "you"}, _in("have", "'ve"), {"LOWER": "won"}],
            [_in("been"), {"LOWER": "selected"}],
            _seq("claim", "now"),
            _seq("free", "entry"),
        ],
        "SPAM_WEAK": [
            [
                _in(
                    "free",
                    "win",
                    "won",
                    "winner",
                    "prize",
                    "earn",
                    "crypto",
                    "bitcoin",
                    "deals",
                    "offer",
                    "signals",
                    "cheap",
                    "followers",
                    "limited",
                    "🔞",
                    "prizes",
                    "awarded",
                    "guaranteed",
                    "claim",
                    "voucher",
                    "vouchers",
                    "urgent",
                )
            ],
            _seq("%", "off"),
        ],
        "COMPLAINT_CUE": [
            _seq("still", "waiting"),
            _seq("still", "no"),
            _seq("not", "working"),
            _seq("does", "n't", "work"),
            _seq("did", "n't", "work"),
            _seq("never", "again"),
            _seq("on", "hold"),
            _seq("no", "apology"),
            _seq("thanks", "for", "nothing"),
            _seq("waste", "of", "money"),
            _seq("not", "worth"),
            _seq("charged", "twice"),
        ],
        "PRAISE_CUE": [
            [
                _in(
                    "thanks",
                    "thank",
                    "thx",
                    "ty",
                    "kudos",
                    "props",
                    "shoutout",
                    "congrats",
                    "bravo",
                    "recommend",
                )
            ],
            _seq("shout", "out"),
            _seq("well", "done"),
            _seq("great", "job"),
            _seq("good", "job"),
            _seq("keep", "up"),
            _seq("you", "rock"),
            _seq("big", "thanks"),
        ],
    },
    wh_words=_words("what why how when where who which whose whom whats"),
    aux_words=_words(
        "can could is are do does did will would should has have may am was were any anyone anybody"
    ),
    subjects=frozenset(EN_SUBJECTS),
    aux_subjects=frozenset(EN_SUBJECTS),
    second_person=_words("you your you're u ur yours y'all guys"),
    service_words=_words(
        "app apps application service support customer helpdesk hotline delivery deliveries "
        "order orders package parcel shipping refund price prices bill invoice account login "
        "website site page checkout update version product quality staff team agent chatbot "
        "train trains bus tram flight airline luggage store shop branch restaurant food menu "
        "hotel room internet wifi signal network phone battery subscription payment card "
        "ticket booking seat seats callback charger headphones delivered ordered charged "
        "courier driver hospital pharmacy design layout logo interface brand company "
        "experience instructions policy"
    ),
    why_words=frozenset({"why"}),
    not_question_starts=frozenset({("what", "a"), ("what", "an"), ("how", "nice")}),
)

DUTCH = IntentRules(
    phrases={
        "QUESTION": [
            _seq("weet", "iemand"),
            _seq("iemand", "een", "idee"),
            _seq("vraagje"),
            _seq("ben", "benieuwd", "of"),
            _seq("vraag", "me", "af"),
            _seq("al", "nieuws"),
            _seq("heeft", "er", "iemand"),
            _seq("weten", "jullie"),
            _seq("iemand", "ervaring"),
        ],
        "HELP": [
            [
                _in("help", "hulp"),
                _in("me", "mij", "ons", "alsjeblieft", "aub", "pls", "nodig", "!"),
            ],
            [
                _in("kan", "kun", "kunt", "kunnen", "wil", "wilt", "willen", "zou", "zouden"),
                _in("iemand", "jullie", "je", "u"),
                _opt("me", "mij", "ons"),
                _in("helpen"),
            ],
            [_in("me", "mij", "kan", "kunnen"), _in("helpen")],
            [{"LOWER": "wat"}, _in("moet", "kan"), {"LOWER": "ik"}, {"LOWER": "doen"}],
            _seq("geld", "terug"),
            _seq("pls", "help"),
        ],
        "HELP_START": [[_in("help", "hulp")]],
        "SPAM_STRONG": [
            _seq("klik", "hier"),
            _seq("link", "in", "bio"),
            _seq("stuur", "me", "een", "dm"),
            _seq("volg", "jij", "mij"),
            [_in("f4f", "volgvoorvolg")],
            _seq("volgers", "kopen"),
            _seq("claim", "je"),
            _seq("exclusieve", "content"),
            _seq("geen", "ervaring", "nodig"),
            _seq("geld", "verdienen"),
            _seq("verdien"),
            [_in("kortingscode", "promocode", "actiecode")],
            _seq("gebruik", "code"),
            [{"LOWER": "dm"}, _opt("me", "ons"), {"LOWER": "voor"}],
            [_in("airdrop", "follow4follow", "like4like")],
            [_in("je", "jij", "u"), _in("hebt", "heeft"), {"LOWER": "gewonnen"}],
            [_in("bent"), {"LOWER": "geselecteerd"}],
            _seq("claim", "nu"),
        ],
        "SPAM_WEAK": [
            [
                _in(
                    "gratis",
                    "win",
                    "winnen",
                    "gewonnen",
                    "prijs",
                    "crypto",
                    "bitcoin",
                    "deals",
                    "actie",
                    "korting",
                    "goedkope",
                    "volgers",
                    "tijdelijke",
                    "🔞",
                    "verifiëren",
                    "tips",
                    "cadeaubon",
                    "waardebon",
                )
            ]
        ],
        "COMPLAINT_CUE": [
            _seq("wacht", "al"),
            _seq("nog", "steeds", "geen"),
            _seq("nog", "steeds", "niet"),
            _seq("werkt", "niet"),
            _seq("doet", "het", "niet"),
            _seq("nooit", "meer"),
            _seq("in", "de", "wacht"),
            _seq("geen", "excuses"),
            _seq("bedankt", "voor", "niks"),
            _seq("twee", "keer", "betaald"),
            _seq("zonde", "van", "het", "geld"),
            _seq("niet", "waard"),
        ],
        "PRAISE_CUE": [
            [
                _in(
                    "bedankt",
                    "dank",
                    "dankjewel",
                    "dankuwel",
                    "bedankje",
                    "hulde",
                    "pluim",
                    "chapeau",
                    "complimenten",
                    "compliment",
                    "aanrader",
                    "aanraden",
                    "toppers",
                    "kudos",
                    "thanks",
                    "props",
                )
            ],
            _seq("goed", "gedaan"),
            _seq("goed", "bezig"),
            _seq("dikke", "duim"),
            _seq("ga", "zo", "door"),
            _seq("respect", "voor"),
            _seq("shout", "out"),
        ],
    },
    wh_words=_words(
        "wie wat waar wanneer waarom hoe welk welke hoeveel hoelang waarmee "
        "waarvoor waarover wiens hoezo"
    ),
    aux_words=_words(
        "kan kun kunt kunnen mag mogen moet moeten is zijn ben bent heeft hebben "
        "heb hebt wordt worden werkt werken doe doet doen gaat gaan ga weet weten "
        "wil wilt willen zal zullen zou zouden komt komen"
    ),
    subjects=frozenset(NL_SUBJECTS),
    aux_subjects=frozenset(NL_SUBJECTS) | {"je", "het", "dit", "dat", "de"},
    second_person=_words("jullie u uw je jij jouw julie"),
    service_words=_words(
        "app service klantenservice helpdesk dienst bezorging bezorger levering bestelling "
        "pakket verzending prijs prijzen rekening factuur account website site pagina update "
        "versie product kwaliteit personeel medewerker chatbot trein bus tram vlucht koffer "
        "winkel filiaal restaurant eten menu hotel kamer internet wifi bereik netwerk telefoon "
        "batterij abonnement betaling pas kaart kaartje boeking stoel stoelen geld bediening "
        "klantenlijn storing oplader koptelefoon postnl ns kpn ziggo ontwerp indeling logo "
        "interface merk bedrijf ervaring handleiding"
    ),
    why_words=frozenset({"waarom"}),
    not_question_starts=frozenset({("wat", "een"), ("hoe", "dan")}),
    # Dutch yes/no questions put the verb first ("Bezorgen jullie ..."); these verb-first
    # openings are thanks or imperatives instead.
    verb_first_excluded=_words(
        "dank bedankt zie kijk hoop denk vind laat stuur volg help lees check geef meld bel"
    ),
    near_rules=(
        NearRule(
            key="HELP",
            prefix=[
                _in("kan", "kun", "kunt", "kunnen", "wil", "wilt", "willen", "zou", "zouden"),
                _in("iemand", "jullie", "je", "u"),
            ],
            followers=_words("kijken nakijken checken sturen oplossen terugbellen"),
        ),
    ),
)


def intent_rules_for(language: str) -> IntentRules | None:
    """Return the intent rules for a language, or None when there are none."""
    return {"en": ENGLISH, "nl": DUTCH}.get(language)
