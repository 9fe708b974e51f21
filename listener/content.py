"""The one HTML cleaner: platform HTML is shown to staff only after passing through it."""

from __future__ import annotations

import nh3

_TAGS = {
    "a",
    "p",
    "br",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "span",
}


def clean_html(html: str | None) -> str | None:
    """Platform HTML reduced to safe formatting; links open safely and carry no referrer."""
    if html is None:
        return None
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow ugc",
    )
