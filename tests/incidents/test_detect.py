"""Burst detection on hand-made posts: what groups, what does not, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from moderation.incidents.detect import (
    DUPLICATE,
    THREAD,
    DetectConfig,
    Post,
    find_bursts,
    fold,
    qualifies,
    term_forms,
)

START = datetime(2026, 11, 1, 9, tzinfo=UTC)
QUIET = [
    "Fietsbaan rit naar het werk ging prima vandaag",
    "Nieuwe fiets van Fietsbaan rijdt lekker",
    "Fietsbaan app werkt snel en goed",
]


def _post(n: int, at: datetime, text: str, *, author: str | None = None, **extra: str) -> Post:
    return Post(
        id=n,
        at=at,
        author=author or f"author{n}",
        platform="mastodon",
        external_id=f"s{n}",
        thread=extra.get("thread"),
        reply_to=extra.get("reply_to"),
        language="nl",
        text=text,
    )


def _history() -> list[Post]:
    """Three quiet posts a day for two weeks."""
    return [
        _post(100 + d * 3 + i, START + timedelta(days=d, hours=i * 4), QUIET[i])
        for d in range(14)
        for i in range(3)
    ]


def test_a_burst_of_new_words_groups_and_steady_talk_does_not() -> None:
    burst_at = START + timedelta(days=14, hours=2)
    burst = [
        _post(
            n,
            burst_at + timedelta(minutes=7 * n),
            f"Storing: de docks in Utrecht werken niet ({n})",
        )
        for n in range(1, 11)
    ]
    reply = _post(11, burst_at + timedelta(hours=3), "Hier ook", reply_to="s1", thread="s1")
    posts = _history() + burst + [reply]
    by_id = {p.id: p for p in posts}
    config = DetectConfig()
    bursts, _ = find_bursts(posts, scan_from=START, config=config)
    qualified = [b for b in bursts if qualifies(b, by_id, config)]
    assert len(qualified) == 1
    assert set(qualified[0].post_ids) == set(range(1, 12))
    assert qualified[0].reasons[11] == THREAD


def test_copies_of_one_text_are_linked_as_near_duplicates() -> None:
    text = "Teken de petitie tegen de nieuwe Fietsbaan tarieven voor studenten in Utrecht nu"
    copies = [
        _post(n, START + timedelta(days=14, minutes=n), text + (" !" * n)) for n in range(1, 9)
    ]
    posts = _history() + copies
    # No word can be hot here: only the MinHash links remain.
    config = DetectConfig(min_lift=1e9)
    bursts, _ = find_bursts(posts, scan_from=START, config=config)
    linked = [b for b in bursts if set(range(1, 9)) <= set(b.post_ids)]
    assert linked and {linked[0].reasons[n] for n in range(1, 9)} == {DUPLICATE}


def test_terms_are_folded_stemmed_and_leave_out_links_and_handles() -> None:
    assert fold("Geïrriteerd") == "geirriteerd"
    forms = term_forms("@fietsbaan Storingen bij de storing https://x.example/a", "nl")
    assert set(forms.values()) == {"storingen"} and len(forms) == 1
