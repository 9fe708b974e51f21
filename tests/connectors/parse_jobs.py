"""Functions the parse-pool tests run in a worker process (importable there by name)."""

from __future__ import annotations

import hashlib
import os
import re
import threading

from connectors.http import InvalidPayload


def echo(value: object) -> tuple[int, object]:
    """The worker's pid and the value, back."""
    return os.getpid(), value


def refuse(message: str) -> None:
    """Raise the error a connector would."""
    raise InvalidPayload(message)


def raise_unpicklable() -> None:
    """Raise an exception that cannot travel back to the parent."""

    class Local(Exception):
        def __init__(self) -> None:
            super().__init__("carries a lock")
            self.lock = threading.Lock()

    raise Local


def spin_in_python() -> None:
    """Python code that never ends, and swallows every Exception on the way, as parsers do."""
    while True:
        try:
            sum(range(10_000))
        except Exception:  # the point: running out of budget is not an Exception
            continue


def backtrack() -> object:
    """Catastrophic backtracking: C code, but `re` checks for signals as it goes."""
    return re.match(r"(a+)+$", "a" * 64 + "b")


def spin_in_c() -> bytes:
    """C code that never hands control back to Python: minutes of key stretching."""
    return hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 2**31 - 1)
