"""Copy-paste spam: the same text, carrying a link or a promotion, from many authors.

Positive evidence of spam that no single post shows: near-identical text (compared after
lower-casing and dropping links, @handles, punctuation and extra whitespace) posted by at
least `MIN_AUTHORS` distinct authors within `WINDOW`, each copy carrying a link or a
promotion (a promotion phrase such as "use code", a wallet, "text WIN to 80086", or a link
beside a promotion word). Many people complaining in similar words during an outage is not
spam: their posts carry no promotion, so they never get a signature at all; neither do many
people sharing the same headline and link; and short texts (under `MIN_WORDS` words once
normalised) are never compared.

Runs as a reaction to every stored or changed batch (`api.wiring`), against the copies of
the last `WINDOW` on either side, by an indexed signature: cheap, and only link- or
promotion-bearing mentions are kept in `spam_copies`. Mentions it flags get the `spam`
intent (the queue ranks them low as "likely spam") and the reason in `spam_copies.reason`;
older copies it flags are added to the batch's changed ids, so the reactions after it
(rescoring) see them too. Our own accounts' posts and mentions whose intents staff corrected
are left alone.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from listener.kit.id_lists import ids_in
from listener.models import Mention, NlpCorrection, SpamCopy
from listener.nlp.intent_rules import SPAM_LINK, SPAM_TEXT_TO, SPAM_WALLET
from listener.own_accounts import not_by_us
from listener.reactions import MentionsChanged

HOOK_NAME = "nlp.copy_spam"
MIN_AUTHORS = 3
MIN_WORDS = 4
WINDOW = timedelta(hours=24)

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<!\w)@[\w.]+(?:@[\w.-]+)?")
_NOT_WORD = re.compile(r"[^\w\s]+")
# Promotion words that make a link a promotion (English and Dutch).
_CUE = re.compile(
    r"\b(?:free|win|won(?!')|winners?|prizes?|deals?|offers?|discount|sale|\d+ ?% off|cash|"
    r"bonus|buy|order now|subscribe|shop|gratis|korting|aanbieding|actie|winnen|bestel)\b",
    re.IGNORECASE,
)
# Promotion patterns that hold without a link (English and Dutch).
_PROMO = re.compile(
    r"\b(?:promo ?code|discount code|kortingscode|use code|coupon|giveaway|airdrop|"
    r"link in bio|dm (?:me|for)|stuur (?:me )?een dm|follow back|claim (?:now|your|je|uw))\b",
    re.IGNORECASE,
)


def normalise(text: str) -> str:
    """Lower case without links, @handles, punctuation and repeated whitespace."""
    text = _HANDLE.sub(" ", _URL.sub(" ", text)).lower()
    return " ".join(_NOT_WORD.sub(" ", text).split())


def evidence(text: str) -> str | None:
    """What in the text promotes something: a promotion pattern, or a link beside a promotion
    word; None if nothing. A bare link is not enough: many people share the same headline
    and link (a share button writes the text), and that is not spam."""
    if SPAM_LINK.search(text) and _CUE.search(text):
        return "a link"
    # Not prices or amounts: news shared by many people quotes them too.
    if _PROMO.search(text) or SPAM_WALLET.search(text) or SPAM_TEXT_TO.search(text):
        return "a promotion"
    return None


def signature(text: str) -> str | None:
    """The key copies share, for a text long enough to compare and carrying evidence."""
    normal = normalise(text)
    if len(normal.split()) < MIN_WORDS or evidence(text) is None:
        return None
    return hashlib.sha1(normal.encode(), usedforsecurity=False).hexdigest()


def _clusters(rows: Sequence[Any], batch: dict[int, tuple[str, datetime]]) -> dict[int, list[Any]]:
    """For each batch mention, the copies of its text within WINDOW of it (itself included)."""
    by_signature: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_signature[row.signature].append(row)
    found: dict[int, list[Any]] = {}
    for mention_id, (sig, at) in batch.items():
        found[mention_id] = [r for r in by_signature[sig] if abs(r.created_at - at) <= WINDOW]
    return found


async def copy_spam_reaction(session: AsyncSession, change: MentionsChanged) -> None:
    """Record the batch's link- or promotion-bearing texts; flag copies from many authors."""
    ids = [*change.new_ids, *change.updated_ids]
    if not ids:
        return
    mentions = (
        await session.execute(
            select(Mention.id, Mention.text, Mention.author_id, Mention.created_at).where(
                ids_in(session, Mention.id, ids), not_by_us()
            )
        )
    ).all()
    if change.updated_ids:  # a changed text may no longer be (or now be) a copy
        await session.execute(
            delete(SpamCopy).where(ids_in(session, SpamCopy.mention_id, change.updated_ids))
        )
    batch: dict[int, tuple[str, datetime]] = {}
    rows: list[dict[str, Any]] = []
    for m in mentions:
        sig = signature(m.text)
        if sig is not None:
            batch[m.id] = (sig, m.created_at)
            rows.append(
                {
                    "mention_id": m.id,
                    "signature": sig,
                    "author_id": m.author_id,
                    "created_at": m.created_at,
                    "reason": None,
                }
            )
    if not rows:
        return
    # A mention stored twice in one unit of work (new, then changed) keeps one row.
    await session.execute(delete(SpamCopy).where(ids_in(session, SpamCopy.mention_id, batch)))
    await session.execute(insert(SpamCopy), rows)
    times = [at for _, at in batch.values()]
    copies = (
        await session.execute(
            select(SpamCopy).where(
                SpamCopy.signature.in_({sig for sig, _ in batch.values()}),
                SpamCopy.created_at >= min(times) - WINDOW,
                SpamCopy.created_at <= max(times) + WINDOW,
            )
        )
    ).scalars()
    flagged: dict[int, str] = {}
    texts = {m.id: m.text for m in mentions}
    for mention_id, cluster in _clusters(list(copies), batch).items():
        authors = {r.author_id for r in cluster if r.author_id is not None}
        if len(authors) < MIN_AUTHORS:
            continue
        reason = (
            f"same text from {len(authors)} authors within {WINDOW.total_seconds() / 3600:.0f} h,"
            f" with {evidence(texts[mention_id]) or 'a promotion'}"
        )
        for r in cluster:
            flagged.setdefault(r.mention_id, reason)
    if flagged:
        await _flag(session, flagged, change)


async def _flag(session: AsyncSession, flagged: dict[int, str], change: MentionsChanged) -> None:
    corrected = set(
        (
            await session.execute(
                select(NlpCorrection.mention_id).where(
                    ids_in(session, NlpCorrection.mention_id, flagged),
                    NlpCorrection.field == "intents",
                )
            )
        ).scalars()
    )
    for mention_id, reason in flagged.items():
        await session.execute(
            update(SpamCopy)
            .where(SpamCopy.mention_id == mention_id, SpamCopy.reason.is_(None))
            .values(reason=reason)
        )
    current = await session.execute(
        select(Mention.id, Mention.intents).where(ids_in(session, Mention.id, flagged))
    )
    changed: list[int] = []
    for mention_id, intents in current.all():
        if mention_id in corrected or "spam" in (intents or []):
            continue
        await session.execute(
            update(Mention)
            .where(Mention.id == mention_id)
            .values(intents=sorted({*(intents or []), "spam"}))
        )
        changed.append(mention_id)
    # Older copies changed too: the reactions after this one (rescoring) must see them.
    already = {*change.new_ids, *change.updated_ids}
    extra = [i for i in changed if i not in already]
    if extra and isinstance(change.updated_ids, list):
        change.updated_ids.extend(extra)
