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
    poll_tick_seconds: float = Field(default=5.0, gt=0, description="In-process runner cadence")
    poll_concurrency: int = Field(default=4, ge=1, le=64)
    job_timeout_seconds: int = Field(default=120, ge=5)
    max_consecutive_failures: int = Field(
        default=8, ge=1, description="A source pauses itself after this many failed polls"
    )

    @field_validator("http_allow_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

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
