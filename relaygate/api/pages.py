"""Pagination shared by every list: `?page=&per_page=` in, `{items, total, page, per_page}` out."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from relaygate.api.numbers import MAX_PAGE

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


class Paging:
    def __init__(
        self,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1 for the first page")] = 1,
        per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    ):
        self.page = page
        self.per_page = per_page


PagingDep = Annotated[Paging, Depends()]
