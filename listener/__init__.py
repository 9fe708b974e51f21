"""Luister's listening core: settings, database, models, ingest and the CLI."""

__version__ = "0.1.0"
