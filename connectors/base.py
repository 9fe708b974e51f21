"""What a connector is: source settings + cursor in, normalized mentions + next cursor out.

Connectors know nothing of the database. The listener stores what they return and keeps the
cursor; the moderation side uses the write actions a connector declares.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypedDict, TypeVar, runtime_checkable

import httpx
from pydantic import BaseModel

from connectors.items import MentionIn


class WriteAction(enum.StrEnum):
    """Things staff can do on a platform through its API."""

    REPLY = "reply"
    POST = "post"
    LIKE = "like"
    BOOST = "boost"


@dataclass(frozen=True)
class RejectedItem:
    """A platform item that could not be normalized; it goes to quarantine, the page goes on."""

    raw: Any
    reason: str
    external_id: str | None = None


# A connector's cursor: a TypedDict of JSON values, declared next to the connector. Stored
# cursors are read back as plain dicts, so connectors read every key defensively.
CursorT = TypeVar("CursorT", bound=Mapping[str, object])


class NoCursor(TypedDict):
    """The cursor of a one-off fetch (a thread under a post): nothing to remember."""


@dataclass(frozen=True)
class FetchResult(Generic[CursorT]):
    """One poll's outcome."""

    items: list[MentionIn]
    cursor: CursorT
    rejected: list[RejectedItem] = field(default_factory=list)
    not_modified: bool = False


class Connector(Protocol[CursorT]):
    """A platform adapter. Implementations are stateless; state lives in the cursor."""

    kind: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    write_actions: ClassVar[frozenset[WriteAction]]

    async def fetch(
        self, *, client: httpx.AsyncClient, config: BaseModel, cursor: CursorT
    ) -> FetchResult[CursorT]:
        """Fetch what is new since `cursor` and return it with the next cursor."""
        ...


# -- re-checking: is a stored item still there at the source? ----------------------------------


@dataclass(frozen=True)
class ItemRef:
    """A stored item as the database knows it: enough to ask the platform about it again."""

    external_id: str
    url: str | None = None
    #: The platform payload as last stored (local ids live there: a Mastodon status id, a
    #: Discourse post id, a Lemmy comment id).
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecheckResult:
    """Which items are gone at the source and which are still there.

    An item in neither list could not be checked this time (rate limit, outage, an id the
    platform cannot be asked about); `error` says why, and the caller asks again later.
    """

    gone: list[str] = field(default_factory=list)
    alive: list[str] = field(default_factory=list)
    error: str | None = None


@runtime_checkable
class Rechecker(Protocol):
    """A connector that can tell whether items it delivered were deleted or removed since.

    Optional: connectors without it are simply not re-checked. Implementations ask in bounded
    batches, stop when the platform's rate-limit budget runs out, and report only what the
    platform said for certain ("gone" means deleted, removed or no longer public).
    """

    kind: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]

    async def recheck(
        self, *, client: httpx.AsyncClient, config: BaseModel, refs: Sequence[ItemRef]
    ) -> RecheckResult:
        """Ask the platform about `refs`; say which are gone and which are alive."""
        ...


def rechecker_for(connector: object) -> Rechecker | None:
    """The connector as a `Rechecker`, or None when it cannot re-check items."""
    return connector if isinstance(connector, Rechecker) else None
