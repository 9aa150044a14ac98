"""A throwaway MariaDB/MySQL database per test, on the server every dev and CI machine runs
(127.0.0.1:3306, root without a password): new-api and one-api usually run on it.

Tests that need it run whenever it is reachable; with CI=true an unreachable server fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pymysql
import pytest

HOST = os.environ.get("RELAYGATE_TEST_MARIADB_HOST", "127.0.0.1")
PORT = int(os.environ.get("RELAYGATE_TEST_MARIADB_PORT", "3306"))
USER = os.environ.get("RELAYGATE_TEST_MARIADB_USER", "root")


def require_mariadb() -> None:
    try:
        _admin("SELECT 1")
    except pymysql.MySQLError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"MariaDB at {HOST}:{PORT} is unreachable and CI=true: {exc}")
        pytest.skip(f"MariaDB at {HOST}:{PORT} is unreachable: {exc}")


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database; yields its URL (mysql://root@host:port/name) and drops it afterwards."""
    require_mariadb()
    name = f"relaygate_test_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"mysql://{USER}@{HOST}:{PORT}/{name}"
    finally:
        _admin(f"DROP DATABASE IF EXISTS `{name}`")


def _admin(statement: str) -> None:
    conn = pymysql.connect(host=HOST, port=PORT, user=USER, connect_timeout=3)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()
