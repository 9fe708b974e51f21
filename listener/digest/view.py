"""Turn digest data into the sentences and table cells a reader sees, in their language."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from listener.digest.document import AlertItem, DigestDocument, MentionCard, TopicStat
from listener.digest.incidents import incident_line
from listener.digest.messages import (
    day,
    duration,
    number,
    percent,
    points,
    signed_percent,
    text,
)
from listener.kit.strings import label_of


class _Words:
    """Words and numbers in one language, as the templates call them."""

    def __init__(self, language: str) -> None:
        self.language = language

    def t(self, key: str, **params: Any) -> str:
        """A message."""
        return text(self.language, key, **params)

    def n(self, value: float | None, digits: int = 0) -> str:
        """A number."""
        return number(value, self.language, digits)

    def pct(self, value: float | None) -> str:
        """A relative change."""
        return signed_percent(value, self.language)

    def share(self, value: float | None) -> str:
        """A share."""
        return percent(value, self.language)

    def pts(self, value: float | None) -> str:
        """A change of share in percentage points."""
        return points(value, self.language)


def _card(card: MentionCard, language: str) -> dict[str, Any]:
    created = datetime.fromisoformat(card.created_at)
    return {
        **card.model_dump(),
        "when": day(created.date(), language),
        "who": card.author or card.platform,
        "engagement_text": number(card.engagement, language),
    }


def _with_examples(stat: TopicStat, language: str) -> dict[str, Any]:
    return {
        **stat.model_dump(),
        "shown": stat.shown,
        "examples": [_card(c, language) for c in stat.examples or []],
    }


def _headline(data: DigestDocument, language: str) -> list[str]:
    t = _Words(language).t
    vol, senti, topics = data.volume, data.sentiment, data.topics
    if data.quiet:
        return [t("quiet")]
    previous_name = t("previous_week" if data.period.is_week else "previous_period")
    lines = [
        t(
            "glance_volume",
            total=number(vol.total, language),
            change=signed_percent(vol.change, language),
            previous_name=previous_name,
            previous=number(vol.previous, language),
            baseline_change=signed_percent(vol.change_vs_baseline, language),
            windows=len(vol.trend) - 1,
            baseline=number(vol.baseline_mean, language, 1),
        )
    ]
    if senti.tagged:
        lines.append(
            t(
                "glance_sentiment",
                **{
                    lbl: f"{percent(getattr(senti.shares, lbl), language)} "
                    f"({points(getattr(senti.change_points, lbl), language)})"
                    for lbl in ("positive", "neutral", "negative")
                },
            )
        )
    voice = data.share_of_voice
    if voice is not None and voice.mentions:
        shares = ", ".join(
            f"{x.name} {percent(x.share, language)} ({points(x.share_change_points, language)})"
            for x in voice.subjects
        )
        lines.append(t("glance_voice", shares=shares))
    if topics.top:
        top = ", ".join(f"{x.shown} ({number(x.count, language)})" for x in topics.top[:3])
        lines.append(t("glance_topics", top=top))
    if topics.rising:
        rising = ", ".join(
            f"{x.shown} (+{number(x.count - x.previous, language)})" for x in topics.rising
        )
        lines.append(t("glance_rising", rising=rising))
    if data.questions.unanswered_total:
        lines.append(t("glance_questions", count=number(data.questions.unanswered_total, language)))
    resp = data.response
    if resp.responded:
        lines.append(
            t(
                "glance_response",
                median=duration(resp.median_seconds, language),
                p90=duration(resp.p90_seconds, language),
                met=number(resp.within_target, language),
                responded=number(resp.responded, language),
                target=duration(resp.target_hours * 3600, language),
            )
        )
    if data.alerts.count:
        lines.append(t("glance_alerts", count=data.alerts.count))
    return lines


def _voice(data: DigestDocument, language: str) -> dict[str, Any] | None:
    """The share-of-voice section as the templates print it; None without subjects."""
    section = data.share_of_voice
    if section is None:
        return None
    previous_name = text(language, "previous_week" if data.period.is_week else "previous_period")
    return {
        "mentions": section.mentions,
        "previous": section.previous,
        "intro": text(language, "voice_intro", previous_name=previous_name),
        "subjects": [
            {**x.model_dump(), "kind_label": text(language, f"kind_{x.kind}")}
            for x in section.subjects
        ],
    }


def _filters(data: DigestDocument, language: str) -> str:
    parts = [
        values if isinstance(values, str) else ", ".join(values)
        for values in data.filters.values()
        if values
    ]
    return " · ".join(parts) if parts else text(language, "all_mentions")


def _alert_line(alert: AlertItem, language: str, topics: dict[str, str]) -> str:
    negative = alert.metric == "negative_share"
    start = datetime.fromisoformat(alert.window_start)
    words = _Words(language)

    def fmt(value: float) -> str:
        return words.share(value) if negative else words.n(value, 1)

    return text(
        language,
        "alert_line",
        when=f"{day(start.date(), language, weekday=True)} {start:%H:%M} UTC",
        metric=text(language, f"metric_{alert.metric}"),
        dimension=text(language, f"dimension_{alert.dimension}"),
        # A topic reads as its label (known from the topics section), else as words.
        key=label_of(topics, alert.key) if alert.dimension == "topic" else alert.key,
        observed=fmt(alert.observed),
        baseline=fmt(alert.baseline),
    )


def digest_view(data: DigestDocument, language: str) -> dict[str, Any]:
    """Everything the Markdown and HTML templates print, already worded and formatted."""
    words = _Words(language)
    t, n = words.t, words.n
    period = data.period
    first, last = date.fromisoformat(period.first_day), date.fromisoformat(period.last_day)
    vol, senti, resp = data.volume, data.sentiment, data.response
    questions, flow, sla = data.questions, data.throughput, data.sla
    rising = [_with_examples(x, language) for x in data.topics.rising]
    listed = data.topics.top + data.topics.rising + data.topics.falling
    shown_topics = {x.topic: x.shown for x in listed}
    falling = [_with_examples(x, language) for x in data.topics.falling]
    return {
        "t": t,
        "n": n,
        "pct": words.pct,
        "share": words.share,
        "pts": words.pts,
        "language": language,
        "title": t("title", label=period.label),
        "dates": f"{day(first, language, year=True)} – {day(last, language, year=True)}",
        "timezone": period.timezone,
        "filters": _filters(data, language),
        "generated": t("generated", when=data.generated_at[:16].replace("T", " ") + " UTC"),
        "quiet": data.quiet,
        "headline": _headline(data, language),
        "days": [
            {
                "label": day(date.fromisoformat(d.date), language, weekday=True),
                "count": n(d.count),
                "sentiment": senti.per_day[i],
            }
            for i, d in enumerate(vol.per_day)
        ],
        "trend": vol.trend,
        "volume": vol,
        "sentiment": senti,
        "topics": data.topics,
        "terms": data.emergent_terms.terms,
        "authors": data.authors,
        "questions": questions,
        "questions_line": t(
            "questions_line",
            asked=n(questions.asked),
            unanswered=n(questions.unanswered),
            late=n(questions.unanswered_past_target),
            target=duration(resp.target_hours * 3600, language),
            backlog=n(questions.unanswered_total),
        ),
        "oldest": [
            {
                **_card(q, language),
                "waiting": duration(q.waiting_hours * 3600, language),
                "status": t(f"status_{q.status}"),
            }
            for q in questions.oldest
        ],
        "response_line": (
            t(
                "response_line",
                responded=n(resp.responded),
                median=duration(resp.median_seconds, language),
                p90=duration(resp.p90_seconds, language),
                met=n(resp.within_target),
                missed=n(resp.missed_target),
                target=duration(resp.target_hours * 3600, language),
            )
            if resp.responded
            else t("no_responses")
        ),
        "sla_line": (
            t(
                "sla_line",
                met=n(sla.met),
                missed=n(sla.missed),
                breached=n(sla.waiting_past_due),
            )
            if sla.available
            else None
        ),
        "throughput": flow,
        "throughput_line": t(
            "throughput_line",
            actions=n(flow.actions),
            people=n(flow.people),
            closed=n(flow.closed),
        ),
        "engaged": [_card(c, language) for c in data.engaged],
        "alerts": [_alert_line(a, language, shown_topics) for a in data.alerts.items],
        "voice": _voice(data, language),
        "incidents": [incident_line(i, language) for i in data.incidents.items]
        if data.incidents
        else [],
        "topic_moves": [
            (t("rising"), rising, t("examples_now")),
            (t("falling"), falling, t("examples_before")),
        ],
        "notes": [text(language, f"note_{x.code}", **x.params) for x in data.notes],
    }
