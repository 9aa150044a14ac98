"""`relaygate user ...`"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.money import usd_to_units
from relaygate.cli.context import emit, json_option, run
from relaygate.users import service
from relaygate.users.passwords import generate_password

COLUMNS = ("id", "name", "role", "group", "status", "balance", "used_quota")


@click.group("user")
def user_group() -> None:
    """Accounts: create, top up, disable, list."""


@user_group.command("create")
@click.argument("name")
@click.option("--password", help="Password (at least 8 characters); generated and printed when omitted.")
@click.option("--role", type=click.Choice(["user", "admin"]), default="user", show_default=True)
@click.option("--group", default="default", show_default=True, help="Pricing group.")
@click.option("--balance-usd", default="0", help="Opening balance in USD.")
@json_option
def create(name: str, password: str | None, role: str, group: str, balance_usd: str, as_json: bool) -> None:
    generated = None if password else generate_password()
    try:
        balance = usd_to_units(balance_usd, field="--balance-usd")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    spec = service.NewUser(name=name, password=password or str(generated), role=role, group=group, balance=balance)
    user = run(lambda conn: service.create_user(conn, spec))
    if generated and not as_json:
        click.echo(f"generated password for {name}: {generated}  (shown once)")
    emit([user | ({"password": generated} if generated and as_json else {})], as_json, COLUMNS)


@user_group.command("topup")
@click.argument("name")
@click.option("--usd", required=True, help="Amount in USD to add (negative to take away).")
@click.option("--reason", default="top-up from the CLI", show_default=True)
@json_option
def topup(name: str, usd: str, reason: str, as_json: bool) -> None:
    try:
        amount = usd_to_units(usd, field="--usd")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        user_id = await service.find_user_id(conn, name)
        await service.credit(conn, user_id, amount, kind="topup" if amount >= 0 else "adjustment", reason=reason)
        return await service.get_user(conn, user_id)

    emit([run(work)], as_json, COLUMNS)


@user_group.command("disable")
@click.argument("name")
@json_option
def disable(name: str, as_json: bool) -> None:
    """Refuse every request of this user's tokens (403 account_disabled)."""
    emit([run(lambda conn: _set_status(conn, name, "disabled"))], as_json, COLUMNS)


@user_group.command("enable")
@click.argument("name")
@json_option
def enable(name: str, as_json: bool) -> None:
    emit([run(lambda conn: _set_status(conn, name, "enabled"))], as_json, COLUMNS)


async def _set_status(conn: AsyncConnection, name: str, status: str) -> dict[str, Any]:
    user_id = await service.find_user_id(conn, name)
    await service.set_user_status(conn, user_id, status)
    return await service.get_user(conn, user_id)


@user_group.command("list")
@json_option
def list_(as_json: bool) -> None:
    emit(run(service.list_users), as_json, COLUMNS)
