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
    A PostgreSQL database is migrated already (as the first start leaves it); see `deployment`. The Redis
    is in use already (see fresh_prefix): its gateway joins the ledger generation, without the warm-up."""
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
        settings["redis_prefix"] = stack.enter_context(fresh_prefix(in_use=True))  # no 2 s warm-up at start
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


# The longest files, longest first (seconds each took on three workers of a loaded run, before the
# last changes to them). `make test` hands whole files to its workers in this order, then the others in
# collection order: a long file handed out late kept one worker busy alone at the end of the run (with
# --no-loadscope-reorder: xdist would otherwise hand out the files with the most tests first, and a slow
# file of one or two tests last). Keep a file here once it takes over ~12 s.
SLOW_FIRST = (
    "tests/node/test_node_clients.py",  # 62
    "tests/relay/test_bounded_spend.py",  # 54
    "tests/scaleout/test_instances.py",  # 62 (serial server starts)
    "tests/hardening/test_api_fuzz.py",  # 48
    "tests/scaleout/test_workers.py",  # 49
    "tests/usage/test_rollups.py",  # 45
    "tests/relay/test_concurrency.py",  # 38
    "tests/importer/test_import.py",  # 26
    "tests/scaleout/test_crash.py",  # 39 (a 30 s silence)
    "tests/limits/test_across_processes.py",  # 42 (serial server starts)
    "tests/console/test_an_operators_day.py",  # 24
    "tests/usage/test_retention.py",  # 22
    "tests/billing/test_db_ledger.py",  # 22
    "tests/console/test_admin.py",  # 21
    "tests/billing/test_redis_ledger.py",  # 21
    "tests/billing/test_ledger.py",  # 21
    "tests/relay/test_midjourney.py",  # 20
    "tests/scaleout/test_channel_health.py",  # 19
    "tests/cli/test_serve.py",  # 18
    "tests/console/test_what_a_person_sees.py",  # 18
    "tests/relay/test_rate_limits.py",  # 18
    "tests/console/test_safety.py",  # 15
    "tests/relay/test_realtime.py",  # 15
    "tests/api/test_redemptions.py",  # 14
    "tests/relay/test_auth_failures.py",  # 14
    "tests/api/test_hostile_requests.py",  # 14
    "tests/console/test_account.py",  # 13
    "tests/importer/test_import_options.py",  # 12
    "tests/test_settings.py",  # 12
    "tests/edge/test_http_edge.py",  # 12
    "tests/tokens/test_resets.py",  # 12
    "tests/scaleout/test_redis_restart.py",  # 12
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(SLOW_FIRST)}
    # a stable sort: the other files keep their order
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(SLOW_FIRST)))
