"""The digest as JSON, Markdown and HTML (for email with cid: images, or one self-contained page).

Templates autoescape: mention text is what strangers wrote, so it is only ever printed as text.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal

from jinja2 import Environment, StrictUndefined, Template

from listener.digest.document import DigestDocument
from listener.digest.layouts import HTML_TEMPLATE, MARKDOWN_TEMPLATE
from listener.digest.view import digest_view

Format = Literal["json", "md", "html"]
FORMATS: tuple[Format, ...] = ("json", "md", "html")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def _md(value: Any) -> str:
    """Text made inert in Markdown: one line, markup characters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def _safe_url(value: Any) -> str:
    url = str(value or "")
    return url if url.startswith(("https://", "http://")) else ""


_html_env = Environment(
    autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
)
_html_env.filters["url"] = _safe_url
_md_env = Environment(
    autoescape=False, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
)
_md_env.filters["md"] = _md
_md_env.filters["url"] = _safe_url


@cache
def _template(kind: Literal["md", "html"]) -> Template:
    # Compiled on first use: compiling takes longer than starting the CLI for other commands.
    if kind == "html":
        return _html_env.from_string(HTML_TEMPLATE)
    return _md_env.from_string(MARKDOWN_TEMPLATE)


def to_json(data: DigestDocument) -> str:
    """The digest for integrations: the stored data, pretty-printed."""
    return json.dumps(data.model_dump(mode="json"), indent=2, ensure_ascii=False)


def revised_line(data: DigestDocument, language: str) -> str | None:
    """'Revised on <date>: N mentions arrived after it was first built', if it was revised."""
    if data.revision is None:
        return None
    day, n = data.revision.revised_at[:10], data.revision.late_mentions
    if language == "nl":
        plural = "en" * (n != 1)
        return (
            f"Herzien op {day}: {n} vermelding{plural} kwam{plural} binnen"
            " nadat deze digest voor het eerst werd opgesteld"
        )
    return f"Revised on {day}: {n} mention{'s' * (n != 1)} arrived after it was first built"


def to_markdown(data: DigestDocument, language: str) -> str:
    """The digest as Markdown (also the plain-text part of the email)."""
    text = _template("md").render(v=digest_view(data, language))
    line = revised_line(data, language)  # under the title
    return text if line is None else text.replace("\n\n", f"\n\n{_md(line)}\n\n", 1)


def to_html(data: DigestDocument, language: str, *, images: Mapping[str, str]) -> str:
    """The digest as HTML; `images` maps chart names to the src each <img> uses."""
    page = _template("html").render(v=digest_view(data, language), images=images)
    line = revised_line(data, language)  # under the title; the line is ours, no markup in it
    return page if line is None else page.replace("</h1>", f"</h1>\n<p><em>{line}</em></p>", 1)


def data_uris(charts: Mapping[str, bytes]) -> dict[str, str]:
    """Chart srcs that embed the PNG in the page, for a file a browser opens on its own."""
    return {
        name: "data:image/png;base64," + base64.b64encode(png).decode()
        for name, png in charts.items()
    }


def render(data: DigestDocument, fmt: Format, language: str) -> str:
    """The digest in `fmt`; HTML comes self-contained with its charts embedded."""
    if fmt == "json":
        return to_json(data)
    if fmt == "md":
        return to_markdown(data, language)
    from listener.digest.charts import digest_charts

    return to_html(data, language, images=data_uris(digest_charts(data, language)))
