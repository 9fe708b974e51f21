"""The `luister` command.

`app` starts the right command group: `luister nlp tag` and `luister nlp evaluate` need no
database, so they start without importing the rest of the command line (and with it the
database side and every job's module), which would take longer than tagging a few thousand
texts. Every other command goes to the full `api.cli.main.app`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

TEXT_COMMANDS = frozenset({"tag", "evaluate"})


def app(args: Sequence[str] | None = None, prog_name: str = "luister", **extra: Any) -> Any:
    """Run `luister` with `args` (default: the process's arguments)."""
    argv = list(sys.argv[1:] if args is None else args)
    if len(argv) >= 2 and argv[0] == "nlp" and argv[1] in TEXT_COMMANDS:
        from api.cli.nlp_text import app as text_app

        return text_app(args=argv[1:], prog_name=f"{prog_name} nlp", **extra)
    from api.cli.main import app as main_app

    return main_app(args=argv, prog_name=prog_name, **extra)


__all__ = ["app"]
