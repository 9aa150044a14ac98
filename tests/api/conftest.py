from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest

from relaygate.store.database import create_engine
from relaygate.store.migrate import upgrade_to_head
from relaygate.users.service import ensure_root
from tests.support.deployment import Deployment

ROOT_PASSWORD = "root-password-for-tests"
PASSWORD = "password-123"


def session_client(gw: Deployment, username: str, password: str) -> httpx.Client:
    """A client logged in through the console's flow: the cookie, and the CSRF token on every call."""
    client = httpx.Client(base_url=gw.url, timeout=30)
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def key_client(gw: Deployment, key: str) -> httpx.Client:
    return httpx.Client(base_url=gw.url, timeout=30, headers={"Authorization": f"Bearer {key}"})


def with_root(gw: Deployment) -> Deployment:
    """The root account as `relaygate serve` creates it on first start (tests start the app directly)."""

    async def migrate_and_create_root() -> None:
        engine = create_engine(gw.settings.sqlalchemy_url)
        try:
            await upgrade_to_head(engine)
            async with engine.begin() as conn:
                await ensure_root(conn, ROOT_PASSWORD)
        finally:
            await engine.dispose()

    asyncio.run(migrate_and_create_root())
    return gw


@pytest.fixture
def gateway(gateway: Deployment) -> Deployment:
    return with_root(gateway)


@pytest.fixture
def clients() -> Iterator[list[httpx.Client]]:
    opened: list[httpx.Client] = []
    yield opened
    for client in opened:
        client.close()


@pytest.fixture
def root(gateway: Deployment, clients: list[httpx.Client]) -> httpx.Client:
    client = session_client(gateway, "root", ROOT_PASSWORD)
    clients.append(client)
    return client


@pytest.fixture
def login_as(gateway: Deployment, clients: list[httpx.Client]) -> Callable[..., httpx.Client]:
    """Create a user with the CLI (role, balance) and return a logged-in client for it."""

    def make(name: str, role: str = "user", balance_usd: str = "10") -> httpx.Client:
        gateway.cli("user", "create", name, "--password", PASSWORD, "--role", role, "--balance-usd", balance_usd)
        client = session_client(gateway, name, PASSWORD)
        clients.append(client)
        return client

    return make


def error_of(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return response.status_code, body["error"]["code"]
