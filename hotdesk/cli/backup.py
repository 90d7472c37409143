"""`hotdesk backup FILE` and `hotdesk restore FILE [--force]` (hotdesk.backup says how)."""

from __future__ import annotations

from pathlib import Path

import click

from hotdesk import backup as backups
from hotdesk.cli.base import Context, main


@main.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_obj
def backup(ctx: Context, file: Path) -> None:
    """Write a consistent copy of the database to FILE while the server runs (SQLite: its backup
    API; PostgreSQL: pg_dump's custom format). FILE is replaced once the copy is complete."""
    try:
        revision = backups.backup(ctx.engine, file)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"backed up to {file} (schema {revision})")


@main.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="replace a database that holds anything")
@click.pass_obj
def restore(ctx: Context, file: Path, force: bool) -> None:
    """Put a backup made by `hotdesk backup` in place of the database (everything in it replaced);
    refused onto a database that holds anything without --force, and onto a newer schema. Stop the
    servers first: they would answer from what they cached of the old database until they restart."""
    try:
        revision = backups.restore(ctx.engine, file, force=force)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"restored from {file} (schema {revision})")
    if ctx.hotdesk.published is not None:
        ctx.hotdesk.published.retire()  # rendered from the database that was replaced
        click.echo(f"published copies deleted ({ctx.config.publish_dir})")
