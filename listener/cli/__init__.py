"""The `luister` command."""

from listener.cli.main import app

__all__ = ["app"]
