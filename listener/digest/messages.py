"""The digest's words in English and Dutch, and numbers and dates written the local way."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

Language = Literal["en", "nl"]
LANGUAGES: tuple[Language, ...] = ("en", "nl")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "title": "Listening digest {label}",
        "alert_title": "Spike: {metric} for {dimension} {key}",
        "filters": "Filters",
        "all_mentions": "all mentions",
        "generated": "generated {when}",
        "glance": "At a glance",
        "previous_week": "the previous week",
        "previous_period": "the previous period",
        "glance_volume": (
            "{total} mentions, {change} against {previous_name} ({previous}) and "
            "{baseline_change} against the average of the {windows} before ({baseline})."
        ),
        "glance_sentiment": (
            "How it felt: positive {positive}, neutral {neutral}, negative {negative}."
        ),
        "glance_topics": "Most talked about: {top}.",
        "glance_rising": "Rising: {rising}.",
        "glance_questions": "Questions still waiting for an answer: {count}.",
        "glance_response": (
            "Median first response {median} (p90 {p90}); {met} of {responded} within {target}."
        ),
        "glance_alerts": "Spike alerts this period: {count}.",
        "quiet": "Nothing was heard in this period.",
        "volume": "Volume",
        "per_day": "Mentions per day",
        "day": "Day",
        "mentions": "Mentions",
        "previous": "Previous",
        "change": "Change",
        "by_source": "By source",
        "source": "Source",
        "by_language": "By language",
        "language": "Language",
        "trend": "Recent periods",
        "period": "Period",
        "sentiment": "Sentiment",
        "sentiment_per_day": "Sentiment per day",
        "positive": "positive",
        "neutral": "neutral",
        "negative": "negative",
        "untagged": "not tagged",
        "share_now": "Share now",
        "share_before": "Share before",
        "topics": "Topics",
        "topic": "Topic",
        "rising": "Rising",
        "falling": "Falling",
        "examples_now": "What was said",
        "examples_before": "What was said before",
        "no_topics_yet": "No topics were found in this period.",
        "emergent": "Emergent terms",
        "emergent_intro": "Hashtags, words and phrases that grew and are not in the taxonomy.",
        "term": "Term",
        "none": "None.",
        "voices": "Voices",
        "by_reach": "Widest reach",
        "author": "Author",
        "platform": "Platform",
        "followers": "Followers",
        "loyal": "Loyal voices",
        "loyal_intro": "People who came back in {windows} recent periods; ★ worth thanking.",
        "active_periods": "Periods active",
        "questions": "Questions still waiting",
        "questions_line": (
            "{asked} questions asked this period, {unanswered} still unanswered "
            "({late} past the {target} target); {backlog} open in total."
        ),
        "waiting": "Waiting",
        "status": "Status",
        "response": "Response times",
        "response_line": (
            "{responded} mentions answered; median first response {median}, "
            "p90 {p90}; {met} within the {target} target, {missed} missed."
        ),
        "no_responses": "No responses were recorded for this period's mentions.",
        "sla_line": (
            "SLA: {met} first responses in time, {missed} late; {breached} still waiting "
            "past their due time."
        ),
        "throughput": "Moderation",
        "throughput_line": "{actions} status changes by {people} people; {closed} items closed.",
        "person": "Person",
        "actions": "Actions",
        "engaged": "Most engaged mentions",
        "engagement": "Engagement",
        "alerts": "Spike alerts",
        "alert_line": "{when}: {metric} for {dimension} {key}: {observed} against {baseline}.",
        "incidents": "Incidents",
        "incident_line": (
            "{title}: {mentions} mentions from {authors} authors, {start} to {end} UTC "
            "(peak {peak})."
        ),
        "metric_volume": "volume",
        "metric_negative_share": "negative share",
        "dimension_topic": "topic",
        "dimension_source": "source",
        "dimension_all": "all mentions",
        "notes": "Notes",
        "chart_volume": "Mentions per day",
        "chart_average": "average per day, {windows} periods before",
        "chart_sentiment": "Sentiment per day",
        "chart_topics": "Top topics: this period and the previous one",
        "share_of_voice": "Share of voice",
        "voice_intro": (
            "Mentions of each subject, its share of all the subjects' mentions (a mention "
            "naming two counts for both), how they felt and the followers of its authors, "
            "against {previous_name}."
        ),
        "voice_none": "None of the subjects was mentioned in this period.",
        "subject": "Subject",
        "share": "Share",
        "share_change": "Share change",
        "reach": "Reach",
        "kind_brand": "our brand",
        "kind_competitor": "competitor",
        "kind_product": "product line",
        "glance_voice": "Share of voice: {shares}.",
        "chart_voice": "Share of voice: this period and the previous one",
        "this_period": "this period",
        "previous_short": "previous",
        "alert_intro": "{observed} in the hour from {start} against a usual {baseline} (z = {z}).",
        "drivers": "What drove it",
        "top_terms": "Top terms",
        "top_authors": "Top authors",
        "top_sources": "Sources",
        "examples": "Examples",
        "na": "n/a",
        "hours": "{value} h",
        "minutes": "{value} min",
        "days": "{value} days",
        "status_new": "new",
        "status_open": "open",
        "status_escalated": "escalated",
        "status_snoozed": "snoozed",
        "note_quiet": "No mentions in this period.",
        "note_no_sentiment": (
            "No mention in this period has a sentiment label yet, so sentiment is not reported."
        ),
        "note_some_sentiment": "{untagged} of {total} mentions have no sentiment label yet.",
        "note_no_topics": "No topics were assigned to this period's mentions yet.",
        "note_no_intents": (
            "This period's mentions have not been tagged for intent, so questions cannot be "
            "told apart yet."
        ),
        "note_no_moderation": (
            "No moderation activity is recorded, so response times and throughput are empty."
        ),
        "note_terms_sampled": "Emergent terms are estimated from a sample of {size} mentions.",
        "note_no_alerts_table": "Spike alerts are not set up in this database.",
    },
    "nl": {
        "title": "Luisterdigest {label}",
        "alert_title": "Piek: {metric} voor {dimension} {key}",
        "filters": "Filters",
        "all_mentions": "alle vermeldingen",
        "generated": "gemaakt {when}",
        "glance": "In het kort",
        "previous_week": "de week ervoor",
        "previous_period": "de periode ervoor",
        "glance_volume": (
            "{total} vermeldingen, {change} ten opzichte van {previous_name} ({previous}) en "
            "{baseline_change} ten opzichte van het gemiddelde van de {windows} ervoor "
            "({baseline})."
        ),
        "glance_sentiment": (
            "De toon: positief {positive}, neutraal {neutral}, negatief {negative}."
        ),
        "glance_topics": "Meest besproken: {top}.",
        "glance_rising": "In opkomst: {rising}.",
        "glance_questions": "Vragen die nog op een antwoord wachten: {count}.",
        "glance_response": (
            "Mediaan eerste reactie {median} (p90 {p90}); {met} van {responded} binnen {target}."
        ),
        "glance_alerts": "Piekmeldingen deze periode: {count}.",
        "quiet": "In deze periode is niets gehoord.",
        "volume": "Volume",
        "per_day": "Vermeldingen per dag",
        "day": "Dag",
        "mentions": "Vermeldingen",
        "previous": "Ervoor",
        "change": "Verschil",
        "by_source": "Per bron",
        "source": "Bron",
        "by_language": "Per taal",
        "language": "Taal",
        "trend": "Recente perioden",
        "period": "Periode",
        "sentiment": "Sentiment",
        "sentiment_per_day": "Sentiment per dag",
        "positive": "positief",
        "neutral": "neutraal",
        "negative": "negatief",
        "untagged": "niet getagd",
        "share_now": "Aandeel nu",
        "share_before": "Aandeel ervoor",
        "topics": "Onderwerpen",
        "topic": "Onderwerp",
        "rising": "In opkomst",
        "falling": "Op de terugweg",
        "examples_now": "Wat er gezegd werd",
        "examples_before": "Wat er eerder gezegd werd",
        "no_topics_yet": "In deze periode zijn geen onderwerpen gevonden.",
        "emergent": "Nieuwe termen",
        "emergent_intro": (
            "Hashtags, woorden en woordparen die groeiden en niet in de taxonomie staan."
        ),
        "term": "Term",
        "none": "Geen.",
        "voices": "Stemmen",
        "by_reach": "Grootste bereik",
        "author": "Auteur",
        "platform": "Platform",
        "followers": "Volgers",
        "loyal": "Trouwe stemmen",
        "loyal_intro": (
            "Mensen die terugkwamen in {windows} recente perioden; ★ verdienen een bedankje."
        ),
        "active_periods": "Perioden actief",
        "questions": "Vragen die nog wachten",
        "questions_line": (
            "{asked} vragen gesteld deze periode, {unanswered} nog onbeantwoord "
            "({late} over de norm van {target}); {backlog} open in totaal."
        ),
        "waiting": "Wacht",
        "status": "Status",
        "response": "Reactietijden",
        "response_line": (
            "{responded} vermeldingen beantwoord; mediaan eerste reactie {median}, "
            "p90 {p90}; {met} binnen de norm van {target}, {missed} erbuiten."
        ),
        "no_responses": "Voor de vermeldingen van deze periode zijn geen reacties vastgelegd.",
        "sla_line": (
            "SLA: {met} eerste reacties op tijd, {missed} te laat; {breached} wachten nog, "
            "over hun deadline."
        ),
        "throughput": "Moderatie",
        "throughput_line": (
            "{actions} statuswijzigingen door {people} mensen; {closed} items afgesloten."
        ),
        "person": "Persoon",
        "actions": "Acties",
        "engaged": "Vermeldingen met de meeste interactie",
        "engagement": "Interactie",
        "alerts": "Piekmeldingen",
        "alert_line": "{when}: {metric} voor {dimension} {key}: {observed} tegen {baseline}.",
        "incidents": "Incidenten",
        "incident_line": (
            "{title}: {mentions} vermeldingen van {authors} auteurs, {start} tot {end} UTC "
            "(piek {peak})."
        ),
        "metric_volume": "volume",
        "metric_negative_share": "aandeel negatief",
        "dimension_topic": "onderwerp",
        "dimension_source": "bron",
        "dimension_all": "alle vermeldingen",
        "notes": "Opmerkingen",
        "chart_volume": "Vermeldingen per dag",
        "chart_average": "gemiddelde per dag, {windows} perioden ervoor",
        "chart_sentiment": "Sentiment per dag",
        "chart_topics": "Top-onderwerpen: deze periode en de vorige",
        "share_of_voice": "Aandeel in het gesprek",
        "voice_intro": (
            "Vermeldingen per merk of product, het aandeel daarvan in alle vermeldingen van "
            "de vergeleken namen (een vermelding die er twee noemt telt voor allebei), de toon "
            "en de volgers van de auteurs, tegen {previous_name}."
        ),
        "voice_none": "Geen van de vergeleken namen werd in deze periode genoemd.",
        "subject": "Merk of product",
        "share": "Aandeel",
        "share_change": "Verschil aandeel",
        "reach": "Bereik",
        "kind_brand": "ons merk",
        "kind_competitor": "concurrent",
        "kind_product": "productlijn",
        "glance_voice": "Aandeel in het gesprek: {shares}.",
        "chart_voice": "Aandeel in het gesprek: deze periode en de vorige",
        "this_period": "deze periode",
        "previous_short": "ervoor",
        "alert_intro": "{observed} in het uur vanaf {start} tegen gewoonlijk {baseline} (z = {z}).",
        "drivers": "Waardoor",
        "top_terms": "Meest gebruikte termen",
        "top_authors": "Meest actieve auteurs",
        "top_sources": "Bronnen",
        "examples": "Voorbeelden",
        "na": "n.v.t.",
        "hours": "{value} u",
        "minutes": "{value} min",
        "days": "{value} dagen",
        "status_new": "nieuw",
        "status_open": "open",
        "status_escalated": "geëscaleerd",
        "status_snoozed": "gesnoozed",
        "note_quiet": "Geen vermeldingen in deze periode.",
        "note_no_sentiment": (
            "Geen enkele vermelding in deze periode heeft al een sentimentlabel; sentiment "
            "wordt daarom niet gerapporteerd."
        ),
        "note_some_sentiment": (
            "{untagged} van de {total} vermeldingen hebben nog geen sentimentlabel."
        ),
        "note_no_topics": (
            "Aan de vermeldingen van deze periode zijn nog geen onderwerpen toegekend."
        ),
        "note_no_intents": (
            "De vermeldingen van deze periode zijn nog niet op intentie getagd; vragen zijn "
            "daarom nog niet te herkennen."
        ),
        "note_no_moderation": (
            "Er is geen moderatie vastgelegd; reactietijden en doorvoer zijn daarom leeg."
        ),
        "note_terms_sampled": (
            "Nieuwe termen zijn geschat op een steekproef van {size} vermeldingen."
        ),
        "note_no_alerts_table": "Piekmeldingen zijn in deze database niet ingericht.",
    },
}

_MONTHS = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "nl": ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"],
}
_WEEKDAYS = {
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "nl": ["ma", "di", "wo", "do", "vr", "za", "zo"],
}


def text(language: str, key: str, /, **params: Any) -> str:
    """The message `key` in `language` (English when missing), with `params` filled in."""
    catalogue = MESSAGES.get(language, MESSAGES["en"])
    template = catalogue.get(key) or MESSAGES["en"][key]
    return template.format(**params)


def number(value: float | None, language: str, digits: int = 0) -> str:
    """1,234.5 in English, 1.234,5 in Dutch."""
    if value is None:
        return text(language, "na")
    written = f"{value:,.{digits}f}"
    if language == "nl":
        written = written.replace(",", "_").replace(".", ",").replace("_", ".")
    return written


def percent(value: float | None, language: str) -> str:
    """A share (0.125) as 12.5% (English) or 12,5% (Dutch)."""
    if value is None:
        return text(language, "na")
    return number(value * 100, language, 1 if abs(value) < 0.1 else 0) + "%"


def signed_percent(value: float | None, language: str) -> str:
    """A relative change as +35% or −12%."""
    if value is None:
        return text(language, "na")
    sign = "+" if value >= 0 else "−"
    return sign + percent(abs(value), language)


def points(value: float | None, language: str) -> str:
    """A change of share in percentage points: +4.5 pt / +4,5 pp."""
    if value is None:
        return text(language, "na")
    sign = "+" if value >= 0 else "−"
    unit = "pp" if language == "nl" else "pt"
    return f"{sign}{number(abs(value) * 100, language, 1)} {unit}"


def duration(seconds: float | None, language: str) -> str:
    """Seconds as minutes below two hours, hours below two days, else days."""
    if seconds is None:
        return text(language, "na")
    if seconds < 7200:
        return text(language, "minutes", value=number(seconds / 60, language))
    hours = seconds / 3600
    if hours >= 48:
        return text(language, "days", value=number(hours / 24, language))
    return text(language, "hours", value=number(hours, language, 0 if hours.is_integer() else 1))


def day(value: date, language: str, *, weekday: bool = False, year: bool = False) -> str:
    """16 Nov (2026), optionally preceded by the weekday: Mon 16 Nov."""
    written = f"{value.day} {_MONTHS.get(language, _MONTHS['en'])[value.month - 1]}"
    if year:
        written += f" {value.year}"
    if weekday:
        written = f"{_WEEKDAYS.get(language, _WEEKDAYS['en'])[value.weekday()]} {written}"
    return written
