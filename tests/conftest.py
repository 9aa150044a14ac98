from __future__ import annotations

import functools
import ssl
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx._transports.default
import pytest
from argon2 import PasswordHasher

from relaygate.fakeupstream import create_fake_upstream_app
from relaygate.users import passwords
from tests.support.deployment import Deployment
from tests.support.postgres import fresh_database, migrated_database
from tests.support.redis import SERVER as REDIS_SERVER
from tests.support.redis import fresh_prefix
from tests.support.servers import AiohttpThread

# What the suite hashes passwords with in its own process. argon2id at the production cost takes 0.28 s of
# CPU per hash here and the suite makes thousands (every deployment's root, every user, every login): the
# smallest cost keeps every rule of hashing, verifying and rehashing. Gateways started as processes keep
# the production cost, which tests/accounts/test_password_cost.py checks.
SUITE_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
_create_ssl_context = httpx._transports.default.create_ssl_context


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    return _create_ssl_context()


def _shared_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
    """Every httpx client (the SDKs' too) loads the CA bundle anew, 50 ms of CPU, and the suite makes
    thousands of clients that speak plain HTTP to 127.0.0.1: the default context is made once."""
    if verify is True and cert is None and trust_env:
        return _default_ssl_context()
    return _create_ssl_context(verify, cert, trust_env)


@pytest.fixture(scope="session", autouse=True)
def _suite_costs() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", SUITE_HASHER)
        patch.setattr(httpx._transports.default, "create_ssl_context", _shared_ssl_context)
        yield


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


DEPLOYMENT_FORMS = ["sqlite", "postgres", "postgres+redis"]


@pytest.fixture(params=DEPLOYMENT_FORMS)
def backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Each deployment form in turn, as settings: SQLite alone, PostgreSQL alone, PostgreSQL with Redis.
    A PostgreSQL database is migrated already (as the first start leaves it); see `deployment`."""
    with ExitStack() as stack:
        yield _form_settings(stack, request.param, migrated_database)


@pytest.fixture(params=DEPLOYMENT_FORMS)
def unmigrated_backend(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """`backend` with empty databases, for the tests of migrations."""
    with ExitStack() as stack:
        yield _form_settings(stack, request.param, fresh_database)


def _form_settings(stack: ExitStack, form: str, database: Callable[[], ContextManager[str]]) -> dict[str, str]:
    settings = {}
    if form != "sqlite":
        settings["database_url"] = stack.enter_context(database())
    if form.endswith("+redis"):
        settings["redis_url"] = REDIS_SERVER
        settings["redis_prefix"] = stack.enter_context(fresh_prefix())
    return settings


@pytest.fixture
def sqlite_deployment(tmp_path: Path) -> Deployment:
    return Deployment(tmp_path / "data", migrated=True)


@pytest.fixture
def deployment(tmp_path: Path, backend: dict[str, str]) -> Deployment:
    """A deployment on each form, its database migrated (copied from a migrated template)."""
    return Deployment(tmp_path / "data", migrated=True, **backend)


@pytest.fixture
def unmigrated_deployment(tmp_path: Path, unmigrated_backend: dict[str, str]) -> Deployment:
    return Deployment(tmp_path / "data", **unmigrated_backend)


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
    "tests/scaleout/test_workers.py",
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
