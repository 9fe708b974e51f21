"""Text a request may carry: no NUL characters and no lone surrogates.

PostgreSQL refuses a NUL (U+0000) in `text` and in JSONB, and no UTF-8 encoder takes a lone
surrogate (U+D800 to U+DFFF without its pair, which JSON's `\\ud800` escape can produce). Either
would fail deep in a query as a server error, so requests are checked at the boundary
(`listener.rest.guards`) and `CleanStr` says the same for single fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError


def bad_character(text: str) -> str | None:
    """What makes `text` unstorable (a NUL or a lone surrogate), or None when it is fine."""
    if "\x00" in text:
        return "a NUL character (U+0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate (U+D800 to U+DFFF)"
    return None


def check_text(value: str) -> str:
    """`value` unchanged, or a validation error naming the character it must not hold."""
    found = bad_character(value)
    if found is not None:
        raise PydanticCustomError("text_character", "must not contain {found}", {"found": found})
    return value


CleanStr = Annotated[str, AfterValidator(check_text)]
"""A string without NUL characters or lone surrogates."""


def find_bad_text(value: Any) -> tuple[str, str] | None:
    """The first string (key or value) in a JSON value that `bad_character` refuses.

    Returns the dotted path to it and what is wrong, or None when every string is fine.
    Iterative, so a deeply nested document cannot exhaust the stack.
    """
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            found = bad_character(item)
            if found:
                return _dotted(path), found
        elif isinstance(item, dict):
            for key, inner in reversed(list(item.items())):
                found = bad_character(str(key))
                if found:
                    return _dotted((*path, key)), f"{found} in a key"
                stack.append(((*path, key), inner))
        elif isinstance(item, list):
            stack.extend(((*path, i), inner) for i, inner in reversed(list(enumerate(item))))
    return None


def _dotted(path: tuple[str | int, ...]) -> str:
    # The path goes back to the caller: its own bad characters are shown escaped.
    text = ".".join(str(p) for p in path)
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def escape_like(text: str) -> str:
    """`text` as a literal inside a LIKE pattern written with `escape="\\\\"`."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def readable_name(name: str) -> str:
    """A key as words for people to read: "app_website" -> "App website"."""
    words = " ".join(name.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:] if words else name


def label_of(labels: Mapping[str, str], name: str) -> str:
    """`name` as read from a mapping of names to labels; a name without one as words."""
    return labels.get(name) or readable_name(name)
