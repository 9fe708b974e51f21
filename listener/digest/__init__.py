"""The weekly listening digest: build it with SQL aggregates, render it, email it on schedule."""

from listener.digest.builder import build_digest
from listener.digest.periods import Period, PeriodError, parse_period
from listener.digest.query import MentionFilter
from listener.digest.render import FORMATS, render

__all__ = [
    "FORMATS",
    "MentionFilter",
    "Period",
    "PeriodError",
    "build_digest",
    "parse_period",
    "render",
]
