"""`hotdesk templates` and `hotdesk mappings`: what a phone is given, and which extension is pinned to what."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.orm import Session

from hotdesk.admin import (
    phones,
    pins,
)
from hotdesk.admin import templates as admin_templates
from hotdesk.cli.base import (
    CLI_ACTOR,
    Context,
    main,
    read_text,
    tenant_id_of,
    tenant_option,
    tenant_or_installation,
    with_session,
)
from hotdesk.templates import TemplateError


@main.group("templates")
def templates_group() -> None:
    """Provisioning templates: the system's, one default per brand, which every tenant uses; with
    --tenant, a tenant's own (and its own default per brand, else the system's)."""


def template_tenant_option(command):
    """`--tenant T`: the tenant's own templates (without it: the system's)."""
    return click.option(
        "--tenant", "tenant_name", default=None, metavar="T", help="the tenant's own templates (default: the system's)"
    )(command)


@templates_group.command("list")
@click.option("--brand", default=None, help="only this brand's")
@template_tenant_option
@with_session
def templates_list(ctx: Context, session: Session, brand: str | None, tenant_name: str | None) -> None:
    """BRAND/NAME, one a line; `(default)` marks what a brand's phones get. With --tenant, the
    tenant's own and the system's, which it may use (marked `system`)."""
    tenant_id = tenant_or_installation(session, tenant_name)
    defaults = {t.id for t in admin_templates.defaults(session, tenant_id).values()}
    for t in admin_templates.listing(session, brand, tenant_id):
        marks = [
            *(["system"] if tenant_id is not None and t.tenant_id is None else []),
            *(["default"] if t.id in defaults else []),
        ]
        shown = "  (" + ", ".join(marks) + ")" if marks else ""
        click.echo(f"{t.brand}/{t.name}{shown}")


@templates_group.command("show")
@click.argument("brand")
@click.argument("name")
@template_tenant_option
@with_session
def templates_show(ctx: Context, session: Session, brand: str, name: str, tenant_name: str | None) -> None:
    """Print the body of template BRAND/NAME, as `templates import` reads it back (with --tenant:
    the tenant's own, else the system's)."""
    click.echo(admin_templates.get(session, brand, name, tenant_or_installation(session, tenant_name)).body, nl=False)


@templates_group.command("set-default")
@click.argument("brand")
@click.argument("name")
@template_tenant_option
@with_session
def templates_set_default(ctx: Context, session: Session, brand: str, name: str, tenant_name: str | None) -> None:
    """Make BRAND/NAME the default: the system's, or with --tenant the tenant's (one of its own, or
    the system's default to go back to it)."""
    admin_templates.set_default(session, brand, name, CLI_ACTOR, tenant_or_installation(session, tenant_name))
    whose = f"{tenant_name.strip()}'s" if tenant_name is not None else "the"
    click.echo(f"{brand}/{name} is now {whose} default {brand} template")


@templates_group.command("delete")
@click.argument("brand")
@click.argument("name")
@template_tenant_option
@with_session
def templates_delete(ctx: Context, session: Session, brand: str, name: str, tenant_name: str | None) -> None:
    """Delete template BRAND/NAME (the system's default cannot go; a tenant's can, its phones then get
    the system's); pins to it go with it."""
    admin_templates.delete(session, brand, name, CLI_ACTOR, tenant_or_installation(session, tenant_name))
    click.echo(f"template {brand}/{name} deleted")


@main.group()
def mappings() -> None:
    """Who is logged in on which phone."""


@mappings.command("list")
@click.option("--search", default="", help="an extension or MAC prefix")
@click.option("--limit", default=phones.LIVE_LIMIT, show_default=True, type=click.IntRange(1, phones.LIVE_LIMIT))
@tenant_option
@with_session
def mappings_list(ctx: Context, session: Session, search: str, limit: int, tenant_name: str | None) -> None:
    """Who is logged in where, the latest logins first: extension, MAC, brand and model, template,
    address, since (UTC)."""
    for seat in phones.who_is_where(session, search, limit, tenant_id=tenant_id_of(session, tenant_name)):
        click.echo(
            f"{seat.extension}\t{seat.mac}\t{seat.brand} {seat.model or ''}\t"
            f"{seat.template}\t{seat.address}\t{seat.since:%Y-%m-%d %H:%M}"
        )


@templates_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--brand", required=True)
@click.option("--name", required=True)
@template_tenant_option
@with_session
def templates_import(
    ctx: Context, session: Session, file: Path, brand: str, name: str, tenant_name: str | None
) -> None:
    """Add or replace template BRAND/NAME from FILE, once it renders for a guest and a user phone
    (with --tenant: the tenant's own, which its phones get instead of a system one of that name)."""
    tenant_id = tenant_or_installation(session, tenant_name)
    body = read_text(file)
    try:
        admin_templates.save(session, brand, name, body, CLI_ACTOR, tenant_id=tenant_id)
    except TemplateError as error:
        raise click.ClickException(f"{file}: {error}") from None
    click.echo(f"template {brand}/{name} saved")


@mappings.command("pin")
@click.argument("number")
@click.argument("template")
@tenant_option
@with_session
def mappings_pin(ctx: Context, session: Session, number: str, template: str, tenant_name: str | None) -> None:
    """Serve extension NUMBER template BRAND/NAME on every phone of that brand it logs into (the
    tenant's own template of that name, else the system's)."""
    pins.pin(session, number, template, CLI_ACTOR, tenant_id_of(session, tenant_name))
    click.echo(f"{number} pinned to {template}")


@mappings.command("unpin")
@click.argument("number")
@click.argument("brand")
@tenant_option
@with_session
def mappings_unpin(ctx: Context, session: Session, number: str, brand: str, tenant_name: str | None) -> None:
    """Back to the brand's default template for extension NUMBER."""
    pins.unpin(session, number, brand, CLI_ACTOR, tenant_id_of(session, tenant_name))
    click.echo(f"{number} unpinned from its {brand} template")


@mappings.command("pins")
@click.option("--extension", "number", default=None, help="only this extension's")
@tenant_option
@with_session
def mappings_pins(ctx: Context, session: Session, number: str | None, tenant_name: str | None) -> None:
    """Pinned templates: extension, brand/name."""
    for pin in pins.listing(session, number, tenant_id=tenant_id_of(session, tenant_name)):
        click.echo(f"{pin.extension.number}\t{pin.brand}/{pin.template.name}")
