"""Request parameters every domain reads the same way: row ids and the version a write saw."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query

from listener.kit import MAX_DB_INT
from listener.rest.problems import ApiProblem

# An id beyond the integer column can never exist: 422 here instead of an overflow in the driver.
IdPath = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
IdQuery = Annotated[int, Query(ge=1, le=MAX_DB_INT)]
OptionalIdQuery = Annotated[int | None, Query(ge=1, le=MAX_DB_INT)]

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,10})"?\s*$')


def expected_version(version: int | None, if_match: str | None) -> int:
    """The version a write saw: from the body, else from If-Match; one of them is required."""
    if version is not None:
        return version
    if if_match:
        match = _ETAG.match(if_match)
        if match and int(match.group(1)) <= MAX_DB_INT:
            return int(match.group(1))
        raise ApiProblem(400, "Bad request", 'If-Match: expected a version such as "3"')
    raise ApiProblem(
        428,
        "Precondition required",
        "send the version you saw as 'version' in the body or as If-Match",
        slug="version-required",
    )
