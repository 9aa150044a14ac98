"""A gateway deployment for tests: its settings, its CLI, and its running server."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.app import create_app
from relaygate.billing.books import check_books
from relaygate.cli.main import cli
from relaygate.settings import Settings, load_settings
from relaygate.store.database import create_engine
from tests.support.servers import UvicornThread

T = TypeVar("T")


class Deployment:
    def __init__(self, data_dir: Path, database_url: str = "", **settings: Any):
        self.env = {
            "RELAYGATE_DATA_DIR": str(data_dir),
            "RELAYGATE_DATABASE_URL": database_url,
            "RELAYGATE_SECRET_KEY": "test-secret-key-not-real",
            "RELAYGATE_ROOT_PASSWORD": "root-password-for-tests",
            "RELAYGATE_FLUSH_INTERVAL": "0.2",
            "RELAYGATE_CHANGE_POLL_INTERVAL": "0.1",
            # The suite runs on three workers on two cores: a loaded database may keep a request waiting
            # for a connection longer than the 3 s a production pool allows (saturation has its own test).
            "RELAYGATE_DB_POOL_TIMEOUT": "30",
            **{f"RELAYGATE_{name.upper()}": str(value) for name, value in settings.items()},
        }
        self.server: UvicornThread | None = None
        self.url = ""

    @property
    def settings(self) -> Settings:
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            return load_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def cli(self, *args: str) -> Any:
        """Run `relaygate ARGS --json` in-process; returns the parsed JSON output."""
        result = CliRunner().invoke(cli, [*args, "--json"], env=self.env, catch_exceptions=False)
        if result.exit_code != 0:
            raise AssertionError(f"relaygate {' '.join(args)} failed ({result.exit_code}): {result.output}")
        return orjson.loads(result.stdout)

    def cli_fails(self, *args: str) -> str:
        """Run a CLI command that must fail; returns its output."""
        result = CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)
        assert result.exit_code != 0, result.output
        return result.output

    def start(self) -> str:
        self.server = UvicornThread(create_app(self.settings))
        self.url = self.server.start()
        return self.url

    def stop(self) -> None:
        if self.server:
            self.server.stop()
            self.server = None

    @property
    def runtime(self) -> Any:
        assert self.server is not None
        return self.server.config.app.rt

    def db(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` on the deployment's database, outside the server."""

        async def main() -> T:
            engine = create_engine(self.settings.sqlalchemy_url)
            try:
                async with engine.begin() as conn:
                    return await work(conn)
            finally:
                await engine.dispose()

        return asyncio.run(main())

    def flush(self) -> None:
        """Write the running server's pending usage records now."""
        assert self.server is not None
        self._wait_for_requests_to_settle()
        self.server.call(self.runtime.ledger.flush())

    def _wait_for_requests_to_settle(self) -> None:
        # A client may have its last byte before the gateway settles the request: wait for open holds.
        ledger = self.runtime.ledger
        deadline = time.monotonic() + 10
        while ledger.open_holds():
            assert time.monotonic() < deadline, "requests still held after 10 s"
            time.sleep(0.01)

    def runtime_poll(self) -> None:
        """Deliver the change feed to the running server now, instead of waiting for its next poll."""
        assert self.server is not None
        self.server.call(self.runtime.poller.poll_once())

    def books(self) -> dict[str, Any]:
        return self.db(check_books)

    def user(self, name: str) -> dict[str, Any]:
        users = {user["name"]: user for user in self.cli("user", "list")}
        return users[name]

    def token(self, token_id: int) -> dict[str, Any]:
        tokens = {token["id"]: token for token in self.cli("token", "list")}
        return tokens[token_id]
