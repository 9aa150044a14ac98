"""The `relaygate` command: serve, migrate, and the operator's verbs (SPEC section 7)."""

from __future__ import annotations

import asyncio
import os

import click
from pydantic import ValidationError

from relaygate.cli.access_keys import access_key_group
from relaygate.cli.channels import channel_group
from relaygate.cli.context import transaction
from relaygate.cli.imports import import_group
from relaygate.cli.prices import price_group
from relaygate.cli.tokens import token_group
from relaygate.cli.users import user_group
from relaygate.logs import configure_logging
from relaygate.settings import Settings, load_settings
from relaygate.users.service import ensure_root


@click.group()
@click.version_option(package_name="relaygate")
def cli() -> None:
    """relaygate: a self-hosted LLM API gateway."""


@cli.command()
@click.option("--host", help="Address to listen on (RELAYGATE_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port (RELAYGATE_PORT, default 8080).")
@click.option("--workers", type=int, help="Processes (RELAYGATE_WORKERS, default 1).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the gateway (migrates the database first)."""
    # Imported here: the server and the app cost every other command a second of startup.
    import uvicorn

    from relaygate.app import create_app
    from relaygate.edge.server import uvicorn_options

    config = load_settings(host=host, port=port, workers=workers)
    configure_logging(config.log_level)
    password = asyncio.run(_prepare(config))
    if password:
        # Printed to the terminal only, never through logging, so it cannot end up in a log file.
        click.echo(f"Created the account 'root'. Its password, shown this once: {password}")
    click.echo(f"relaygate listening on http://{config.host}:{config.port}", err=True)
    # One process: the app object itself. Several: each worker process builds its own from the same
    # settings (passed down as RELAYGATE_* variables), after this process has migrated the database.
    os.environ.update(config.as_environment())
    uvicorn.run(
        create_app(config) if config.workers == 1 else "relaygate.app:create_app_from_environment",
        factory=config.workers > 1,
        workers=config.workers,
        **uvicorn_options(config),
    )


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    asyncio.run(_prepare(load_settings(), create_root=False))
    click.echo("database schema is up to date")


@cli.command("fake-upstream")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9000, show_default=True, help="Port to listen on.")
@click.option("--latency-ms", default=0, show_default=True, help="Delay before every answer.")
def fake_upstream(host: str, port: int, latency_ms: int) -> None:
    """A deterministic local LLM provider, for demos, tests and benchmarks."""
    from relaygate.fakeupstream import run_fake_upstream

    run_fake_upstream(host, port, latency_ms)


async def _prepare(config: Settings, *, create_root: bool = True) -> str | None:
    async with transaction(config) as conn:
        return await ensure_root(conn, config.root_password or None) if create_root else None


cli.add_command(user_group)
cli.add_command(token_group)
cli.add_command(channel_group)
cli.add_command(price_group)
cli.add_command(access_key_group)
cli.add_command(import_group)


def main() -> None:
    try:
        cli()
    except ValidationError as exc:  # a bad setting, from a flag, RELAYGATE_* or the TOML file
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            click.echo(f"Error: invalid setting {name} (RELAYGATE_{name.upper()}): {error['msg']}", err=True)
        raise SystemExit(2) from None
