"""Run alembic migrations from code, whatever the working directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An alembic configuration for `database_url` that does not need alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Bring the schema up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "-1") -> None:
    """Take the schema down to `revision` (one step by default, `base` for everything)."""
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> None:
    """Print the revision the database is at."""
    command.current(alembic_config(database_url))
