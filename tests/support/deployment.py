"""A gateway deployment for tests: its settings, its CLI, and its running server."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
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
from relaygate.store.migrate import upgrade_to_head
from tests.support.servers import UvicornThread

T = TypeVar("T")


class Deployment:
    def __init__(self, data_dir: Path, database_url: str = "", *, migrated: bool = False, **settings: Any):
        """`migrated`: on SQLite, start from a copy of a migrated empty database (see migrated_sqlite)."""
        if migrated and not database_url:
            migrated_sqlite(data_dir / "relaygate.db")
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


_sqlite_template: list[bytes] = []  # this test process's migrated empty SQLite database, made on first use


def migrated_sqlite(path: Path) -> None:
    """Put a migrated empty SQLite database at `path`, as a fresh `relaygate migrate` leaves it (a copy
    of one migrated per test process: running the 16 migrations takes 0.25 s of CPU each time)."""
    if not _sqlite_template:
        workdir = Path(tempfile.mkdtemp(prefix="relaygate-template-"))
        atexit.register(shutil.rmtree, workdir, True)
        template = workdir / "relaygate.db"

        async def migrate() -> None:
            engine = create_engine(f"sqlite+aiosqlite:///{template}")
            try:
                await upgrade_to_head(engine)
                async with engine.connect() as conn:  # everything into the main file, the one copied
                    await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                await engine.dispose()

        asyncio.run(migrate())
        _sqlite_template.append(template.read_bytes())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as copy:
        copy.write(_sqlite_template[0])
