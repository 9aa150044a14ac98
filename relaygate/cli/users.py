"""`relaygate user ...`"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.accounts.password_reset import reset_password
from relaygate.billing.money import usd_to_units
from relaygate.cli.context import emit, json_option, run
from relaygate.users import service
from relaygate.users.passwords import generate_password

COLUMNS = ("id", "name", "role", "group", "status", "balance", "used_quota")
LIMIT_COLUMNS = ("id", "name", "rpm", "tpm", "max_concurrent")
LIMIT_OPTIONS = (
    ("rpm", "Requests per minute"),
    ("tpm", "Tokens per minute"),
    ("max_concurrent", "Concurrent requests"),
)
F = TypeVar("F", bound=Callable[..., Any])


def limit_options(command: F) -> F:
    """--rpm, --tpm and --max-concurrent: limits over all of the user's tokens together."""
    for name, what in reversed(LIMIT_OPTIONS):
        option = "--" + name.replace("_", "-")
        command = click.option(option, metavar="N|none", help=f"{what}, over all the user's tokens.")(command)
    return command


def parse_limits(given: dict[str, str | None]) -> dict[str, int | None]:
    """The limit options that were given: a whole number of at least 1, or None for `none` (no limit)."""
    limits: dict[str, int | None] = {}
    for name, value in given.items():
        if value is None:
            continue
        option = "--" + name.replace("_", "-")
        if value.lower() == "none":
            limits[name] = None
            continue
        try:
            number = int(value)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a whole number or 'none'", param_hint=option) from None
        if number < 1:
            raise click.BadParameter("a limit must be at least 1 ('none' removes it)", param_hint=option)
        limits[name] = number
    return limits


@click.group("user")
def user_group() -> None:
    """Accounts: create, top up, disable, set a password, list."""


@user_group.command("create")
@click.argument("name")
@click.option("--password", help="Password (at least 8 characters); generated and printed when omitted.")
@click.option("--role", type=click.Choice(["user", "admin"]), default="user", show_default=True)
@click.option("--group", default="default", show_default=True, help="Pricing group.")
@click.option("--balance-usd", default="0", help="Opening balance in USD.")
@limit_options
@json_option
def create(
    name: str,
    password: str | None,
    role: str,
    group: str,
    balance_usd: str,
    rpm: str | None,
    tpm: str | None,
    max_concurrent: str | None,
    as_json: bool,
) -> None:
    generated = None if password else generate_password()
    try:
        balance = usd_to_units(balance_usd, field="--balance-usd")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    spec = service.NewUser(
        name=name,
        password=password or str(generated),
        role=role,
        group=group,
        balance=balance,
        **parse_limits({"rpm": rpm, "tpm": tpm, "max_concurrent": max_concurrent}),
    )
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


@user_group.command("limits")
@click.argument("name")
@limit_options
@json_option
def limits(name: str, rpm: str | None, tpm: str | None, max_concurrent: str | None, as_json: bool) -> None:
    """Set the user's rate limits over all their tokens (`none` removes one); running servers follow within 1 s."""
    changes = parse_limits({"rpm": rpm, "tpm": tpm, "max_concurrent": max_concurrent})

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        return await service.update_user(conn, await service.find_user_id(conn, name), changes)

    emit([run(work)], as_json, LIMIT_COLUMNS)


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


@user_group.command("passwd")
@click.argument("name")
@click.option("--password", help="The new password (at least 8 characters); generated and printed when omitted.")
@json_option
def passwd(name: str, password: str | None, as_json: bool) -> None:
    """Set a user's password (root's included) and end that user's sessions."""
    generated = None if password else generate_password()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        user_id = await service.find_user_id(conn, name)
        await reset_password(conn, user_id, password or str(generated))
        return await service.get_user(conn, user_id)

    user = run(work)
    if generated and not as_json:
        click.echo(f"new password for {name}: {generated}  (shown once)")
    emit([user | ({"password": generated} if generated and as_json else {})], as_json, COLUMNS)


@user_group.command("list")
@json_option
def list_(as_json: bool) -> None:
    emit(run(service.list_users), as_json, COLUMNS)
