"""`hotdesk history`: what happened, filtered and exported."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from click.core import ParameterSource
from sqlalchemy.orm import Session

from hotdesk.admin import (
    MAX_PAGE_SIZE,
    history,
)
from hotdesk.cli.base import (
    Context,
    main,
    tenant_id_of,
    with_session,
)

HISTORY_FILTERS = (
    click.option("--extension", default=None),
    click.option("--mac", default=None),
    click.option("--kind", default=None, help=f"one of: {', '.join(history.KINDS)}"),
    click.option("--since", default=None, help="YYYY-MM-DD or an ISO date-time (UTC unless it says)"),
    click.option("--until", default=None, help="YYYY-MM-DD (through that day) or an ISO date-time"),
    click.option("--tenant", "tenant_name", default=None, metavar="T", help="the tenant (default: default)"),
)


def history_filters(command):
    for option in reversed(HISTORY_FILTERS):
        command = option(command)
    return command


@main.group("history", invoke_without_command=True)
@history_filters
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, MAX_PAGE_SIZE), help="events shown")
@click.option("--before", default=None, help="the cursor a previous run printed: older events")
@click.pass_context
def history_group(click_ctx: click.Context, limit: int, before: str | None, **filters) -> None:
    """Logins, logouts, failures, NOTIFY outcomes and admin changes: the latest first, one a line
    (id, time UTC, kind, extension, MAC, brand, model, template, address, IP, actor, detail)."""
    if click_ctx.invoked_subcommand is not None:
        if any(click_ctx.get_parameter_source(name) != ParameterSource.DEFAULT for name in click_ctx.params):
            raise click.UsageError(f"give the options after `{click_ctx.invoked_subcommand}`")
        return
    click_ctx.invoke(history_list, limit=limit, before=before, **filters)


@with_session
def history_list(
    ctx: Context, session: Session, limit: int, before: str | None, tenant_name: str | None, **filters
) -> None:
    tenant_id = tenant_id_of(session, tenant_name)
    page = history.page(session, history.Filters.parse(**filters), before=before, limit=limit, tenant_id=tenant_id)
    for event in page.items:
        click.echo("\t".join(_history_cell(getattr(event, column)) for column in history.COLUMNS))
    if page.next is not None:
        click.echo(f"more: --before {page.next}", err=True)


def _history_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    return "".join(ch if ch.isprintable() else " " for ch in str(value))  # one event, one line


@history_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True), default="-")
@history_filters
@with_session
def history_export(ctx: Context, session: Session, file: Path, tenant_name: str | None, **filters) -> None:
    """The tenant's matching events as CSV, oldest first, to FILE (default: standard output)."""
    chosen = history.Filters.parse(**filters)
    tenant_id = tenant_id_of(session, tenant_name)
    if str(file) == "-":
        for chunk in history.export_csv(session, chosen, tenant_id=tenant_id):
            click.echo(chunk, nl=False)
        return
    try:
        with file.open("w", encoding="utf-8", newline="") as out:
            out.writelines(history.export_csv(session, chosen, tenant_id=tenant_id))
    except OSError as error:
        raise click.ClickException(f"{file}: {error.strerror}") from None
