"""Prometheus metrics: defined once here, incremented where the work happens (one line each).

Names and labels (see README, "Metrics"):

- `luister_ingest_items_total{outcome}`: mentions an ingest stored as new, updated or unchanged,
  or quarantined as rejected (listener/sources/ingest.py).
- `luister_poll_seconds{kind}`: how long a source's connector took to fetch, per source kind;
  `luister_poll_failures_total{kind,stage}`: failed polls (stage `fetch` or `store`)
  (listener/sources/polling.py).
- `luister_tagging_seconds`, `luister_tagged_texts_total`: NLP tagging batches
  (listener/nlp/store.py).
- `luister_outbox_outcomes_total{outcome}`: reply attempts that ended `sent`, `retrying` or
  `failed` (moderation/outbox/sending.py).
- `luister_webhook_deliveries_total{outcome}`, `luister_webhook_delivery_seconds`: webhook
  delivery attempts (the webhook sender increments them).
- `luister_http_request_seconds{method,route,status}`: API request durations, labelled with the
  route template (`/api/v1/mentions/{mention_id}`), never the raw path, and the status class
  (`2xx`, `4xx`, `5xx`: the exact codes would multiply the series)
  (listener/rest/metrics.py); `luister_rate_limited_total`: requests refused with 429.
- `luister_queue_items{status,sla_band}`: the moderation queue's depth, counted at scrape time
  with one grouped query (`queue_depth`).

Every process keeps its own values: an API replica serves its own at `/metrics`; an arq worker
serves its own on `LUISTER_METRICS_WORKER_PORT` when set. With `PROMETHEUS_MULTIPROC_DIR` set in
the environment of every process on a host, prometheus-client's multiprocess mode applies and
`/metrics` adds up the values of all of them.
"""

from __future__ import annotations

import os
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import QueueItem
from listener.settings import Settings

__all__ = [
    "CONTENT_TYPE_LATEST",
    "HTTP_REQUEST_SECONDS",
    "INGEST_ITEMS",
    "OUTBOX_OUTCOMES",
    "POLL_FAILURES",
    "POLL_SECONDS",
    "RATE_LIMITED",
    "TAGGED_TEXTS",
    "TAGGING_SECONDS",
    "WEBHOOK_DELIVERIES",
    "WEBHOOK_DELIVERY_SECONDS",
]

# No `*_created` series: they double the text and Prometheus does not need them.
disable_created_metrics()  # type: ignore[no-untyped-call]

_SLOW = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

INGEST_ITEMS = Counter(
    "luister_ingest_items", "Mentions an ingest stored or quarantined, by outcome", ["outcome"]
)
POLL_SECONDS = Histogram(
    "luister_poll_seconds", "Time a connector took to fetch one poll", ["kind"], buckets=_SLOW
)
POLL_FAILURES = Counter(
    "luister_poll_failures", "Polls that failed, by source kind and stage", ["kind", "stage"]
)
TAGGING_SECONDS = Histogram(
    "luister_tagging_seconds", "Time one batch of texts took to tag", buckets=_FAST
)
TAGGED_TEXTS = Counter("luister_tagged_texts", "Texts the NLP pipeline tagged")
OUTBOX_OUTCOMES = Counter(
    "luister_outbox_outcomes", "Reply attempts by outcome (sent, retrying, failed)", ["outcome"]
)
WEBHOOK_DELIVERIES = Counter(
    "luister_webhook_deliveries",
    "Webhook delivery attempts by outcome (delivered, retrying, failed, disabled)",
    ["outcome"],
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "luister_webhook_delivery_seconds", "Time one webhook delivery attempt took", buckets=_SLOW
)
HTTP_REQUEST_SECONDS = Histogram(
    "luister_http_request_seconds",
    "API request durations by method, route template and status class (2xx, 4xx, 5xx)",
    ["method", "route", "status"],
    buckets=_FAST,
)
RATE_LIMITED = Counter("luister_rate_limited", "Requests refused with 429 by the rate limit")


class IngestCounts(Protocol):
    """What an ingest report tells (listener.sources.ingest.IngestReport)."""

    new: int
    updated: int
    unchanged: int
    rejected: int


def record_ingest(report: IngestCounts) -> None:
    """Count one ingest's outcomes."""
    for outcome in ("new", "updated", "unchanged", "rejected"):
        count = getattr(report, outcome)
        if count:
            INGEST_ITEMS.labels(outcome=outcome).inc(count)


async def queue_depth(session: AsyncSession) -> list[tuple[str, str, int]]:
    """(status, SLA band, count) of the queue, in one grouped query."""
    band = func.coalesce(QueueItem.sla_band, "none")
    rows = await session.execute(
        select(QueueItem.status, band, func.count()).group_by(QueueItem.status, band)
    )
    return [(str(status), str(sla_band), int(count)) for status, sla_band, count in rows]


class _Snapshot(Collector):
    """Values read at scrape time (the queue's depth), rendered once."""

    def __init__(self, depth: list[tuple[str, str, int]]) -> None:
        self.depth = depth

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "luister_queue_items",
            "Queue items by status and SLA band (counted at scrape time)",
            labels=["status", "sla_band"],
        )
        for status, band, count in self.depth:
            family.add_metric([status, band], count)
        return [family]


def _process_registry() -> CollectorRegistry:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


def render(depth: list[tuple[str, str, int]]) -> bytes:
    """The exposition text: this process's (or host's) metrics and the queue's depth."""
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Snapshot(depth))
    return generate_latest(_process_registry()) + generate_latest(snapshot)


def serve_worker_metrics(settings: Settings) -> None:
    """Serve this worker's metrics on their own port when `metrics_worker_port` is set."""
    if settings.metrics_worker_port is not None:
        start_http_server(
            settings.metrics_worker_port, addr=settings.metrics_worker_host, registry=REGISTRY
        )
