"""What the re-checking connectors share: a tally of verdicts that stops politely."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from enum import Enum
from typing import TypeVar

from connectors._normalize import isoformat, rate_limit_pause, utcnow
from connectors.base import RecheckResult

T = TypeVar("T")

# How many items one re-check call asks about at most; the caller's own limit is usually lower.
MAX_REFS = 500


class Verdict(Enum):
    """What the platform said about one item."""

    GONE = "gone"
    ALIVE = "alive"


class Tally:
    """Collects verdicts; after `stop` the remaining items stay unchecked (asked again later)."""

    def __init__(self) -> None:
        self.gone: list[str] = []
        self.alive: list[str] = []
        self.error: str | None = None

    def record(self, external_id: str, verdict: Verdict | None) -> None:
        """Note one item's verdict (None: the platform did not say for certain)."""
        if verdict is Verdict.GONE:
            self.gone.append(external_id)
        elif verdict is Verdict.ALIVE:
            self.alive.append(external_id)

    def stop(self, reason: str) -> None:
        """Leave the rest unchecked, for `reason`."""
        self.error = reason

    def spent(self, headers: Mapping[str, str], platform: str) -> bool:
        """True (and stopped) when the rate-limit headers say the budget is used up."""
        until = rate_limit_pause(headers, now=utcnow())
        if until is None:
            return False
        self.stop(f"{platform} rate limit reached; the rest waits until {isoformat(until)}")
        return True

    def result(self) -> RecheckResult:
        """The verdicts as a `RecheckResult`."""
        return RecheckResult(gone=self.gone, alive=self.alive, error=self.error)


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` (at most `MAX_REFS` of them) in slices of `size`."""
    capped = items[:MAX_REFS]
    for start in range(0, len(capped), size):
        yield capped[start : start + size]
