"""The organisation's topic taxonomy: topics with keywords and phrases per language."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ANY_LANGUAGE = "*"


@dataclass(frozen=True)
class Topic:
    """One topic and its terms; `terms` maps a language code (or "*") to phrases.

    `label` is the name people read (English by default); `labels` holds it per language.
    """

    key: str
    label: str
    terms: tuple[tuple[str, tuple[str, ...]], ...]
    labels: tuple[tuple[str, str], ...] = ()

    @classmethod
    def create(
        cls,
        key: str,
        terms: Mapping[str, Iterable[str]],
        label: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> Topic:
        """Build a topic from a plain mapping of language -> phrases (and -> label)."""
        frozen = tuple(sorted((lang.lower(), tuple(phrases)) for lang, phrases in terms.items()))
        named = tuple(sorted((lang.lower(), str(text)) for lang, text in (labels or {}).items()))
        return cls(key=key, label=label or dict(named).get("en") or key, terms=frozen, labels=named)

    def terms_for(self, language: str | None) -> tuple[str, ...]:
        """Return this topic's phrases for a language plus language-independent ones."""
        phrases: list[str] = []
        for lang, values in self.terms:
            if language is None or lang in (language, ANY_LANGUAGE):
                phrases.extend(values)
        return tuple(phrases)


@dataclass(frozen=True)
class Taxonomy:
    """An ordered, hashable collection of topics."""

    topics: tuple[Topic, ...]
    version: str = "custom"

    @classmethod
    def from_dicts(cls, items: Iterable[Mapping[str, Any]], version: str = "custom") -> Taxonomy:
        """Build from [{"key", "label"?, "labels"?: {lang: label}, "terms": {lang: [...]}}]."""
        topics = tuple(
            Topic.create(
                str(item["key"]),
                item.get("terms", {}),
                str(item.get("label", "")),
                item.get("labels") or None,
            )
            for item in items
        )
        return cls(topics=topics, version=version)

    @classmethod
    def from_json_file(cls, path: str | Path) -> Taxonomy:
        """Load a taxonomy from a JSON file holding a list of topic objects."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        items = data["topics"] if isinstance(data, dict) else data
        version = str(data.get("version", Path(path).name)) if isinstance(data, dict) else "file"
        return cls.from_dicts(items, version=version)


DEFAULT_TAXONOMY = Taxonomy.from_dicts(
    [
        {
            "key": "delivery",
            "label": "Delivery and shipping",
            "labels": {"en": "Delivery and shipping", "nl": "Bezorging en verzending"},
            "terms": {
                "en": [
                    "delivery",
                    "deliver",
                    "parcel",
                    "package",
                    "shipping",
                    "ship",
                    "courier",
                    "tracking",
                    "arrive",
                    "customs",
                ],
                "nl": [
                    "bezorging",
                    "bezorgen",
                    "bezorger",
                    "levering",
                    "leveren",
                    "pakket",
                    "verzending",
                    "verzenden",
                    "pakketbezorger",
                    "track en trace",
                    "douane",
                ],
                "*": ["postnl", "dhl", "ups"],
            },
        },
        {
            "key": "pricing",
            "label": "Prices and costs",
            "labels": {"en": "Prices and costs", "nl": "Prijzen en kosten"},
            "terms": {
                "en": ["price", "expensive", "cheap", "cost", "fee", "discount", "overpriced"],
                "nl": ["prijs", "duur", "goedkoop", "kosten", "korting", "tarief"],
            },
        },
        {
            "key": "billing",
            "label": "Payments, bills and refunds",
            "labels": {
                "en": "Payments, bills and refunds",
                "nl": "Betalingen, facturen en terugbetalingen",
            },
            "terms": {
                "en": [
                    "refund",
                    "invoice",
                    "bill",
                    "charged",
                    "payment",
                    "pay",
                    "money back",
                    "bank transfer",
                ],
                "nl": [
                    "terugbetaling",
                    "factuur",
                    "rekening",
                    "afgeschreven",
                    "betaling",
                    "betalen",
                    "geld terug",
                    "overboeking",
                    "pinnen",
                ],
                "*": ["ideal", "paypal"],
            },
        },
        {
            "key": "app_website",
            "label": "App and website",
            "labels": {"en": "App and website", "nl": "App en website"},
            "terms": {
                "en": [
                    "app",
                    "website",
                    "site",
                    "update",
                    "crash",
                    "login",
                    "log in",
                    "checkout",
                    "error",
                    "notification",
                ],
                "nl": [
                    "app",
                    "website",
                    "site",
                    "update",
                    "crasht",
                    "inloggen",
                    "foutmelding",
                    "melding",
                    "afrekenen",
                ],
            },
        },
        {
            "key": "customer_service",
            "label": "Customer service",
            "labels": {"en": "Customer service", "nl": "Klantenservice"},
            "terms": {
                "en": [
                    "customer service",
                    "support",
                    "helpdesk",
                    "chatbot",
                    "on hold",
                    "callback",
                    "agent",
                    "hotline",
                ],
                "nl": [
                    "klantenservice",
                    "helpdesk",
                    "chatbot",
                    "in de wacht",
                    "teruggebeld",
                    "medewerker",
                    "klantenlijn",
                ],
            },
        },
        {
            "key": "account",
            "label": "Accounts and passwords",
            "labels": {"en": "Accounts and passwords", "nl": "Accounts en wachtwoorden"},
            "terms": {
                "en": ["account", "password", "hacked", "locked out", "subscription"],
                "nl": ["account", "wachtwoord", "gehackt", "abonnement", "inloggegevens"],
            },
        },
        {
            "key": "public_transport",
            "label": "Trains, buses and flights",
            "labels": {"en": "Trains, buses and flights", "nl": "Treinen, bussen en vluchten"},
            "terms": {
                "en": [
                    "train",
                    "bus",
                    "tram",
                    "flight",
                    "delay",
                    "cancelled",
                    "platform",
                    "station",
                    "airport",
                    "luggage",
                ],
                "nl": [
                    "trein",
                    "bus",
                    "tram",
                    "vlucht",
                    "vertraging",
                    "vertraagd",
                    "uitgevallen",
                    "perron",
                    "station",
                    "vliegveld",
                    "koffer",
                    "conducteur",
                ],
                "*": ["ns", "klm", "schiphol"],
            },
        },
    ],
    version="default-1",
)
