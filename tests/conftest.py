from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from relaygate.fakeupstream import create_fake_upstream_app
from tests.support.deployment import Deployment
from tests.support.postgres import fresh_database
from tests.support.redis import SERVER as REDIS_SERVER
from tests.support.redis import fresh_prefix
from tests.support.servers import AiohttpThread


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[str]:
    """The project's fake provider on a real socket, shared by every test."""
    server = AiohttpThread(create_fake_upstream_app())
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage backend in turn: SQLite in tmp_path, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield ""
        return
    with fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres", "postgres+redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Each deployment form in turn, as settings: SQLite alone, PostgreSQL alone, PostgreSQL with Redis."""
    with ExitStack() as stack:
        settings = {}
        if request.param != "sqlite":
            settings["database_url"] = stack.enter_context(fresh_database())
        if request.param.endswith("+redis"):
            settings["redis_url"] = REDIS_SERVER
            settings["redis_prefix"] = stack.enter_context(fresh_prefix())
        yield settings


@pytest.fixture
def sqlite_deployment(tmp_path: Path) -> Deployment:
    return Deployment(tmp_path / "data")


@pytest.fixture
def deployment(tmp_path: Path, backend: dict[str, str]) -> Deployment:
    return Deployment(tmp_path / "data", **backend)


@pytest.fixture
def gateway(sqlite_deployment: Deployment, fake_upstream: str) -> Iterator[Deployment]:
    """A running gateway on SQLite with one channel to the fake upstream and priced models."""
    yield from _running(sqlite_deployment, fake_upstream)


@pytest.fixture
def gateway_on_each_backend(deployment: Deployment, fake_upstream: str) -> Iterator[Deployment]:
    yield from _running(deployment, fake_upstream)


def _running(deployment: Deployment, fake_upstream: str) -> Iterator[Deployment]:
    deployment.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake",
        "--models", "gpt-4o-mini,gpt-4o,text-embedding-3-small,unpriced-model",
    )  # fmt: skip
    deployment.cli("price", "set", "gpt-4o-mini", "--input", "0.15", "--output", "0.6", "--cached-input", "0.075")
    deployment.cli("price", "set", "gpt-4o", "--input", "2.5", "--output", "10")
    deployment.cli("price", "set", "text-embedding-3-small", "--input", "0.02")
    deployment.start()
    yield deployment
    deployment.stop()


# Files that start several gateway processes or wait out a timer, slowest first. `make test` hands
# whole files to its workers in collection order, so a slow file collected last (tests/scaleout sorts
# late) kept one worker busy alone at the end of the run: they are handed out first instead.
SLOW_FIRST = (
    "tests/scaleout/test_instances.py",
    "tests/hardening/test_api_fuzz.py",
    "tests/scaleout/test_crash.py",
    "tests/usage/test_rollups.py",
    "tests/scaleout/test_redis_restart.py",
    "tests/limits/test_across_processes.py",
    "tests/test_settings.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(SLOW_FIRST)}
    # a stable sort: the other files keep their order
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(SLOW_FIRST)))
