"""`relaygate access-key ...`: management keys (ak-...) for scripts, made on the server host."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.accounts import access_keys as service
from relaygate.cli.context import audit, emit, iso_time, json_option, run
from relaygate.users.service import find_user_id, get_user

COLUMNS = ("id", "user", "name", "hint", "created_at", "last_used_at")


@click.group("access-key")
def access_key_group() -> None:
    """Access keys for the management API (Authorization: Bearer ak-...)."""


@access_key_group.command("create")
@click.option("--user", "user_name", default="root", show_default=True, help="Whose key (usually root or an admin).")
@click.option("--name", default="", help="A label such as ci or backup-script.")
@json_option
def create(user_name: str, name: str, as_json: bool) -> None:
    """Create a key; it is printed once and cannot be shown again."""

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        user_id = await find_user_id(conn, user_name)
        created = await service.create_access_key(conn, user_id, name)
        await audit(conn, "access_key.create", f"access_key:{created['id']}", name=name, user=user_name)
        return {**created, "user": user_name}

    created = run(work)
    if as_json:
        emit([_shown(created)], True, ())
        return
    click.echo(f"access key {created['id']} for {user_name}: {created['key']}")
    click.echo("Copy the key now: it is shown only once.")


@access_key_group.command("list")
@click.option("--user", "user_name", help="Only this user's keys.")
@json_option
def list_(user_name: str | None, as_json: bool) -> None:
    """Access keys by their hints (the keys themselves are never shown again)."""

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        user_id = await find_user_id(conn, user_name) if user_name else None
        keys = await service.list_access_keys(conn, user_id)
        names = {key["user_id"]: (await get_user(conn, key["user_id"]))["name"] for key in keys}
        return [{**key, "user": names[key["user_id"]]} for key in keys]

    emit([_shown(key) for key in run(work)], as_json, COLUMNS)


@access_key_group.command("revoke")
@click.argument("key_id", type=int)
@json_option
def revoke(key_id: int, as_json: bool) -> None:
    """Delete a key; it stops working at once."""

    async def work(conn: AsyncConnection) -> None:
        await service.revoke_access_key(conn, key_id)
        await audit(conn, "access_key.revoke", f"access_key:{key_id}")

    run(work)
    emit([{"id": key_id, "status": "revoked"}], as_json, ("id", "status"))


def _shown(key: dict[str, Any]) -> dict[str, Any]:
    return key | {"created_at": iso_time(key["created_at"]), "last_used_at": iso_time(key["last_used_at"])}
