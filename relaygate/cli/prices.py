"""`relaygate price ...`"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.default_prices import default_price_table, load_default_prices
from relaygate.billing.prices import delete_price, list_prices, set_price
from relaygate.cli.context import audit, emit, json_option, run

COLUMNS = (
    "model",
    "input",
    "cached_input",
    "output",
    "per_call",
    "audio_input",
    "audio_output",
    "cache_write_5m",
    "cache_write_1h",
    "max_output_tokens",
)


@click.group("price")
def price_group() -> None:
    """Model prices: USD per 1M tokens, or per call: set, list, delete, load defaults."""


@price_group.command("set")
@click.argument("model")
@click.option("--input", "input_", help="USD per 1M input tokens.")
@click.option("--cached-input", help="USD per 1M cached input tokens (default: the input price).")
@click.option("--output", help="USD per 1M output tokens.")
@click.option("--per-call", help="USD per call (images, tasks).")
@click.option("--audio-input", help="USD per 1M audio input tokens (default: the input price).")
@click.option("--audio-output", help="USD per 1M audio output tokens (default: the output price).")
@click.option("--cache-write-5m", help="USD per 1M prompt tokens written to a 5-minute cache (default: 1.25 x input).")
@click.option("--cache-write-1h", help="USD per 1M prompt tokens written to a 1-hour cache (default: 2 x input).")
@click.option(
    "--max-output-tokens",
    type=click.IntRange(1, 10_000_000),
    help="The most output tokens the model writes in one answer: requests go upstream with no larger limit.",
)
@json_option
def set_(
    model: str,
    input_: str | None,
    cached_input: str | None,
    output: str | None,
    per_call: str | None,
    audio_input: str | None,
    audio_output: str | None,
    cache_write_5m: str | None,
    cache_write_1h: str | None,
    max_output_tokens: int | None,
    as_json: bool,
) -> None:
    """Set a model's price (USD per 1M tokens, or per call); a model without a price is refused (503)."""
    values = {
        "input": input_,
        "cached_input": cached_input,
        "output": output,
        "per_call": per_call,
        "audio_input": audio_input,
        "audio_output": audio_output,
        "cache_write_5m": cache_write_5m,
        "cache_write_1h": cache_write_1h,
    }

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        price = await set_price(conn, model, values, max_output_tokens)
        await audit(conn, "price.set", f"price:{model}", **price)
        return price

    emit([run(work)], as_json, COLUMNS)


@price_group.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Every priced model, in USD per 1M tokens (or per call)."""
    emit(run(list_prices), as_json, COLUMNS)


@price_group.command("delete")
@click.argument("model")
@json_option
def delete(model: str, as_json: bool) -> None:
    """Remove a model's price: requests for it are refused (503 model_not_priced) until it is priced again."""

    async def work(conn: AsyncConnection) -> None:
        await delete_price(conn, model)
        await audit(conn, "price.delete", f"price:{model}")

    run(work)
    emit([{"model": model, "deleted": True}], as_json, ("model", "deleted"))


@price_group.command("load-defaults")
@click.option("--replace", is_flag=True, help="Also overwrite models that already have a price.")
@json_option
def load_defaults(replace: bool, as_json: bool) -> None:
    """Price current OpenAI, Anthropic and Gemini models from the list prices shipped with relaygate."""

    async def work(conn: AsyncConnection) -> list[dict[str, Any]]:
        loaded = await load_default_prices(conn, replace=replace)
        await audit(conn, "price.load_defaults", "", count=len(loaded), replace=replace)
        return loaded

    loaded = run(work)
    emit(loaded, as_json, COLUMNS)
    if not as_json:
        as_of, _ = default_price_table()
        click.echo(f"{len(loaded)} prices set from the list prices published as of {as_of}; check them before use.")
