"""Digest charts as PNG images (matplotlib's Agg renderer; no display, no global pyplot state).

Mail clients block scripts and most CSS, but show PNG parts referenced by cid:, so the charts
are plain images at twice the displayed size for sharp rendering on high-density screens.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from listener.digest.document import DigestDocument
from listener.digest.messages import day, percent, text

WIDTH_PX = 600
_DPI = 200
_COLOURS = {
    "bars": "#3b6ea5",
    "average": "#d08c2c",
    "positive": "#4c9a5b",
    "neutral": "#a9b3bd",
    "negative": "#c8553d",
    "untagged": "#e4e7eb",
    "previous": "#b9cbe0",
}


def _figure(height_px: int) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / 100, height_px / 100), dpi=_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(labelsize=7, length=2)
    axes.grid(axis="y", color="#eeeeee", linewidth=0.6)
    axes.set_axisbelow(True)
    return figure, axes


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout(pad=0.6)
    figure.savefig(buffer, format="png", dpi=_DPI, facecolor="white")
    return buffer.getvalue()


def _titled(axes: Any, title: str) -> None:
    # The legend sits above the plot, right of the title, where no bar can hide under it.
    axes.set_title(title, fontsize=9, loc="left")
    axes.legend(fontsize=7, frameon=False, ncols=4, loc="lower right", bbox_to_anchor=(1.0, 1.0))


def _day_labels(data: DigestDocument, language: str) -> list[str]:
    days = [date.fromisoformat(d.date) for d in data.volume.per_day]
    return [day(d, language, weekday=len(days) <= 14) for d in days]


def _sparse_ticks(axes: Any, labels: list[str]) -> None:
    step = max(1, len(labels) // 10)
    positions = list(range(0, len(labels), step))
    axes.set_xticks(positions, [labels[i] for i in positions])


def volume_chart(data: DigestDocument, language: str) -> bytes:
    """Mentions per day, with the baseline windows' daily average as a reference line."""
    figure, axes = _figure(220)
    counts = [d.count for d in data.volume.per_day]
    labels = _day_labels(data, language)
    axes.bar(range(len(counts)), counts, color=_COLOURS["bars"], width=0.7)
    average = data.volume.baseline_mean / max(data.period.days, 1)
    windows = len(data.volume.trend) - 1
    axes.axhline(
        average,
        color=_COLOURS["average"],
        linestyle="--",
        linewidth=1,
        label=text(language, "chart_average", windows=windows),
    )
    _sparse_ticks(axes, labels)
    _titled(axes, text(language, "chart_volume"))
    return _png(figure)


def sentiment_chart(data: DigestDocument, language: str) -> bytes:
    """Positive, neutral, negative and untagged mentions per day, stacked."""
    figure, axes = _figure(220)
    rows = data.sentiment.per_day
    positions = list(range(len(rows)))
    bottom = [0] * len(rows)
    for label in ("positive", "neutral", "negative", "untagged"):
        values: list[int] = [getattr(r, label) for r in rows]
        if not any(values) and label == "untagged":
            continue
        axes.bar(
            positions,
            values,
            bottom=bottom,
            color=_COLOURS[label],
            width=0.7,
            label=text(language, label),
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _sparse_ticks(axes, _day_labels(data, language))
    _titled(axes, text(language, "chart_sentiment"))
    return _png(figure)


def topics_chart(data: DigestDocument, language: str) -> bytes:
    """The top topics this period, with the previous period's counts beside them."""
    top = data.topics.top[:8]
    figure, axes = _figure(60 + 26 * max(len(top), 1))
    names = [t.shown for t in reversed(top)]
    positions = list(range(len(names)))
    axes.barh(
        [p + 0.2 for p in positions],
        [t.count for t in reversed(top)],
        height=0.4,
        color=_COLOURS["bars"],
        label=text(language, "this_period"),
    )
    axes.barh(
        [p - 0.2 for p in positions],
        [t.previous for t in reversed(top)],
        height=0.4,
        color=_COLOURS["previous"],
        label=text(language, "previous_short"),
    )
    axes.set_yticks(positions, names)
    axes.grid(axis="x", color="#eeeeee", linewidth=0.6)
    axes.grid(axis="y", visible=False)
    _titled(axes, text(language, "chart_topics"))
    return _png(figure)


def voice_chart(data: DigestDocument, language: str) -> bytes:
    """Each subject's share of voice as a horizontal bar, the previous period's beside it."""
    section = data.share_of_voice
    subjects = section.subjects if section is not None else []
    figure, axes = _figure(60 + 26 * max(len(subjects), 1))
    # Top to bottom in the section's order: brand first.
    rows = list(reversed(subjects))
    positions = list(range(len(rows)))
    now = [100 * (x.share or 0.0) for x in rows]
    axes.barh(
        [p + 0.2 for p in positions],
        now,
        height=0.4,
        color=_COLOURS["bars"],
        label=text(language, "this_period"),
    )
    axes.barh(
        [p - 0.2 for p in positions],
        [100 * (x.previous_share or 0.0) for x in rows],
        height=0.4,
        color=_COLOURS["previous"],
        label=text(language, "previous_short"),
    )
    for position, value, row in zip(positions, now, rows, strict=True):
        axes.annotate(
            percent(row.share, language),
            (value, position + 0.2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=6,
        )
    axes.set_yticks(positions, [x.name for x in rows])
    axes.set_xlim(0, max([*now, *(100 * (x.previous_share or 0.0) for x in rows), 1.0]) * 1.15)
    axes.xaxis.set_major_formatter(lambda value, _: f"{value:.0f}%")
    axes.grid(axis="x", color="#eeeeee", linewidth=0.6)
    axes.grid(axis="y", visible=False)
    _titled(axes, text(language, "chart_voice"))
    return _png(figure)


#: Every chart a digest can have, by name, and the function drawing it.
CHARTS = {
    "volume": volume_chart,
    "sentiment": sentiment_chart,
    "topics": topics_chart,
    "voice": voice_chart,
}


def chart_names(data: DigestDocument) -> list[str]:
    """The charts a digest shows (none for a quiet period), decided without drawing them."""
    if data.quiet:
        return []
    names = ["volume"]
    if data.sentiment.tagged:
        names.append("sentiment")
    if data.topics.top:
        names.append("topics")
    if data.share_of_voice is not None and data.share_of_voice.mentions:
        names.append("voice")
    return names


def digest_charts(data: DigestDocument, language: str) -> dict[str, bytes]:
    """The charts a digest shows, by name; none for a quiet period."""
    return {name: CHARTS[name](data, language) for name in chart_names(data)}
