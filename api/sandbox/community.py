"""The demo community: who answers a question of ours, and what they say (Dutch or English).

Everything is deterministic: the same question to the same person gets the same answer, so a
demo, a test and a screenshot agree. A question is a status with a question mark; a reply of
ours to someone is answered by that person, a new post by a few members of the community.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from api.sandbox.state import Account, SandboxState, Status

_WORDS = re.compile(r"[a-zà-ÿ'-]+")


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_NL_WORDS = _set(
    "de het een en je jij jullie wat hoe waarom niet ik van voor op met is zijn bij naar "
    "ook maar nog wel hebben heeft kunnen welke wanneer waar graag dank bedankt"
)
_EN_WORDS = _set(
    "the a an and you your what how why not i of for on with is are at to too but still "
    "have has can which when where please thanks thank"
)


@dataclass(frozen=True)
class _Topic:
    words: frozenset[str]
    nl: tuple[str, ...]
    en: tuple[str, ...]


_TOPICS = (
    _Topic(
        _set("app inloggen login crash update ios android telefoon phone scan qr"),
        (
            "Sinds de laatste update start de app bij mij pas na twee keer openen. Verder prima.",
            "Inloggen gaat goed, maar het scannen van de QR-code duurt soms lang bij weinig licht.",
        ),
        (
            "Since the last update the app only opens on the second try for me. Otherwise fine.",
            "Logging in works, but scanning the QR code is slow in poor light.",
        ),
    ),
    _Topic(
        _set(
            "prijs prijzen abonnement kosten duur goedkoop price prices pricing cost "
            "subscription expensive cheap plus"
        ),
        (
            "Plus is het geld waard als je elke dag fietst. Voor af en toe vind ik het te duur.",
            "Een studentenkorting zou veel schelen, nu twijfel ik of ik verleng.",
        ),
        (
            "Plus is worth it if you ride every day. For the odd trip it feels too expensive.",
            "A student discount would help a lot; right now I'm not sure I'll renew.",
        ),
    ),
    _Topic(
        _set(
            "station dock docks beschikbaarheid leeg vol fietsen ochtend availability "
            "empty full bikes morning lunetten overvecht uithof centraal"
        ),
        (
            "Om acht uur 's ochtends is het dock bij mij meestal leeg, na negen uur gaat het weer.",
            "Bij Centraal lukt het altijd, in de wijken is het 's ochtends echt zoeken.",
        ),
        (
            "At eight in the morning my dock is usually empty; after nine it's fine again.",
            "At the central station it always works; in the neighbourhoods mornings are tough.",
        ),
    ),
    _Topic(
        _set("accu batterij e-bike ebike opladen battery charge charging range"),
        (
            "De accu houdt het bij mij ongeveer 40 km vol, genoeg voor een week woon-werk.",
            "Soms staat er een e-bike met een bijna lege accu, dat zou de app mogen tonen.",
        ),
        (
            "The battery lasts me about 40 km, enough for a week of commuting.",
            "Sometimes an e-bike has an almost empty battery; the app could show that.",
        ),
    ),
    _Topic(
        _set(
            "klantenservice service support hulp helpdesk storing reactie customer help "
            "outage response"
        ),
        (
            "Ik kreeg binnen een uur antwoord via de chat, dat was netjes geregeld.",
            "Via de telefoon moest ik lang wachten, de chat ging een stuk sneller.",
        ),
        (
            "I got an answer within the hour through the chat, nicely handled.",
            "The phone line kept me waiting; the chat was much quicker.",
        ),
    ),
)

_GENERIC_NL = (
    "Goede vraag! Voor mij werkt Fietsbaan prima, alleen 's ochtends is het soms zoeken.",
    "Wat mij betreft: meer fietsen in de wijken en een duidelijkere app. Verder tevreden.",
    "Ik gebruik het vooral voor woon-werk en dat gaat eigenlijk altijd goed.",
    "Eerlijk gezegd twijfel ik nog, de prijs is hoog maar het gemak is groot.",
)
_GENERIC_EN = (
    "Good question! It works well for me, only in the mornings it can be hard to find a bike.",
    "For me: more bikes outside the centre and a clearer app. Otherwise happy.",
    "I mostly use it to commute and that almost always goes smoothly.",
    "Honestly I'm still undecided: the price is high but it's very convenient.",
)


def is_question(text: str) -> bool:
    """Whether a status asks something (what the community answers)."""
    return "?" in text


def language_of(status: Status) -> str:
    """`nl` or `en`: the status's own language, else a count of common words."""
    if status.language in ("nl", "en"):
        return status.language
    words = _WORDS.findall(status.text.lower())
    dutch = sum(w in _NL_WORDS for w in words)
    english = sum(w in _EN_WORDS for w in words)
    return "nl" if dutch > english else "en"


def _pick(options: tuple[str, ...], *parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def answer_text(question: Status, answerer: Account, us: Account) -> str:
    """What `answerer` says to our question: on its topic if one is recognised, in its language."""
    language = language_of(question)
    words = set(_WORDS.findall(question.text.lower()))
    options: tuple[str, ...] = _GENERIC_NL if language == "nl" else _GENERIC_EN
    best = max(_TOPICS, key=lambda topic: len(words & topic.words))
    if words & best.words:
        options = best.nl if language == "nl" else best.en
    return f"@{us.username} " + _pick(options, question.text, answerer.acct)


def answerers(state: SandboxState, question: Status, *, crowd: int = 2) -> list[Account]:
    """Who answers: the person we replied to, or (a new post of ours) a few community members."""
    parent = state.get(question.in_reply_to_id) if question.in_reply_to_id else None
    if parent is not None and parent.account_id != state.me.id:
        return [state.accounts[parent.account_id]]
    people = state.community()
    if not people:
        return []
    language = language_of(question)
    # Prefer those who wrote in the question's language among the samples.
    with state.lock:
        spoken = {
            s.account_id for s in state.statuses.values() if s.seeded and s.language == language
        }
    ranked = sorted(
        people,
        key=lambda a: (
            a.id not in spoken,
            hashlib.sha256((question.text + a.acct).encode()).hexdigest(),
        ),
    )
    return ranked[:crowd]
