from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import mariadb, postgres
from tests.support.legacy_gateways import Source, build_source

SOURCES = [
    "new-api/sqlite",
    "new-api/postgres",
    "new-api/mariadb",
    "one-api/sqlite",
    "one-api/postgres",
    "one-api/mariadb",
]


@pytest.fixture(params=SOURCES)
def source(request: pytest.FixtureRequest, tmp_path: Path, fake_upstream: str) -> Iterator[Source]:
    """A new-api or one-api database on each engine they run on, filled with a small live install."""
    kind, engine = request.param.split("/")
    yield from _source(kind, engine, tmp_path, fake_upstream)


@pytest.fixture(params=["new-api", "one-api"])
def sqlite_source(request: pytest.FixtureRequest, tmp_path: Path, fake_upstream: str) -> Iterator[Source]:
    yield from _source(request.param, "sqlite", tmp_path, fake_upstream)


def _source(kind: str, engine: str, tmp_path: Path, upstream: str) -> Iterator[Source]:
    if engine == "sqlite":
        yield build_source(kind, f"sqlite:///{tmp_path / (kind + '.db')}", upstream)
    elif engine == "postgres":
        with postgres.fresh_database() as url:
            yield build_source(kind, url, upstream)
    else:
        with mariadb.fresh_database() as url:
            yield build_source(kind, url, upstream)
