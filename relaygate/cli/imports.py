"""`relaygate import new-api|one-api --from DSN`: move a new-api or one-api database into relaygate."""

from __future__ import annotations

import asyncio

import click
import orjson

from relaygate.channels.crypto import SecretBox
from relaygate.cli.context import database, settings
from relaygate.importer.report import Report
from relaygate.importer.run import ImportFailed, ImportOptions, run_import
from relaygate.importer.source import SOURCE_KINDS, SourceError, parse_dsn


@click.group("import")
def import_group() -> None:
    """Import a new-api or one-api database (read-only on it); safe to run again."""


def _command(source_kind: str) -> click.Command:
    @click.command(source_kind, help=f"Import users, tokens, channels, prices and codes from a {source_kind} database.")
    @click.option(
        "--from",
        "dsn",
        required=True,
        metavar="DSN",
        help="mysql://user:pass@host:3306/db, postgresql://user:pass@host/db or sqlite:///path/one-api.db",
    )
    @click.option("--dry-run", is_flag=True, help="Write nothing; print what would be imported.")
    @click.option("--keep-root", is_flag=True, help="Their root user stays root (default: becomes an admin).")
    @click.option("--with-logs", is_flag=True, help="Also import their consume logs as usage records.")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    def command(dsn: str, dry_run: bool, keep_root: bool, with_logs: bool, as_json: bool) -> None:
        try:
            source = parse_dsn(dsn)
        except SourceError as exc:
            raise click.BadParameter(str(exc), param_hint="--from") from None
        config = settings()
        options = ImportOptions(dry_run=dry_run, keep_root=keep_root, with_logs=with_logs, progress=not as_json)

        async def main() -> Report:
            async with database(config) as engine:
                return await run_import(engine, source, source_kind, SecretBox(config.secret_key), options)

        try:
            report = asyncio.run(main())
        except (SourceError, ImportFailed) as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
        else:
            click.echo("\n".join(report.lines()))

    return command


for _kind in SOURCE_KINDS:
    import_group.add_command(_command(_kind))
