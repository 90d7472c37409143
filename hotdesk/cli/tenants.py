"""`hotdesk tenants`: organisations with their own SIP domain."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from hotdesk import tenancy
from hotdesk.cli.base import (
    CLI_ACTOR,
    Context,
    main,
    with_session,
)


@main.group()
def tenants() -> None:
    """Organisations on this server, each with its SIP domain and provisioning credentials."""


@tenants.command("add")
@click.argument("name")
@click.option("--sip-domain", required=True, help="the tenant's SIP domain, e.g. acme.example.com")
@with_session
def tenants_add(ctx: Context, session: Session, name: str, sip_domain: str) -> None:
    """A new tenant; prints the provisioning credentials its phones fetch with, and the path that
    stands for them for phones that send none (Cisco enterprise: /provision/t/<path>/)."""
    made = tenancy.add(session, ctx.settings, name, sip_domain, CLI_ACTOR)
    click.echo(f"tenant {made.tenant.name} added (SIP domain {made.tenant.sip_domain})")
    click.echo(f"provisioning_username: {made.provisioning_username}")
    click.echo(f"provisioning_password: {made.provisioning_password}")
    click.echo(f"provisioning_path: {made.provisioning_path}")


@tenants.command("list")
@with_session
def tenants_list(ctx: Context, session: Session) -> None:
    """Tenants, one a line: name, SIP domain, extensions."""
    for tenant, extensions_count in tenancy.listing_with_counts(session):
        click.echo(f"{tenant.name}\t{tenant.sip_domain or '-'}\textensions={extensions_count}")


@tenants.command("remove")
@click.argument("name")
@with_session
def tenants_remove(ctx: Context, session: Session, name: str) -> None:
    """Remove a tenant without extensions (refused while it has some); its phones, templates and settings go too."""
    tenancy.remove(session, name, CLI_ACTOR)
    click.echo(f"tenant {name.strip()} removed")
