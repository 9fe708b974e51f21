"""The one cursor codec: an opaque, URL-safe token around a small JSON value."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from listener.errors import LuisterError
from listener.kit.ints import is_db_int

# Real cursors are a few dozen characters; anything far longer was not handed out by us.
MAX_CURSOR_LENGTH = 1024


class BadCursor(LuisterError):
    """The cursor was not handed out by this list (or was made for another sort order)."""

    status = 400
    type_slug = "bad-cursor"
    title = "Bad request"

    def __init__(self, detail: str = "cursor: not a cursor this list handed out") -> None:
        super().__init__(detail)


def encode_cursor(payload: Any) -> str:
    """A cursor holding `payload` (anything JSON can carry)."""
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The payload inside a cursor `encode_cursor` made; `BadCursor` for anything else."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadCursor()
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise BadCursor() from exc


def decode_id_cursor(cursor: str | None) -> int | None:
    """The row id inside a cursor made by `encode_cursor(row_id)`; None when there is none."""
    if cursor is None:
        return None
    row_id = decode_cursor(cursor)
    if not is_db_int(row_id):
        raise BadCursor()
    return int(row_id)
