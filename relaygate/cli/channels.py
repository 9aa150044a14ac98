"""`relaygate channel ...`"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.channels.crypto import SecretBox
from relaygate.channels.service import (
    CHANNEL_TYPES,
    NewChannel,
    add_channel,
    delete_channel,
    get_channel,
    list_channels,
    load_channel,
    set_channel_status,
    update_channel,
)
from relaygate.cli.context import audit, emit, iso_time, json_option, run, settings, transaction
from relaygate.errors import GatewayError, NotFoundError

COLUMNS = (
    "id",
    "name",
    "type",
    "base_url",
    "keys",
    "models",
    "model_map",
    "groups",
    "priority",
    "weight",
    "chat_completions_only",
    "status",
    "disabled_reason",
    "last_probe_at",
)

CHAT_ONLY_HELP = (
    "The upstream (openai or azure type) serves /v1/chat/completions but not /v1/responses: convert Responses "
    "requests for its models to chat completions, as for Anthropic and Gemini channels."
)


@click.group("channel")
def channel_group() -> None:
    """Upstream providers: add, list, update, test, enable, disable, delete, fetch models."""


@channel_group.command("add")
@click.option("--type", "type_", type=click.Choice(CHANNEL_TYPES), required=True, help="The upstream protocol.")
@click.option("--base-url", required=True, help="e.g. https://api.openai.com")
@click.option("--key", "keys", multiple=True, help="An upstream API key (repeatable; stored encrypted, never shown).")
@click.option(
    "--keys-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Upstream keys, one a line."
)
@click.option("--name", default="", help="A label such as openai-main.")
@click.option("--models", required=True, help="Models served, comma-separated.")
@click.option("--map", "mappings", multiple=True, help="Model-name mapping FROM=TO (client name to upstream name).")
@click.option("--group", "groups", multiple=True, help="Groups served (repeatable); default: default.")
@click.option("--priority", default=0, show_default=True, help="Higher tiers are tried first.")
@click.option("--weight", default=1, show_default=True, help="Share of traffic inside a priority tier.")
@click.option(
    "--chat-completions-only/--no-chat-completions-only", default=False, show_default=True, help=CHAT_ONLY_HELP
)
@json_option
def add(
    type_: str,
    base_url: str,
    keys: tuple[str, ...],
    keys_file: Path | None,
    name: str,
    models: str,
    mappings: tuple[str, ...],
    groups: tuple[str, ...],
    priority: int,
    weight: int,
    chat_completions_only: bool,
    as_json: bool,
) -> None:
    """Add an upstream provider; its keys are stored encrypted and only their hints are ever shown."""
    model_map = parse_map(mappings)
    all_keys = read_keys(keys, keys_file)
    if not any(key.strip() for key in all_keys):
        raise click.UsageError("give the channel's upstream key with --key (repeatable) or --keys-file FILE")
    spec = NewChannel(
        type=type_,
        base_url=base_url,
        keys=tuple(all_keys),
        name=name,
        models=tuple(m.strip() for m in models.split(",") if m.strip()),
        model_map=model_map,
        groups=groups or ("default",),
        priority=priority,
        weight=weight,
        chat_completions_only=chat_completions_only,
    )
    config = settings()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        channel = await add_channel(conn, spec, SecretBox(config.secret_key))
        await audit(conn, "channel.create", f"channel:{channel['id']}", **_described(channel))
        return channel

    _emit([run(work)], as_json)


@channel_group.command("update")
@click.argument("channel_id", type=int)
@click.option("--type", "type_", type=click.Choice(CHANNEL_TYPES), help="The upstream protocol.")
@click.option("--base-url", help="e.g. https://api.openai.com")
@click.option("--key", "keys", multiple=True, help="Replace every upstream key with these (repeatable).")
@click.option(
    "--keys-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Replace every upstream key with these, one a line.",
)
@click.option("--name", help="A new label.")
@click.option("--models", help="Models served, comma-separated (replaces the list).")
@click.option("--map", "mappings", multiple=True, help="Model-name mapping FROM=TO (repeatable; replaces the map).")
@click.option("--clear-map", is_flag=True, help="Remove every model-name mapping.")
@click.option("--group", "groups", multiple=True, help="Groups served (repeatable; replaces the list).")
@click.option("--priority", type=int, help="Higher tiers are tried first.")
@click.option("--weight", type=click.IntRange(min=0), help="Share of traffic inside a priority tier.")
@click.option("--chat-completions-only/--no-chat-completions-only", default=None, help=CHAT_ONLY_HELP)
@json_option
def update(
    channel_id: int,
    type_: str | None,
    base_url: str | None,
    keys: tuple[str, ...],
    keys_file: Path | None,
    name: str | None,
    models: str | None,
    mappings: tuple[str, ...],
    clear_map: bool,
    groups: tuple[str, ...],
    priority: int | None,
    weight: int | None,
    chat_completions_only: bool | None,
    as_json: bool,
) -> None:
    """Change a channel's settings; only the options given change. Running servers follow within 1 s."""
    if mappings and clear_map:
        raise click.UsageError("give --map or --clear-map, not both")
    changes: dict[str, Any] = {
        name_: value
        for name_, value in (
            ("type", type_),
            ("base_url", base_url),
            ("name", name),
            ("priority", priority),
            ("weight", weight),
            ("chat_completions_only", chat_completions_only),
        )
        if value is not None
    }
    if models is not None:
        changes["models"] = [m.strip() for m in models.split(",") if m.strip()]
    if mappings or clear_map:
        changes["model_map"] = parse_map(mappings)
    if groups:
        changes["groups"] = list(groups)
    if keys or keys_file:
        changes["keys"] = read_keys(keys, keys_file)
        if not any(key.strip() for key in changes["keys"]):
            raise click.UsageError("--key/--keys-file hold no key: give at least one (a channel needs a key)")
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see `relaygate channel update --help`)")
    config = settings()

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        channel = await update_channel(conn, channel_id, changes, SecretBox(config.secret_key))
        await audit(conn, "channel.update", f"channel:{channel_id}", fields=sorted(changes))
        return channel

    _emit([run(work)], as_json)


@channel_group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Every channel: its keys (hints and status), models, mapping, groups, status and health."""
    _emit(run(list_channels), as_json)


@channel_group.command("enable")
@click.argument("channel_id", type=int)
@json_option
def enable(channel_id: int, as_json: bool) -> None:
    """Put the channel back in service (also one an automatic check took out)."""
    _set_status(channel_id, "enabled", as_json)


@channel_group.command("disable")
@click.argument("channel_id", type=int)
@json_option
def disable(channel_id: int, as_json: bool) -> None:
    """Take the channel out of service until it is enabled again (probes never undo this)."""
    _set_status(channel_id, "disabled", as_json)


@channel_group.command("delete")
@click.argument("channel_id", type=int)
@json_option
def delete(channel_id: int, as_json: bool) -> None:
    """Remove the channel and its keys; usage records keep its id."""

    async def work(conn: AsyncConnection) -> None:
        await delete_channel(conn, channel_id)
        await audit(conn, "channel.delete", f"channel:{channel_id}")

    run(work)
    emit([{"id": channel_id, "deleted": True}], as_json, ("id", "deleted"))


def _set_status(channel_id: int, status: str, as_json: bool) -> None:
    async def work(conn: AsyncConnection) -> dict[str, Any]:
        await set_channel_status(conn, channel_id, status)
        await audit(conn, f"channel.{status.removesuffix('d')}", f"channel:{channel_id}")
        return await get_channel(conn, channel_id)

    _emit([run(work)], as_json)


@channel_group.command("test")
@click.argument("channel_id", type=int)
@click.option("--model", help="Model to ask; the channel's first model by default.")
@json_option
def test(channel_id: int, model: str | None, as_json: bool) -> None:
    """Send one tiny real request through the channel and report status and latency."""
    from relaygate.relay.probe import probe_channel  # the relay's machinery: only this command needs it

    config = settings()
    channel = run(lambda conn: load_channel(conn, channel_id, SecretBox(config.secret_key)))  # enabled or not
    result = asyncio.run(probe_channel(channel, config, model))

    async def note(conn: AsyncConnection) -> None:
        await audit(conn, "channel.test", f"channel:{channel_id}", ok=result["ok"], status=result["status"])

    run(note)
    emit([result], as_json, ("channel_id", "model", "ok", "status", "latency_ms", "error"))
    if not result["ok"]:
        raise SystemExit(1)


@channel_group.command("fetch-models")
@click.argument("channel_id", type=int)
@json_option
def fetch_models(channel_id: int, as_json: bool) -> None:
    """The models the upstream lists (in the channel's protocol), and which of them the channel does not serve yet."""
    from relaygate.relay.model_discovery import discover_models  # an HTTP client: only this command needs it

    config = settings()

    async def main() -> dict[str, Any]:
        async with transaction(config) as conn:
            channel = await load_channel(conn, channel_id, SecretBox(config.secret_key))
        return await discover_models(channel, config)

    try:
        found = asyncio.run(main())
    except GatewayError as exc:
        raise click.ClickException(exc.message) from exc
    except (ValueError, NotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    emit([found], as_json, ("channel_id", "models", "new"))


def parse_map(mappings: tuple[str, ...]) -> dict[str, str]:
    model_map = {}
    for mapping in mappings:
        source, sep, target = mapping.partition("=")
        if not sep or not source or not target:
            raise click.BadParameter(f"--map {mapping!r} must have the form FROM=TO")
        model_map[source] = target
    return model_map


def read_keys(keys: tuple[str, ...], keys_file: Path | None) -> list[str]:
    return [*keys, *(keys_file.read_text().splitlines() if keys_file else [])]


def _described(channel: dict[str, Any]) -> dict[str, Any]:
    return {name: channel[name] for name in ("name", "type", "base_url", "models")}


def _emit(channels: list[dict[str, Any]], as_json: bool) -> None:
    """Channels as the API shows them in JSON; in the table each key as `hint(status)`, times in ISO-8601."""
    if not as_json:
        channels = [
            channel
            | {"keys": [f"{key['hint']}({key['status']})" for key in channel["keys"]]}
            | {"last_probe_at": iso_time(channel["last_probe_at"])}
            for channel in channels
        ]
    emit(channels, as_json, COLUMNS)
