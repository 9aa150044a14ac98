"""The default price table shipped in the package (`default_prices.toml`), and loading it into the database."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.prices import PRICE_FIELDS, list_prices, set_price


def default_price_table() -> tuple[str, dict[str, dict[str, Any]]]:
    """(as_of, {model: {field: USD}}) as the package ships it."""
    text = resources.files("relaygate.billing").joinpath("default_prices.toml").read_text()
    table = tomllib.loads(text)
    return str(table["as_of"]), {model: dict(fields) for model, fields in table["models"].items()}


async def load_default_prices(conn: AsyncConnection, *, replace: bool = False) -> list[dict[str, Any]]:
    """Price every model of the default table that has no price yet (every one, with `replace`)."""
    _, table = default_price_table()
    priced = {price["model"] for price in await list_prices(conn)}
    loaded = []
    for model, fields in table.items():
        if model in priced and not replace:
            continue
        values = {name: fields.get(name) for name in PRICE_FIELDS}
        loaded.append(await set_price(conn, model, values, fields.get("max_output_tokens")))
    return loaded
