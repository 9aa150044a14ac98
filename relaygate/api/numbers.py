"""Path and query values as API types, so the OpenAPI document states their limits: integers the
database can store (a larger one is a 422 naming its field, never an overflow in a driver), and
names in paths that a URL can carry unchanged."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

INT64_MAX = 2**63 - 1  # ids, balances, quota amounts (BIGINT)
INT32_MAX = 2**31 - 1  # rate limits, priorities and weights (INTEGER)
MAX_PAGE = INT64_MAX // 1000  # so that the row offset of any page still fits

IdPath = Annotated[int, Path(ge=1, le=INT64_MAX, description="the object's id")]
IdQuery = Annotated[int | None, Query(ge=1, le=INT64_MAX)]

# A "." or ".." path segment is resolved away by clients before the request is sent: such a name
# could never be addressed, so it is refused rather than served at another path.
_SEGMENT = r"(?:[^/.][^/]*|\.[^/.][^/]*|\.\.[^/]+)"  # any path segment but "." and ".."
ModelName = Annotated[
    str, Path(pattern=rf"^{_SEGMENT}(?:/{_SEGMENT})*$", max_length=128, description="a model name; may contain /")
]
PathName = Annotated[str, Path(pattern=rf"^{_SEGMENT}$", max_length=64)]
