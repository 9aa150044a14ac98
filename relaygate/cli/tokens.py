"""`relaygate token ...`"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.groups import check_token_group
from relaygate.billing.money import usd_to_units
from relaygate.channels.service import list_channels
from relaygate.cli.context import audit, emit, iso_time, json_option, parse_time, run, settings, with_usd
from relaygate.clock import now
from relaygate.tokens import service
from relaygate.tokens.resets import next_reset_at
from relaygate.tokens.sealing import KeySeal
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
    "rpm",
    "tpm",
    "max_concurrent",
    "reset",
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
    "rpm",
    "tpm",
    "max_concurrent",
    "reset",
    "last_reset_at",
    "next_reset_at",
    "revealable",
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
    """Create tokens; each full key is printed once (the owner may reveal it once more from the console's
    token list within RELAYGATE_KEY_REVEAL_HOURS)."""
    if quota_usd is not None and unlimited:
        raise click.UsageError("give --quota-usd or --unlimited, not both")
    expires_at = parse_time(expires)
    if expires_at is not None and expires_at <= now():
        raise click.BadParameter(
            f"{expires!r} is in the past: give a future time such as 2026-12-31T23:59:00Z, or omit it for no expiry",
            param_hint="--expires",
        )
    try:
        quota = usd_to_units(quota_usd, field="--quota-usd") if quota_usd is not None else 0
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    spec = TokenSpec(
        name=name,
        expires_at=expires_at,
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

    seal = key_seal()

    async def work(conn: AsyncConnection) -> tuple[list[dict[str, Any]], list[str]]:
        await check_token_group(conn, spec.group, "", admin=True)  # the CLI is the operator: any group, or auto
        created = await service.create_tokens(conn, await find_user_id(conn, user_name), spec, count, seal=seal)
        targets = ",".join(f"token:{token['id']}" for token in created)
        await audit(conn, "token.create", targets, count=count, user=user_name)
        return created, await unserved_models(conn, spec.models)

    created, unserved = run(work)
    if unserved:
        click.echo(
            f"Warning: no channel serves {', '.join(unserved)}: requests for "
            f"{'it' if len(unserved) == 1 else 'them'} fail until a channel lists "
            f"{'it' if len(unserved) == 1 else 'them'} (`relaygate channel update ID --models ...`).",
            err=True,
        )
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
    """Tokens with their limits: quota (quota units, with USD beside them), models, IPs, group, rates, reset."""

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
    _change(token_id, as_json, lambda conn: service.set_token_status(conn, token_id, "disabled"), "token.disable")


@token_group.command("enable")
@click.argument("token_id", type=int)
@json_option
def enable(token_id: int, as_json: bool) -> None:
    """Let a disabled token work again."""
    _change(token_id, as_json, lambda conn: service.set_token_status(conn, token_id, "enabled"), "token.enable")


@token_group.command("revoke")
@click.argument("token_id", type=int)
@json_option
def revoke(token_id: int, as_json: bool) -> None:
    """Delete the token: its key stops working at once, for good."""

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        token = await service.get_token(conn, token_id)
        await service.revoke_token(conn, token_id)
        await audit(conn, "token.delete", f"token:{token_id}")
        return {**token, "status": "deleted"}

    _emit([run(work)], as_json)


@token_group.command("rotate")
@click.argument("token_id", type=int)
@json_option
def rotate(token_id: int, as_json: bool) -> None:
    """A new key with the same settings; the old key stops working at once."""
    seal = key_seal()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        token = await service.rotate_token(conn, token_id, seal=seal)
        await audit(conn, "token.rotate", f"token:{token_id}")
        return token

    token = run(work)
    if as_json:
        emit([_json(token)], True, ())
        return
    click.echo(f"token {token['id']} {token['name'] or '(no name)'}: {token['key']}")
    click.echo("Copy the key now: it is shown only once.")


def key_seal() -> KeySeal:
    """New keys are sealed for one reveal by their owner, as the API seals them (RELAYGATE_KEY_REVEAL_HOURS)."""
    config = settings()
    return KeySeal.create(config.secret_key, config.key_reveal_hours)


async def unserved_models(conn: AsyncConnection, models: tuple[str, ...]) -> list[str]:
    """The models named that no channel in service lists (manually disabled channels do not count)."""
    served = {
        model for channel in await list_channels(conn) if channel["status"] != "disabled" for model in channel["models"]
    }
    return [model for model in dict.fromkeys(m.strip() for m in models) if model and model not in served]


def _change(token_id: int, as_json: bool, change: Any, action: str) -> None:
    async def work(conn: AsyncConnection) -> dict[str, Any]:
        await change(conn)
        await audit(conn, action, f"token:{token_id}")
        return await service.get_token(conn, token_id)

    _emit([run(work)], as_json)


def _emit(tokens: list[dict[str, Any]], as_json: bool) -> None:
    shown = [_json(token) for token in tokens]
    emit(shown if as_json else [_human(token) for token in shown], as_json, COLUMNS)


def _json(token: dict[str, Any], zone: ZoneInfo | None = None) -> dict[str, Any]:
    """The REST API's fields and forms; the next reset is midnight in the operator's time zone."""
    token = {**token, "next_reset_at": next_reset_at(token, zone or settings().zone)}
    return {field: token[field] for field in JSON_FIELDS if field in token} | {
        field: iso_time(token[field]) for field in ("expires_at", "last_reset_at", "next_reset_at")
    }


def _human(token: dict[str, Any]) -> dict[str, Any]:
    """The table's cells: amounts in quota units with USD beside them."""
    limit = "unlimited" if token["quota_limit"] is None else with_usd(token["quota_limit"])
    return {**token, "quota_limit": limit, "used_quota": with_usd(token["used_quota"])}
