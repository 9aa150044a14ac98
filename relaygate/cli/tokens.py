"""`relaygate token ...`"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.groups import check_token_group
from relaygate.billing.money import usd_to_units
from relaygate.cli.context import emit, iso_time, json_option, parse_time, run, settings
from relaygate.tokens import service
from relaygate.tokens.resets import next_reset_at
from relaygate.tokens.spec import RESET_PERIODS, TokenSpec
from relaygate.users.service import find_user_id

COLUMNS = (
    "id",
    "name",
    "hint",
    "status",
    "expires_at",
    "quota_limit",
    "used_quota",
    "models",
    "allow_ips",
    "group",
)
JSON_FIELDS = (
    "id",
    "name",
    "key",
    "hint",
    "status",
    "expires_at",
    "quota_limit",
    "used_quota",
    "models",
    "allow_ips",
    "group",
    "reset",
    "last_reset_at",
    "next_reset_at",
)


@click.group("token")
def token_group() -> None:
    """API tokens (sk-...): create, list, enable, disable, revoke, rotate."""


@token_group.command("create")
@click.option("--user", "user_name", required=True, help="Owner's user name.")
@click.option("--name", default="", help="A label such as production.")
@click.option("--count", default=1, show_default=True, help="How many tokens to create with these settings.")
@click.option("--expires", help="Expiry, ISO-8601 (e.g. 2026-12-31T23:59:00Z); never when omitted.")
@click.option("--quota-usd", help="Cap on what this token may spend, in USD.")
@click.option("--unlimited", is_flag=True, help="No per-token cap (the owner's balance still applies); the default.")
@click.option("--models", default="", help="Allowed models, comma-separated; all when omitted.")
@click.option("--allow-ip", multiple=True, help="Allowed client IP or CIDR (v4 or v6); repeatable.")
@click.option("--group", help="Pricing group override.")
@click.option("--rpm", type=int, help="Requests per minute.")
@click.option("--tpm", type=int, help="Tokens per minute.")
@click.option("--max-concurrent", type=int, help="Concurrent requests.")
@click.option(
    "--reset",
    type=click.Choice(RESET_PERIODS),
    help="Clear the token's used quota daily, weekly (Monday) or monthly (the 1st), at midnight in RELAYGATE_TIMEZONE.",
)
@json_option
def create(
    user_name: str,
    name: str,
    count: int,
    expires: str | None,
    quota_usd: str | None,
    unlimited: bool,
    models: str,
    allow_ip: tuple[str, ...],
    group: str | None,
    rpm: int | None,
    tpm: int | None,
    max_concurrent: int | None,
    reset: str | None,
    as_json: bool,
) -> None:
    """Create tokens; each full key is printed once and cannot be shown again."""
    if quota_usd is not None and unlimited:
        raise click.UsageError("give --quota-usd or --unlimited, not both")
    try:
        quota = usd_to_units(quota_usd, field="--quota-usd") if quota_usd is not None else 0
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    spec = TokenSpec(
        name=name,
        expires_at=parse_time(expires),
        unlimited=quota_usd is None,
        quota_limit=quota,
        models=tuple(models.split(",")) if models else (),
        allow_ips=allow_ip,
        group=group,
        rpm=rpm,
        tpm=tpm,
        max_concurrent=max_concurrent,
        reset_period=reset,
    )

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        await check_token_group(conn, spec.group, "", admin=True)  # the CLI is the operator: any group, or auto
        return await service.create_tokens(conn, await find_user_id(conn, user_name), spec, count)

    created = run(work)
    if as_json:
        emit([_json(token) for token in created], True, ())
        return
    for token in created:
        click.echo(f"token {token['id']} {token['name'] or '(no name)'}: {token['key']}")
    click.echo("Copy the key now: it is shown only once.")


@token_group.command("list")
@click.option("--user", "user_name", help="Only this user's tokens.")
@json_option
def list_(user_name: str | None, as_json: bool) -> None:
    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        user_id = await find_user_id(conn, user_name) if user_name else None
        return await service.list_tokens(conn, user_id)

    rows = run(work)
    zone = settings().zone
    tokens = [_json(token, zone) for token in rows]
    emit(tokens if as_json else [_human(token) for token in tokens], as_json, COLUMNS)


@token_group.command("disable")
@click.argument("token_id", type=int)
@json_option
def disable(token_id: int, as_json: bool) -> None:
    """Stop the token (401 token_disabled) until it is enabled again."""
    _change(token_id, as_json, lambda conn: service.set_token_status(conn, token_id, "disabled"))


@token_group.command("enable")
@click.argument("token_id", type=int)
@json_option
def enable(token_id: int, as_json: bool) -> None:
    _change(token_id, as_json, lambda conn: service.set_token_status(conn, token_id, "enabled"))


@token_group.command("revoke")
@click.argument("token_id", type=int)
@json_option
def revoke(token_id: int, as_json: bool) -> None:
    """Delete the token: its key stops working at once, for good."""

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        token = await service.get_token(conn, token_id)
        await service.revoke_token(conn, token_id)
        return {**token, "status": "deleted"}

    emit([_json(run(work))], as_json, COLUMNS)


@token_group.command("rotate")
@click.argument("token_id", type=int)
@json_option
def rotate(token_id: int, as_json: bool) -> None:
    """A new key with the same settings; the old key stops working at once."""
    token = run(lambda conn: service.rotate_token(conn, token_id))
    if as_json:
        emit([_json(token)], True, ())
        return
    click.echo(f"token {token['id']} {token['name'] or '(no name)'}: {token['key']}")
    click.echo("Copy the key now: it is shown only once.")


def _change(token_id: int, as_json: bool, change: Any) -> None:
    async def work(conn: AsyncConnection) -> dict[str, Any]:
        await change(conn)
        return await service.get_token(conn, token_id)

    emit([_json(run(work))], as_json, COLUMNS)


def _json(token: dict[str, Any], zone: ZoneInfo | None = None) -> dict[str, Any]:
    """The REST API's fields and forms; the next reset is midnight in the operator's time zone."""
    token = {**token, "next_reset_at": next_reset_at(token, zone or settings().zone)}
    return {field: token[field] for field in JSON_FIELDS if field in token} | {
        field: iso_time(token[field]) for field in ("expires_at", "last_reset_at", "next_reset_at")
    }


def _human(token: dict[str, Any]) -> dict[str, Any]:
    return {**token, "quota_limit": "unlimited" if token["quota_limit"] is None else token["quota_limit"]}
