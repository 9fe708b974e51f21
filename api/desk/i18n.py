"""The desk's words in English and Dutch.

Each screen keeps its own catalogue in `locales/<screen>.json`: `{"en": {key: text},
"nl": {key: text}}`. Texts are `str.format` templates (`"{count} open"`). A key missing in
Dutch falls back to English; a key missing everywhere shows as itself, and the tests check
that both languages hold every key.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES: tuple[str, ...] = ("en", "nl")
DEFAULT_LANGUAGE = "en"
#: How each language names itself in the language switch.
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands"}


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every screen's texts merged, per language."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for path in sorted(LOCALES_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for lang in LANGUAGES:
            for key, text in data.get(lang, {}).items():
                if key in merged[lang]:
                    raise ValueError(f"{path.name}: key {key!r} is defined twice ({lang})")
                merged[lang][key] = text
    return merged


def translate(lang: str, key: str, /, **params: Any) -> str:
    """The text for `key` in `lang` (English when Dutch lacks it), filled with `params`."""
    texts = catalogue()
    text = texts.get(lang, {}).get(key) or texts[DEFAULT_LANGUAGE].get(key) or key
    return text.format(**params) if params else text


def best_language(accept_language: str | None) -> str:
    """The first of our languages the browser asks for (Accept-Language), else English."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE
