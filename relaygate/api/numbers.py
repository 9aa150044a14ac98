"""The integer ranges the database can store, as API types: a larger number is a 422 naming its
field (in the OpenAPI document too), never an overflow deep in a database driver."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

INT64_MAX = 2**63 - 1  # ids, balances, quota amounts (BIGINT)
INT32_MAX = 2**31 - 1  # rate limits, priorities and weights (INTEGER)
MAX_PAGE = INT64_MAX // 1000  # so that the row offset of any page still fits

IdPath = Annotated[int, Path(ge=1, le=INT64_MAX, description="the object's id")]
IdQuery = Annotated[int | None, Query(ge=1, le=INT64_MAX)]
