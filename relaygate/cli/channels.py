"""`relaygate channel ...`"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from relaygate.channels.crypto import SecretBox
from relaygate.channels.registry import ChannelRegistry
from relaygate.channels.service import (
    CHANNEL_TYPES,
    NewChannel,
    add_channel,
    list_channels,
    load_channel_rows,
)
from relaygate.cli.context import emit, json_option, run, settings, transaction
from relaygate.relay.probe import probe_channel

COLUMNS = (
    "id",
    "name",
    "type",
    "base_url",
    "key_hint",
    "models",
    "model_map",
    "groups",
    "priority",
    "weight",
    "status",
)


@click.group("channel")
def channel_group() -> None:
    """Upstream providers: add, list, test."""


@channel_group.command("add")
@click.option("--type", "type_", type=click.Choice(CHANNEL_TYPES), required=True)
@click.option("--base-url", required=True, help="e.g. https://api.openai.com")
@click.option("--key", required=True, help="The upstream API key (stored encrypted, never shown again).")
@click.option("--name", default="")
@click.option("--models", required=True, help="Models served, comma-separated.")
@click.option("--map", "mappings", multiple=True, help="Model-name mapping FROM=TO (client name to upstream name).")
@click.option("--group", "groups", multiple=True, help="Groups served (repeatable); default: default.")
@click.option("--priority", default=0, show_default=True, help="Higher tiers are tried first.")
@click.option("--weight", default=1, show_default=True, help="Share of traffic inside a priority tier.")
@json_option
def add(
    type_: str,
    base_url: str,
    key: str,
    name: str,
    models: str,
    mappings: tuple[str, ...],
    groups: tuple[str, ...],
    priority: int,
    weight: int,
    as_json: bool,
) -> None:
    model_map = {}
    for mapping in mappings:
        source, sep, target = mapping.partition("=")
        if not sep or not source or not target:
            raise click.BadParameter(f"--map {mapping!r} must have the form FROM=TO")
        model_map[source] = target
    spec = NewChannel(
        type=type_,
        base_url=base_url,
        key=key,
        name=name,
        models=tuple(m.strip() for m in models.split(",") if m.strip()),
        model_map=model_map,
        groups=groups or ("default",),
        priority=priority,
        weight=weight,
    )
    config = settings()
    emit([run(lambda conn: add_channel(conn, spec, SecretBox(config.secret_key)))], as_json, COLUMNS)


@channel_group.command("list")
@json_option
def list_(as_json: bool) -> None:
    emit(run(list_channels), as_json, COLUMNS)


@channel_group.command("test")
@click.argument("channel_id", type=int)
@click.option("--model", help="Model to ask; the channel's first model by default.")
@json_option
def test(channel_id: int, model: str | None, as_json: bool) -> None:
    """Send one tiny real request through the channel and report status and latency."""
    config = settings()

    async def main() -> dict[str, Any]:
        async with transaction(config) as conn:
            rows = [row for row in await load_channel_rows(conn) if row["id"] == channel_id]
        if not rows:
            raise click.ClickException(f"no enabled channel with id {channel_id}")
        registry = ChannelRegistry()
        registry.load(rows, SecretBox(config.secret_key))
        channel = next(iter(registry.all()))
        return await probe_channel(channel, config, model)

    result = asyncio.run(main())
    emit([result], as_json, ("channel_id", "model", "ok", "status", "latency_ms", "error"))
    if not result["ok"]:
        raise SystemExit(1)
