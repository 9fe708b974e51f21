"""What a connector is: source settings + cursor in, normalized mentions + next cursor out.

Connectors know nothing of the database. The listener stores what they return and keeps the
cursor; the moderation side uses the write actions a connector declares.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypedDict, TypeVar

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
