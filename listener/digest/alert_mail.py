"""The email telling a recipient about a spike alert: rendered where every digest email is."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from jinja2 import Environment, StrictUndefined
from sqlalchemy.ext.asyncio import AsyncSession

from listener.digest.mail import alert_message
from listener.digest.messages import number, percent, text
from listener.kit.strings import label_of
from listener.models import Alert, Delivery
from listener.nlp.topics_store import topic_labels
from listener.settings import Settings

_env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_HTML = _env.from_string(
    """\
<!DOCTYPE html>
<html lang="{{ language }}"><body style="font-family:Helvetica,Arial,sans-serif;color:#1d2a36;">
<h1 style="font-size:20px;">{{ title }}</h1>
<p style="font-size:15px;">{{ intro }}</p>
<h2 style="font-size:16px;">{{ t('drivers') }}</h2>
<p style="font-size:14px;"><strong>{{ t('top_terms') }}:</strong> {{ terms }}</p>
<p style="font-size:14px;"><strong>{{ t('top_authors') }}:</strong> {{ authors }}</p>
<p style="font-size:14px;"><strong>{{ t('top_sources') }}:</strong> {{ sources }}</p>
<h2 style="font-size:16px;">{{ t('examples') }}</h2>
{% for c in examples %}
<p style="margin:6px 0;padding:6px 10px;border-left:3px solid #c8553d;font-size:14px;">
“{{ c.text }}” — {{ c.author or c.platform }}</p>
{% endfor %}
</body></html>
"""
)


def _alert_words(alert: Alert, language: str, key: str) -> dict[str, Any]:
    negative = alert.metric == "negative_share"

    def fmt(value: float) -> str:
        return percent(value, language) if negative else number(value, language, 1)

    drivers = alert.drivers
    return {
        "title": text(
            language,
            "alert_title",
            metric=text(language, f"metric_{alert.metric}"),
            dimension=text(language, f"dimension_{alert.dimension}"),
            key=key,
        ),
        "intro": text(
            language,
            "alert_intro",
            observed=fmt(alert.observed),
            start=f"{alert.window_start:%Y-%m-%d %H:%M} UTC",
            baseline=fmt(alert.baseline),
            z=number(alert.z_score, language, 1),
        ),
        "terms": ", ".join(t["term"] for t in drivers.get("terms", [])) or "–",
        "authors": ", ".join(f"{a['author']} ({a['mentions']})" for a in drivers.get("authors", []))
        or "–",
        "sources": ", ".join(f"{s['source']} ({s['mentions']})" for s in drivers.get("sources", []))
        or "–",
        "examples": drivers.get("examples", []),
    }


async def alert_email(
    session: AsyncSession, *, settings: Settings, alert_id: int, delivery: Delivery
) -> EmailMessage:
    """The email telling one recipient about an alert, in their list's language."""
    alert = await session.get(Alert, alert_id)
    assert alert is not None  # the delivery row cascades with its alert
    language = delivery.language
    key = alert.dimension_key
    if alert.dimension == "topic":  # a topic reads as its label in the list's language
        key = label_of(await topic_labels(session, language), key)
    words = _alert_words(alert, language, key)
    lines = [
        words["intro"],
        "",
        f"{text(language, 'top_terms')}: {words['terms']}",
        f"{text(language, 'top_authors')}: {words['authors']}",
        f"{text(language, 'top_sources')}: {words['sources']}",
        "",
        *(f"- “{c['text']}” — {c['author'] or c['platform']}" for c in words["examples"]),
    ]
    html = _HTML.render(language=language, t=lambda key: text(language, key), **words)
    return alert_message(
        settings,
        subject=words["title"],
        body_text="\n".join(lines),
        body_html=html,
        to=delivery.recipient,
    )
