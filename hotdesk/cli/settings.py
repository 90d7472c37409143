"""`hotdesk settings` and `hotdesk secrets`."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from hotdesk import policy
from hotdesk.admin import settings as admin_settings
from hotdesk.cli.base import (
    CLI_ACTOR,
    Context,
    main,
    tenant_id_of,
    tenant_option,
    tenant_or_installation,
    with_session,
)


@main.group()
def settings() -> None:
    """Runtime settings (addresses, passwords, ports)."""


@settings.command("get")
@click.argument("name")
@tenant_option
@with_session
def settings_get(ctx: Context, session: Session, name: str, tenant_name: str | None) -> None:
    """The bare value: the tenant's own, else the installation's."""
    click.echo(admin_settings.get(session, ctx.settings, name, tenant_or_installation(session, tenant_name)).value)


@settings.command("set")
@click.argument("name")
@click.argument("value")
@tenant_option
@with_session
def settings_set(ctx: Context, session: Session, name: str, value: str, tenant_name: str | None) -> None:
    """Without --tenant, the installation's value: the default tenant's, and every tenant's that has
    none of its own."""
    tenant_id = tenant_or_installation(session, tenant_name)
    stored = admin_settings.change(session, ctx.settings, name, value, CLI_ACTOR, tenant_id=tenant_id)
    shown = "(hidden)" if ctx.settings.spec(name).secret else stored
    click.echo(f"{name} = {shown}")


@settings.command("unset")
@click.argument("name")
@click.option("--tenant", "tenant_name", required=True, metavar="T", help="the tenant")
@with_session
def settings_unset(ctx: Context, session: Session, name: str, tenant_name: str) -> None:
    """The tenant takes the installation's value again."""
    admin_settings.unset(session, ctx.settings, name, CLI_ACTOR, tenant_id=tenant_id_of(session, tenant_name))
    click.echo(f"{name}: the installation's value again for {tenant_name}")


@settings.command("list")
@tenant_option
@with_session
def settings_list(ctx: Context, session: Session, tenant_name: str | None) -> None:
    """Every setting; passwords are shown as (hidden): use `settings get NAME`."""
    for view in admin_settings.listing(session, ctx.settings, tenant_or_installation(session, tenant_name)):
        click.echo(f"{view.name} = {'(hidden)' if view.secret else view.value}\t# {view.help}")


@main.group("secrets")
def secrets_group() -> None:
    """SIP secrets."""


@secrets_group.command("generate")
def secrets_generate() -> None:
    """Print a random SIP secret that meets the strong secret policy."""
    click.echo(policy.generate_secret())
