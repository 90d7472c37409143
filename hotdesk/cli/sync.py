"""`hotdesk sync`: take what another system owns (Asterisk's pjsip files) into hotdesk."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from hotdesk.admin import pbx, phones
from hotdesk.cli.base import CLI_ACTOR, DRY_RUN, Context, main, tenant_id_of, tenant_option, with_session


@main.group()
def sync() -> None:
    """Take extensions from the PBX."""


@sync.command("asterisk")
@DRY_RUN
@tenant_option
@with_session
def sync_asterisk(ctx: Context, session: Session, dry_run: bool, tenant_name: str | None) -> None:
    """Make the tenant's extensions what pjsip.conf (asterisk_config_dir) and the files it includes
    define: number, name (callerid), secret and auth name. Prints each extension added, changed,
    removed or skipped; a line Asterisk would refuse is one line `file:line: problem`, exit status
    1, and nothing changes. Synced extensions are the PBX's: the console, the API and `extensions
    set` refuse to edit them."""
    tenant_id = tenant_id_of(session, tenant_name)
    report = pbx.sync_asterisk(
        session, ctx.settings.values(session, tenant_id), CLI_ACTOR, tenant_id=tenant_id, dry_run=dry_run
    )
    sent = [
        (
            device,
            phones.tell_reload(session, ctx.settings, ctx.hotdesk.notifier, device, reason="extension removed by sync"),
        )
        for device in report.logged_out
    ]
    session.commit()  # before the phones are told
    for change in report.changes:
        click.echo(f"{change.action}\t{change.number}" + (f"\t{change.detail}" if change.detail else ""))
    click.echo(("dry run: " if dry_run else "") + report.summary())
    if report.accounts_opened:
        click.echo(
            f"{report.accounts_opened} user account(s) opened with a generated password"
            " (each extension's page in the console shows it until its user changes it)"
        )
    if report.weak_secrets:
        named = ", ".join(report.weak_secrets[:20]) + (", ..." if len(report.weak_secrets) > 20 else "")
        click.echo(
            f"warning: {len(report.weak_secrets)} secret(s) break the secret policy ({named}): the PBX's,"
            " imported as they are; see `hotdesk extensions weak-secrets`",
            err=True,
        )
    for device, outcome in sent:
        if outcome is not None:
            click.echo(f"NOTIFY to {device.mac}: {outcome.result().detail}")
