"""Settings from `LUISTER_*` environment variables and `.env`; defaults need no configuration."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "please-change-me"})


class SettingsError(ValueError):
    """The configuration cannot be used; the message says which setting and why."""


class Settings(BaseSettings):
    """Everything Luister reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="LUISTER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["dev", "production"] = Field(
        default="dev",
        description="dev is the embedded mode: a generated secret is kept in the data directory",
    )
    database_url: str = Field(default="sqlite+aiosqlite:///./luister.db")
    redis_url: SecretStr | None = Field(
        default=None, description="Unset: jobs run in-process inside `luister serve`"
    )
    data_dir: Path = Field(default=Path("./.luister"))
    secret_key: SecretStr | None = Field(
        default=None, description="Keys token hashes and encrypted credentials"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    page_size_default: int = Field(default=50, ge=1, le=500)
    page_size_max: int = Field(default=200, ge=1, le=1000)
    ingest_batch_size: int = Field(default=500, ge=1, le=10_000)
    # Tagging (listener/nlp): which languages detection may choose, and how sure it must be.
    nlp_languages: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["en", "nl", "de", "fr", "es"],
        description="Comma-separated ISO 639-1 codes language detection chooses among",
    )
    nlp_language_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Below this detection confidence a mention is 'und'"
    )
    nlp_language_accuracy: Literal["high", "low"] = Field(
        default="high",
        description="low: the detector keeps trigram models only (far less memory, less "
        "accurate on posts under 120 characters)",
    )
    http_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated hosts, IPs or networks admitted although private",
    )
    contact_url: str = Field(
        default="https://luister.invalid/bot",
        description="Sent in the User-Agent so platform operators can reach you",
    )
    http_max_bytes: int = Field(default=15 * 1024 * 1024, ge=1024, description="Per response")
    http_deadline_seconds: float = Field(default=30.0, gt=0)
    queue_name: str = Field(default="luister:queue", description="The arq queue in Redis")
    run_jobs: bool = Field(default=True, description="Run polling jobs (in-process or worker)")
    poll_concurrency: int = Field(default=4, ge=1, le=64)
    job_timeout_seconds: int = Field(default=120, ge=5)
    max_consecutive_failures: int = Field(
        default=8, ge=1, description="A source pauses itself after this many failed polls"
    )
    # Parsing fetched documents (connectors/_parse_pool.py): feeds are parsed in worker
    # processes, off the event loop; a document over its CPU budget fails its poll cleanly.
    parse_budget_seconds: float = Field(
        default=10.0, gt=0, le=600, description="CPU seconds one feed document may take to parse"
    )
    parse_workers: int = Field(
        default=1, ge=1, le=16, description="Worker processes parsing feeds (documents at once)"
    )
    # Triage (moderation/): priority factors, SLA targets per band, claims, presence, bulk undo.
    priority_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "intent": 30.0,
            "sentiment": 15,
            "reach": 15,
            "engagement": 10,
            "growth": 10,
            "recency": 10,
            "keywords": 15,
            "sla": 15,
        },
        description="Relative weight of each priority factor (JSON object)",
    )
    priority_urgent_words: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "en": [
                "down",
                "outage",
                "broken",
                "not working",
                "urgent",
                "asap",
                "emergency",
                "hacked",
                "scam",
                "fraud",
                "crash",
                "refund",
                "data breach",
            ],
            "nl": [
                "storing",
                "kapot",
                "werkt niet",
                "dringend",
                "spoed",
                "noodgeval",
                "gehackt",
                "oplichting",
                "ligt eruit",
                "ligt plat",
                "datalek",
                "geld terug",
            ],
        },
        description="Words that make a mention urgent, per language ('*' for every language)",
    )
    priority_reach_followers: dict[str, int] = Field(
        default_factory=lambda: (
            {"default": 10_000, "mastodon": 5_000, "bluesky": 20_000}
            | {"lemmy": 1_000, "discourse": 500}
        ),
        description="Followers that count as full reach, per platform ('default' for the rest)",
    )
    priority_half_life_hours: float = Field(default=12.0, gt=0, description="Recency decay")
    priority_bands: dict[str, int] = Field(
        default_factory=lambda: {"urgent": 65, "high": 45, "medium": 25},
        description="Lowest base score of each band; below medium is low",
    )
    sla_first_response_minutes: dict[str, int] = Field(
        default_factory=lambda: {"urgent": 30, "high": 120, "medium": 480, "low": 1440},
        description="First-response target per priority band",
    )
    # One clock (moderation.queue.sla): SLAs run from the post's created_at; a post first heard
    # this long after it was written is flagged "heard late" instead of getting a fresh SLA.
    sla_heard_late_hours: float = Field(
        default=6.0, gt=0, description="Heard this long after posting: no SLA, flagged late"
    )
    brand_terms: list[str] = Field(
        default_factory=list,
        description="Names impersonators imitate, besides our own accounts' labels and handles",
    )
    claim_minutes: int = Field(default=10, ge=1, le=240, description="Claim lease length")
    presence_ttl_seconds: int = Field(default=45, ge=5, le=600, description="Viewer heartbeat TTL")
    bulk_undo_minutes: int = Field(default=30, ge=1, description="How long a bulk action undoes")
    bulk_inline_limit: int = Field(
        default=100, ge=0, le=1000, description="Bulk actions on more items run as background jobs"
    )
    # The weekly digest, its email delivery and spike alerts (listener/digest, listener/alerts).
    digest_timezone: str = Field(
        default="Europe/Amsterdam", description="IANA zone for digest weeks, days and schedule"
    )
    digest_weekday: int = Field(default=0, ge=0, le=6, description="0 Monday … 6 Sunday")
    digest_hour: int = Field(default=8, ge=0, le=23, description="Local hour the digest goes out")
    digest_schedule_enabled: bool = Field(default=True, description="Send weekly digests")
    digest_response_target_hours: float = Field(
        default=24.0, gt=0, description="First-response target the digest counts hits against"
    )
    smtp_host: str | None = Field(default=None, description="Unset: digests are not emailed")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (587), tls (implicit, 465) or none"
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(default="Luister <luister@localhost>")
    smtp_ca_file: Path | None = Field(default=None, description="Extra CA bundle for SMTP TLS")
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    delivery_max_attempts: int = Field(default=6, ge=1, le=20)
    alert_baseline_hours: int = Field(default=168, ge=6, le=24 * 28)
    alert_min_count: int = Field(default=10, ge=1, description="Mentions in the hour to alert")
    alert_z_threshold: float = Field(default=3.0, gt=0)
    alert_min_ratio: float = Field(default=2.0, ge=1, description="Hour count ÷ baseline mean")
    alert_cooldown_hours: int = Field(default=6, ge=1, le=24 * 7)
    # Late data: the hourly check also looks at every hour that received mentions since its
    # last run, as far back as this (imports, backfills and downtime arrive after the fact).
    alert_catch_up_days: int = Field(default=60, ge=0, le=400)

    @field_validator("digest_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (try Europe/Amsterdam)") from exc
        return value

    @field_validator("sla_first_response_minutes", "priority_bands")
    @classmethod
    def _every_band(cls, value: dict[str, int], info: Any) -> dict[str, int]:
        wanted = {"urgent", "high", "medium"} | (
            {"low"} if info.field_name == "sla_first_response_minutes" else set()
        )
        if set(value) != wanted:
            raise ValueError(f"expected exactly the keys {', '.join(sorted(wanted))}")
        return value

    # Answering on the platforms (moderation/outbox, questions, appreciation).
    outbox_undo_seconds: int = Field(
        default=30, ge=0, le=3600, description="How long a sent reply can still be undone"
    )
    outbox_require_approval: bool = Field(
        default=False, description="A second staff member approves every reply before it goes"
    )
    outbox_max_attempts: int = Field(default=6, ge=1, le=20, description="Tries per reply")
    question_follow_days: int = Field(
        default=7, ge=1, le=90, description="How long the answers to a question are collected"
    )
    reply_follow_hours: int = Field(
        default=72, ge=1, le=24 * 30, description="How long threads of our replies are watched"
    )
    follow_interval_seconds: int = Field(
        default=300, ge=10, description="How often followed threads are read"
    )
    question_answer_priority: int = Field(
        default=70, ge=0, le=100, description="Priority an answer to our question gets at least"
    )

    # Retried requests (listener/rest/idempotency.py): a request carrying an `Idempotency-Key`
    # its user sent before, within this window, gets the first answer again; the work is not
    # done twice. Bulk actions, replies and questions take the header.
    idempotency_retention_hours: int = Field(
        default=24, ge=1, le=24 * 30, description="How long an Idempotency-Key is remembered"
    )

    # Deletions at the source (listener/sources/recheck.py): recent and open mentions are asked
    # about again; the gone ones are hidden and their words dropped (unless under a legal hold).
    recheck_enabled: bool = Field(
        default=True, description="Ask platforms whether recent and open mentions still exist"
    )
    recheck_window_days: int = Field(
        default=7, ge=1, le=90, description="Mentions this recent are re-checked (open ones always)"
    )
    recheck_interval_minutes: int = Field(
        default=60, ge=1, le=7 * 24 * 60, description="A mention is asked about at most this often"
    )
    recheck_per_source: int = Field(
        default=50, ge=1, le=500, description="Mentions asked about per source in one cycle"
    )
    recheck_per_cycle: int = Field(
        default=300, ge=1, le=10_000, description="Mentions asked about in one cycle in all"
    )

    # Personal data (moderation/privacy, docs/OPERATIONS.md): retention per data class, applied
    # hourly by `retention_job`; unset keeps the data. Counted rows stay, so digests stay right.
    retention_raw_days: int | None = Field(
        default=None, ge=1, description="Drop mentions' raw payload and HTML (and quarantine)"
    )
    retention_author_days: int | None = Field(
        default=None, ge=1, description="Pseudonymise a person this long after their last mention"
    )
    retention_audit_years: int | None = Field(
        default=None, ge=1, le=100, description="Cut audit entries older than this from the chain"
    )

    # Requests and sign-in (listener/rest/guards.py, listener/accounts/throttle.py): the body
    # size cap; failed logins back off exponentially per account and per address (state in the
    # database, so every API process sees it); login tokens expire when unused (each use extends
    # them) and at the latest after their maximum life.
    max_request_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body; a larger one is a 413"
    )
    login_free_attempts: int = Field(
        default=5, ge=1, le=1000, description="Failed logins per account before backoff starts"
    )
    login_free_attempts_per_address: int = Field(
        default=20, ge=1, le=10_000, description="Failed logins per address before backoff starts"
    )
    login_backoff_seconds: float = Field(
        default=1.0, gt=0, le=3600, description="First wait after the free attempts; doubles"
    )
    login_backoff_max_seconds: float = Field(
        default=900.0, gt=0, le=24 * 3600, description="Longest wait between failed logins"
    )
    login_forget_hours: float = Field(
        default=24.0, gt=0, le=24 * 30, description="Failed logins older than this are forgotten"
    )
    login_token_idle_hours: float = Field(
        default=24.0, gt=0, le=24 * 365, description="A login token unused this long expires"
    )
    login_token_max_days: float = Field(
        default=30.0, gt=0, le=3650, description="A login token expires this long after login"
    )

    # Rate limits (listener/rest/rate_limits.py): per token, or per client address without one;
    # a window starts with a caller's first request; counted in Redis when it is configured (so
    # every API process shares the count), in the process otherwise. Health and docs are exempt.
    rate_limit_enabled: bool = Field(default=True, description="Limit requests per caller")
    rate_limit_requests: int = Field(
        default=300, ge=1, le=10_000_000, description="Requests a caller may make per window"
    )
    rate_limit_window_seconds: int = Field(
        default=60, ge=1, le=24 * 3600, description="Length of a rate-limit window"
    )
    # Metrics (listener/metrics.py): the API serves `/metrics` to tokens with the `metrics` or
    # `admin` scope; an arq worker serves its own on a separate bind when this port is set.
    metrics_worker_port: int | None = Field(
        default=None, ge=1, le=65535, description="Port a `luister worker` serves /metrics on"
    )
    metrics_worker_host: str = Field(
        default="127.0.0.1", description="Address the worker's metrics port binds to"
    )

    # The event log and webhooks (listener/events.py, listener/webhooks): events are kept this
    # long; a subscription whose receiver keeps failing is retried with backoff (5 s, 30 s, 2 min,
    # 10 min, 1 h, ...) and disabled when its oldest undelivered event has failed this long.
    event_retention_days: int = Field(
        default=30, ge=1, le=3650, description="Events older than this are dropped from the log"
    )
    webhook_give_up_hours: float = Field(
        default=24.0, gt=0, le=24 * 30, description="Failing this long disables a webhook"
    )
    webhook_rotation_overlap_hours: float = Field(
        default=24.0, ge=0, le=24 * 30, description="The old secret also signs this long"
    )
    webhook_timeout_seconds: float = Field(
        default=15.0, gt=0, le=120, description="Time a receiver has to answer one delivery"
    )

    @field_validator("http_allow_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @field_validator("nlp_languages", mode="before")
    @classmethod
    def _language_codes(cls, value: Any) -> Any:
        codes = value.split(",") if isinstance(value, str) else value
        if not isinstance(codes, list):
            return value
        cleaned = [str(code).strip().lower() for code in codes if str(code).strip()]
        bad = [code for code in cleaned if len(code) != 2 or not code.isalpha()]
        if bad or not cleaned:
            raise ValueError(f"expected two-letter language codes such as en,nl; got {bad}")
        return cleaned

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env == "production":
            secret = self.secret_key.get_secret_value() if self.secret_key else ""
            if secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < 32:
                raise SettingsError(
                    "LUISTER_SECRET_KEY must be set to a random value of at least 32 characters "
                    "when LUISTER_ENV=production (try: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))')"
                )
        return self

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    def secret_bytes(self) -> bytes:
        """The key for HMACs; in dev mode generated once and kept in the data directory."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()

    def masked(self) -> dict[str, Any]:
        """The effective settings with secrets and passwords in URLs masked."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = mask_url(value.get_secret_value()) if name.endswith("_url") else "********"
            elif isinstance(value, str) and name.endswith("_url"):
                value = mask_url(value)
            elif isinstance(value, Path):
                value = str(value)
            shown[name] = value
        return shown


def mask_url(url: str) -> str:
    """Hide the password part of a URL such as postgresql://user:pw@host/db."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "********"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
