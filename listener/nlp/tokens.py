"""Token strings shared by the Luister components, computed once per Doc."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from spacy.attrs import ORTH, SPACY
from spacy.tokens import Doc
from spacy.util import minibatch

DEFAULT_BATCH_SIZE = 256

USER_DATA_KEY = "luister_words"
ORTH_AND_SPACE = [ORTH, SPACY]
MAX_CACHED_STRINGS = 500_000
# ORTH ids are hashes of the text itself, so this cache is valid across vocabularies.
_STRINGS_BY_ORTH: dict[int, tuple[str, str, str]] = {}


class TokenStrings(NamedTuple):
    """The Doc's token texts, their lowercase forms and the full text."""

    words: list[str]
    lowers: list[str]
    text: str


def token_strings(doc: Doc) -> TokenStrings:
    """Return the Doc's token strings, cached in doc.user_data."""
    # Token.text and Doc.text decode each string from the StringStore on every access;
    # reading the ORTH ids in one array and caching their strings per id is much faster.
    cached = doc.user_data.get(USER_DATA_KEY)
    if cached is None or len(cached.words) != len(doc):
        rows = doc.to_array(ORTH_AND_SPACE).tolist()
        known = _STRINGS_BY_ORTH
        words: list[str] = []
        lowers: list[str] = []
        pieces: list[str] = []
        for orth, space in rows:
            pair = known.get(orth)
            if pair is None:
                pair = _remember(doc, orth)
            words.append(pair[0])
            lowers.append(pair[1])
            pieces.append(pair[2] if space else pair[0])
        cached = TokenStrings(words, lowers, "".join(pieces))
        doc.user_data[USER_DATA_KEY] = cached
    return cached


def _remember(doc: Doc, orth: int) -> tuple[str, str, str]:
    text = doc.vocab.strings[orth]
    pair = (text, text.lower(), text + " ")
    if len(_STRINGS_BY_ORTH) < MAX_CACHED_STRINGS:
        _STRINGS_BY_ORTH[orth] = pair
    return pair


def forget_token_strings(doc: Doc) -> None:
    """Drop the cached token strings (keeps serialised Docs small)."""
    doc.user_data.pop(USER_DATA_KEY, None)


def pipe_in_batches(
    component: Callable[[Doc], Doc], stream: Iterable[Doc], batch_size: int
) -> Iterator[Doc]:
    """Run a per-Doc component over a stream batch by batch."""
    # A whole batch per component keeps its lexicons and tables hot in the CPU caches.
    for batch in minibatch(stream, size=batch_size):
        for doc in batch:
            component(doc)
        yield from batch
