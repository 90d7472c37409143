"""`init-db` and the fast path's published copies."""

from __future__ import annotations

import click

from hotdesk import runtime, schema
from hotdesk.cli.base import (
    Context,
    main,
)


@main.command("init-db")
@click.pass_obj
def init_db(ctx: Context) -> None:
    """Create or migrate the schema and seed what a new install needs. Safe to run again."""
    schema.upgrade(ctx.engine)
    with ctx.sessions() as session:
        schema.initialise(session, ctx.settings, runtime.stock_templates())
        session.commit()
    click.echo("database ready")
    if ctx.hotdesk.published is not None:
        # Rendered by the version before this one, or left by a process that died between a commit
        # and its deletion: init-db runs once before a new version starts.
        ctx.hotdesk.published.retire()
        click.echo(f"published copies deleted ({ctx.config.publish_dir})")


@main.group()
def published() -> None:
    """The fast path's published copies (HOTDESK_PUBLISH_DIR)."""


@published.command("retire")
@click.pass_obj
def published_retire(ctx: Context) -> None:
    """Delete every published copy; phones' next fetches render them again. After a change made with
    plain SQL, which no hook sees, or a process that died between a commit and its deletion."""
    if ctx.hotdesk.published is None:
        raise click.ClickException("HOTDESK_PUBLISH_DIR is not set: nothing is published")
    ctx.hotdesk.published.retire()
    click.echo(f"published copies deleted ({ctx.config.publish_dir})")
