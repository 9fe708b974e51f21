"""Small helpers every layer above the connectors shares: one clock, one cursor codec, one way
to put validation errors into words, and the bounds of a database integer."""

from __future__ import annotations

from connectors._normalize import describe_validation_error, utcnow
from listener.kit.cursors import BadCursor, decode_cursor, decode_id_cursor, encode_cursor
from listener.kit.ints import MAX_DB_INT, is_db_int

__all__ = [
    "MAX_DB_INT",
    "BadCursor",
    "decode_cursor",
    "decode_id_cursor",
    "describe_validation_error",
    "encode_cursor",
    "is_db_int",
    "utcnow",
]
