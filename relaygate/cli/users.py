"""`relaygate user ...`"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.accounts.password_reset import reset_password
from relaygate.billing.money import usd_to_units
from relaygate.cli.context import audit, emit, json_option, run, with_usd
from relaygate.errors import ConflictError
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
    """Accounts: create, top up, set limits, enable, disable, set a password, delete, list."""


def emit_users(users: list[dict[str, Any]], as_json: bool, columns: tuple[str, ...] = COLUMNS) -> None:
    """Users with the API's fields in JSON; in the table, balance and used quota with their USD beside them."""
    if not as_json:
        users = [
            user | {name: with_usd(user[name]) for name in ("balance", "used_quota") if name in user} for user in users
        ]
    emit(users, as_json, columns)


@user_group.command("create")
@click.argument("name")
@click.option("--password", help="Password (at least 8 characters); generated and printed when omitted.")
@click.option(
    "--role",
    type=click.Choice(["user", "admin"]),
    default="user",
    show_default=True,
    help="An admin manages users, channels and prices.",
)
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
    """Create an account (a user, or an admin of the management API and console)."""
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

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        user = await service.create_user(conn, spec)
        limits = {name: getattr(spec, name) for name in service.LIMITS}
        await audit(conn, "user.create", f"user:{user['id']}", name=name, role=role, balance=balance, **limits)
        return user

    user = run(work)
    if generated and not as_json:
        click.echo(f"generated password for {name}: {generated}  (shown once)")
    emit_users([user | ({"password": generated} if generated and as_json else {})], as_json)


@user_group.command("topup")
@click.argument("name")
@click.option("--usd", required=True, help="Amount in USD to add (negative to take away).")
@click.option("--reason", default="top-up from the CLI", show_default=True, help="Noted in the ledger.")
@json_option
def topup(name: str, usd: str, reason: str, as_json: bool) -> None:
    """Add to (or, negative, take from) a user's balance; the new balance is printed."""
    try:
        amount = usd_to_units(usd, field="--usd")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        user_id = await service.find_user_id(conn, name)
        await service.credit(conn, user_id, amount, kind="topup" if amount >= 0 else "adjustment", reason=reason)
        await audit(conn, "user.topup", f"user:{user_id}", quota=amount, reason=reason)
        return await service.get_user(conn, user_id)

    emit_users([run(work)], as_json)


@user_group.command("limits")
@click.argument("name")
@limit_options
@json_option
def limits(name: str, rpm: str | None, tpm: str | None, max_concurrent: str | None, as_json: bool) -> None:
    """Set the user's rate limits over all their tokens (`none` removes one); running servers follow within 1 s."""
    changes = parse_limits({"rpm": rpm, "tpm": tpm, "max_concurrent": max_concurrent})

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        user_id = await service.find_user_id(conn, name)
        user = await service.update_user(conn, user_id, changes)
        await audit(conn, "user.update", f"user:{user_id}", **changes)
        return user

    emit([run(work)], as_json, LIMIT_COLUMNS)


@user_group.command("disable")
@click.argument("name")
@json_option
def disable(name: str, as_json: bool) -> None:
    """Refuse every request of this user's tokens (403 account_disabled)."""
    emit_users([run(lambda conn: _set_status(conn, name, "disabled"))], as_json)


@user_group.command("enable")
@click.argument("name")
@json_option
def enable(name: str, as_json: bool) -> None:
    """Let a disabled user's tokens work again."""
    emit_users([run(lambda conn: _set_status(conn, name, "enabled"))], as_json)


async def _set_status(conn: AsyncConnection, name: str, status: str) -> dict[str, Any]:
    user_id = await service.find_user_id(conn, name)
    await service.set_user_status(conn, user_id, status)
    await audit(conn, "user.update", f"user:{user_id}", status=status)
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
        await audit(conn, "user.password", f"user:{user_id}", name=name)
        return await service.get_user(conn, user_id)

    user = run(work)
    if generated and not as_json:
        click.echo(f"new password for {name}: {generated}  (shown once)")
    emit_users([user | ({"password": generated} if generated and as_json else {})], as_json)


@user_group.command("delete")
@click.argument("name")
@json_option
def delete(name: str, as_json: bool) -> None:
    """Delete an account: its tokens stop working at once; its usage and ledger stay for the books."""

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        user = await service.get_user(conn, await service.find_user_id(conn, name))
        if user["role"] == "root":
            raise ConflictError("root cannot be deleted: it is the operator's account (`user passwd root` resets it)")
        await service.delete_user(conn, user["id"])
        await audit(conn, "user.delete", f"user:{user['id']}", name=name)
        return user | {"status": "deleted"}

    emit_users([run(work)], as_json)


@user_group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Every account: role, group, status, balance and used quota (quota units, with USD beside them)."""
    emit_users(run(service.list_users), as_json)
