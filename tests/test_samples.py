"""The demo data in samples/mentions.jsonl is valid, varied and internally consistent.

No database: these tests only read the file and validate it against `MentionIn`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from connectors.items import PLATFORMS, MentionIn

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "mentions.jsonl"
EXPECTED_PLATFORMS = set(PLATFORMS) - {"other"}
WINDOW = (datetime(2026, 10, 15, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC))
URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>]+")


@cache
def _lines() -> tuple[str, ...]:
    return tuple(SAMPLES.read_text(encoding="utf-8").splitlines())


@cache
def _mentions() -> tuple[MentionIn, ...]:
    return tuple(MentionIn.model_validate_json(line) for line in _lines())


def _by_key() -> dict[tuple[str | None, str], MentionIn]:
    return {(m.source, m.external_id): m for m in _mentions()}


def test_every_line_is_a_valid_mention() -> None:
    errors = []
    for number, line in enumerate(_lines(), start=1):
        if not line.strip():
            errors.append(f"line {number}: blank")
            continue
        try:
            MentionIn.model_validate(json.loads(line))
        except ValueError as exc:  # JSONDecodeError and ValidationError both are
            errors.append(f"line {number}: {exc}")
    assert not errors, "\n".join(errors[:10])


def test_there_are_enough_samples() -> None:
    assert len(_lines()) >= 300


def test_both_languages_are_well_represented() -> None:
    languages = Counter(m.language for m in _mentions())
    assert languages["en"] >= 60, languages
    assert languages["nl"] >= 60, languages
    # Feeds often leave the language out; the samples should show that too.
    assert languages[None] >= 30, languages


def test_every_platform_is_present() -> None:
    platforms = Counter(m.platform for m in _mentions())
    assert set(platforms) == EXPECTED_PLATFORMS, platforms


def test_source_names_are_set() -> None:
    assert all(m.source for m in _mentions())


def test_external_ids_are_unique_per_source() -> None:
    keys = Counter((m.source, m.external_id) for m in _mentions())
    duplicates = [key for key, count in keys.items() if count > 1]
    assert not duplicates, duplicates


def test_replies_point_at_posts_in_the_same_source() -> None:
    by_key = _by_key()
    replies = [m for m in _mentions() if m.reply_to_external_id is not None]
    orphans = [
        (m.source, m.external_id)
        for m in replies
        if (m.source, m.reply_to_external_id) not in by_key
    ]
    assert not orphans, orphans
    assert len(replies) >= 40


def test_threads_are_consistent() -> None:
    by_key = _by_key()
    depths = []
    for mention in _mentions():
        if mention.reply_to_external_id is None:
            assert mention.thread_external_id is None, mention.external_id
            continue
        # Walking up the reply chain ends at the thread root the reply names.
        node, depth = mention, 0
        while node.reply_to_external_id is not None:
            parent = by_key[(node.source, node.reply_to_external_id)]
            assert parent.created_at <= node.created_at, (parent.external_id, node.external_id)
            assert parent.platform == node.platform
            node, depth = parent, depth + 1
            assert depth < 20, f"reply loop at {mention.external_id}"
        assert node.external_id == mention.thread_external_id, mention.external_id
        depths.append(depth)
    assert max(depths) >= 3, "some threads should be 3 or more replies deep"


def test_authors_are_consistent_per_platform() -> None:
    seen: dict[tuple[str, str], tuple[object, ...]] = {}
    for mention in _mentions():
        if mention.author is None:
            continue
        key = (mention.platform, mention.author.platform_id)
        profile = (mention.author.handle, mention.author.display_name, mention.author.followers)
        assert seen.setdefault(key, profile) == profile, key
    assert len(seen) >= 80


def test_created_at_is_in_the_demo_window() -> None:
    outside = [m.external_id for m in _mentions() if not WINDOW[0] <= m.created_at < WINDOW[1]]
    assert not outside, outside


@pytest.mark.parametrize("field", ["url", "text", "html", "author"])
def test_links_only_point_at_example_hosts(field: str) -> None:
    for mention in _mentions():
        if field == "url":
            found = [str(mention.url)] if mention.url else []
        elif field == "author":
            author = mention.author
            found = [str(author.profile_url)] if author and author.profile_url else []
        else:
            text = getattr(mention, field) or ""
            found = [url.rstrip(".,;:!?)") for url in URL_IN_TEXT.findall(text)]
        for url in found:
            host = urlsplit(url).hostname or ""
            assert host.endswith(".example"), (mention.external_id, url)
