"""Impersonation: accounts that borrow our name, and the scam signals that give them away.

A name or handle that imitates one of our own accounts or brand terms (rapidfuzz similarity,
so "Fietsbaan Rewards", "fietsbaan_support" and "f1etsbaan" all count) is suspicious on its
own only when the handle itself is a near-copy; a display name that borrows ours needs a scam
signal as well (a wallet, an airdrop, "claim now", a look-alike domain), so fans called
"Fietsbaan fan" are left alone. The verdict carries its reason and the actions that fit it,
as data: reporting to the platform and warning followers are done by people.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from rapidfuzz import fuzz

from listener.own_accounts import local_name

# A display name containing (or nearly containing) a brand name scores this high.
NAME_SIMILARITY = 85.0
# A handle this close to one of ours is an impersonation on its own.
HANDLE_SIMILARITY = 88.0
ACTIONS = (
    {"action": "report_to_platform", "label": "Report the account to the platform"},
    {"action": "warn_followers", "label": "Warn followers from our own account"},
    {"action": "hide", "label": "Hide the post in Luister"},
)
_SCAM_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("crypto wallet", re.compile(r"\b(wallet|seed ?phrase|0x[0-9a-f]{40})\b", re.IGNORECASE)),
    ("airdrop", re.compile(r"\bairdrops?\b", re.IGNORECASE)),
    ("token giveaway", re.compile(r"(\$[A-Z]{2,6}\b|\bfree (tokens?|coins?)\b)")),
    (
        '"claim now"',
        re.compile(
            r"\bclaim\b.{0,40}\b(now|today|rewards?|before|your)\b|\bclaim(ed)? (je|uw)\b",
            re.IGNORECASE,
        ),
    ),
    ("urgency bait", re.compile(r"\b(last chance|only \d[\d,.]* spots|laatste kans)\b", re.I)),
)
_URL = re.compile(r"https?://[^\s)>\]]+", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """Why an account looks like an impersonator, and what to do about it."""

    reason: str
    imitates: str
    signals: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "imitates": self.imitates,
            "signals": list(self.signals),
            "actions": [dict(a) for a in ACTIONS],
        }


def _squash(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower().replace("1", "i").replace("0", "o"))


def _name_match(
    name: str | None, brands: Sequence[str], *, whole: bool = False
) -> tuple[str, float] | None:
    """The brand `name` resembles most and how much (0-100): contained in it, or (whole) as
    a near-copy of the whole name."""
    if not name:
        return None
    squashed = _squash(name)
    best: tuple[str, float] | None = None
    for brand in brands:
        b = _squash(brand)
        if len(b) < 3 or not squashed:
            continue
        if whole:
            score = float(fuzz.ratio(b, squashed))
        else:
            score = float(fuzz.partial_ratio(b, squashed)) if len(squashed) >= len(b) else 0.0
        if best is None or score > best[1]:
            best = (brand, score)
    return best


def _lookalike_domains(text: str, brands: Sequence[str], own_domains: Sequence[str]) -> list[str]:
    found = []
    for url in _URL.findall(text):
        host = (urlsplit(url).hostname or "").lower()
        if not host or any(host == d or host.endswith("." + d) for d in own_domains):
            continue
        label = _squash(host.rsplit(".", 1)[0])
        if any(
            fuzz.partial_ratio(_squash(b), label) >= NAME_SIMILARITY
            or (
                _squash(b)[:3] in label
                and any(w in label for w in ("airdrop", "reward", "claim", "gift", "support"))
            )
            for b in brands
            if len(_squash(b)) >= 3
        ):
            found.append(host)
    return sorted(set(found))


def scam_signals(text: str, brands: Sequence[str], own_domains: Sequence[str] = ()) -> list[str]:
    """The scam signals in a post's text."""
    signals = [name for name, pattern in _SCAM_PATTERNS if pattern.search(text)]
    signals += [f"look-alike domain {d}" for d in _lookalike_domains(text, brands, own_domains)]
    return signals


def detect(
    *,
    handle: str | None,
    display_name: str | None,
    text: str,
    brands: Sequence[str],
    own_domains: Sequence[str] = (),
) -> Verdict | None:
    """An impersonation verdict for a post by someone who is not one of our accounts."""
    if not brands:
        return None
    own_handle = local_name(handle)
    signals = scam_signals(text, brands, own_domains)
    copy = _name_match(own_handle, brands, whole=True)
    if copy is not None and copy[1] >= HANDLE_SIMILARITY:
        what = f'handle "{handle}" imitates "{copy[0]}"'
        return Verdict(reason="; ".join([what, *signals]), imitates=copy[0], signals=signals)
    if not signals:
        return None
    for label, value in (("name", display_name), ("handle", handle)):
        found = _name_match(local_name(value) if label == "handle" else value, brands)
        if found is not None and found[1] >= NAME_SIMILARITY:
            what = f'{label} "{value}" imitates "{found[0]}"'
            return Verdict(reason="; ".join([what, *signals]), imitates=found[0], signals=signals)
    return None
