"""Phones: `devices`, `login`, `logout`, `auto-logout`, `scheduler`, `unlock`, `lockouts`."""

from __future__ import annotations

import functools
from pathlib import Path

import click
from sqlalchemy.orm import Session

from hotdesk import hotdesking, scheduler
from hotdesk.admin import (
    lockouts,
    phones,
)
from hotdesk.cli.base import (
    CLI_ACTOR,
    DRY_RUN,
    Context,
    every_page,
    main,
    phone_tenant,
    read_text,
    report_preview,
    tenant_id_of,
    tenant_option,
    with_session,
)
from hotdesk.models import Device


@main.command("logout")
@click.argument("mac")
@with_session
def logout(ctx: Context, session: Session, mac: str) -> None:
    """Log the user out of the phone with this MAC and tell the phone (SIP NOTIFY)."""
    done = phones.force_logout(
        session, ctx.settings, ctx.hotdesk.notifier, mac, CLI_ACTOR, tenant_id=phone_tenant(session, mac)
    )
    host = hotdesking.reload_address(session, done.device)
    session.commit()  # the command's commit, early: the NOTIFY goes out after it, and is waited for
    if done.extension is None:
        click.echo(f"nobody was logged in on {done.device.mac}")
        return
    click.echo(f"{done.extension.number} logged out of {done.device.mac}")
    if done.notified is not None:
        click.echo(f"NOTIFY to {host}: {done.notified.result().detail}")


@main.command("auto-logout")
@click.pass_obj
def auto_logout(ctx: Context) -> None:
    """Log out every login past its time (max_login_minutes, daily_logout_time) and tell the phones.

    Run it from cron every minute, or run `hotdesk scheduler` instead.
    """
    count = scheduler.auto_logout(ctx.sessions, ctx.settings, ctx.hotdesk.notifier)
    click.echo(f"{count} phone(s) logged out")


@main.command("scheduler")
@click.option("--interval", default=30.0, show_default=True, help="seconds between checks")
@click.pass_obj
def run_scheduler(ctx: Context, interval: float) -> None:
    """Run timed logouts forever; on several hosts at once, one works while the others stand by."""
    scheduler.run_forever(ctx.hotdesk, interval)


@main.command("unlock")
@click.argument("number", required=False)
@click.option("--phone", "mac", default=None, help="lift the lockout of this phone (MAC) instead")
@tenant_option
@with_session
def unlock(ctx: Context, session: Session, number: str | None, mac: str | None, tenant_name: str | None) -> None:
    """Lift the failed-login lockout of an extension (on every phone), or with --phone of a phone."""
    tenant_id = phone_tenant(session, mac) if mac else tenant_id_of(session, tenant_name)
    what = lockouts.unlock(session, CLI_ACTOR, extension=number, mac=mac, tenant_id=tenant_id)
    click.echo(f"{what} unlocked")


@main.command("lockouts")
@tenant_option
@with_session
def lockouts_list(ctx: Context, session: Session, tenant_name: str | None) -> None:
    """Extensions and phones locked by failed logins now: kind, number or MAC, until (UTC), where, failures."""
    for lock in lockouts.listing(session, ctx.settings, tenant_id=tenant_id_of(session, tenant_name)):
        click.echo(f"{lock.kind}\t{lock.key}\t{lock.until:%Y-%m-%d %H:%M}\t{lock.scope}\t{lock.failures} failures")


@main.command("login")
@click.argument("number")
@click.argument("mac")
@click.option("--external", "address", flag_value="external", default=True, help="register at external_address")
@click.option("--internal", "address", flag_value="internal", help="register at internal_address")
@with_session
def login(ctx: Context, session: Session, number: str, mac: str, address: str) -> None:
    """Log extension NUMBER in on the phone MAC without its PIN (multiple_login applies) and tell the
    phones (SIP NOTIFY): how Digium D phones, which have no login app, get a user."""
    tenant_id = phone_tenant(session, mac)  # the extension is the phone's tenant's
    made = phones.login(
        session, ctx.settings, ctx.hotdesk.notifier, mac, number, address, CLI_ACTOR, tenant_id=tenant_id
    )
    session.commit()  # the command's commit, early: the NOTIFYs go out after it, and are waited for
    click.echo(f"{made.extension.number} logged in on {made.device.mac} ({address})")
    for other in made.logged_out:
        click.echo(f"{made.extension.number} logged out of {other.mac}")
    for target, sent in made.notified.items():
        click.echo(f"NOTIFY to {target}: {sent.result().detail if sent is not None else 'no address known'}")


@main.group()
def devices() -> None:
    """Phones that have fetched their files."""


@devices.command("list")
@click.option("--waiting", is_flag=True, help="only phones waiting to be admitted")
@click.option("--search", default="", help="a MAC prefix (separators allowed)")
@tenant_option
@with_session
def devices_list(ctx: Context, session: Session, waiting: bool, search: str, tenant_name: str | None) -> None:
    """MAC, brand, model, firmware, last address and time, own credentials issued or not, admitted
    or waiting; then any warning (a refused request that claimed another brand, a fetch with the
    shared credentials although the phone has its own)."""
    tenant_id = tenant_id_of(session, tenant_name)
    listing = functools.partial(phones.devices_page, session, search=search, waiting=waiting, tenant_id=tenant_id)
    for device in every_page(listing):
        click.echo(device_line(device))


@devices.command("show")
@click.argument("mac")
@with_session
def devices_show(ctx: Context, session: Session, mac: str) -> None:
    """One phone, as `devices list` shows it, and who is logged in on it."""
    device = phones.device(session, mac, phone_tenant(session, mac))
    click.echo(device_line(device))
    if device.mapping is not None:
        click.echo(f"logged in: {device.mapping.extension.number} since {device.mapping.since:%Y-%m-%d %H:%M}")


def device_line(d: Device) -> str:
    seen = f"{d.last_seen:%Y-%m-%d %H:%M}" if d.last_seen else "-"
    own = "own-credentials" if d.provisioning_username else "global-credentials"
    admitted = "admitted" if d.admitted else "waiting"
    columns = [d.mac, d.brand or "-", d.model or "-", d.firmware or "-", d.last_ip or "-", seen, own, admitted]
    if d.mismatch_at:
        columns.append(f"refused {d.mismatch_at:%Y-%m-%d %H:%M}: {d.mismatch_detail}")
    if d.shared_fetch_at:
        columns.append(f"shared credentials {d.shared_fetch_at:%Y-%m-%d %H:%M} from {d.shared_fetch_ip or '?'}")
    return "\t".join(columns)


@devices.command("admit")
@click.argument("mac", required=False)
@click.option("--all-waiting", is_flag=True, help="every phone waiting, each at the address it was seen at")
@click.option("--address", help="the address its credentials go to (default: the one it was seen at)")
@tenant_option
@with_session
def devices_admit(
    ctx: Context, session: Session, mac: str | None, all_waiting: bool, address: str | None, tenant_name: str | None
) -> None:
    """Admit a waiting phone (setting device_admission): logins on it are allowed, and its own
    credentials go to its next fetch from the address it was seen at."""
    if mac is not None and not all_waiting:
        admitted = [phones.admit(session, mac, CLI_ACTOR, address, tenant_id=phone_tenant(session, mac))]
    elif mac is None and all_waiting and not address:
        admitted = phones.admit_all_waiting(session, CLI_ACTOR, tenant_id=tenant_id_of(session, tenant_name))
    else:
        raise click.UsageError("give a MAC (with --address if you like) or --all-waiting")
    for device in admitted:
        click.echo(
            f"{device.mac}: admitted; credentials to its next fetch from {device.admitted_address or 'any address'}"
        )
    if all_waiting:
        click.echo(f"{len(admitted)} phone(s) admitted")


@devices.command("add")
@click.argument("mac")
@click.option("--address", help="the only address its credentials go to (default: its first fetch's)")
@tenant_option
@with_session
def devices_add(ctx: Context, session: Session, mac: str, address: str | None, tenant_name: str | None) -> None:
    """Make a MAC known, admitted, before its phone fetches (under device_admission = known, the only way in);
    it is the tenant's, whose credentials it must then fetch with."""
    device = phones.add_known(session, mac, CLI_ACTOR, address, tenant_id=tenant_id_of(session, tenant_name))
    click.echo(f"{device.mac}: added; credentials to its first fetch from {device.admitted_address or 'any address'}")


@devices.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@DRY_RUN
@tenant_option
@with_session
def devices_import(ctx: Context, session: Session, file: Path, dry_run: bool, tenant_name: str | None) -> None:
    """Add MACs from a CSV file (mac[,address], optional header line), all or nothing: new ones are
    added, waiting ones admitted, admitted ones left as they are."""
    text = read_text(file)
    if dry_run:
        preview = phones.preview_known(session, text, str(file), tenant_id=tenant_id_of(session, tenant_name))
        report_preview(
            [f"line {row.line}\t{row.mac}\t{row.address or 'any address'}\t{row.action}" for row in preview.rows],
            preview.errors,
        )
        return
    imported = phones.import_known(session, text, str(file), CLI_ACTOR, tenant_id=tenant_id_of(session, tenant_name))
    click.echo(f"{len(imported.changed)} phone(s) added or admitted")


@devices.command("hand-over")
@click.argument("mac")
@click.option("--tenant", "tenant_name", required=True, metavar="T", help="the tenant it goes to")
@click.option("--address", help="admit it there at once (default: it waits for the tenant's admin)")
@with_session
def devices_hand_over(ctx: Context, session: Session, mac: str, tenant_name: str, address: str | None) -> None:
    """Hand a phone to another tenant: logged out and told, its own credentials withdrawn, admitted
    as a new phone of that tenant (at --address, or by its admin)."""
    tenant_id = tenant_id_of(session, tenant_name)
    moved = phones.hand_over(session, ctx.settings, ctx.hotdesk.notifier, mac, tenant_id, CLI_ACTOR, address)
    session.commit()  # the command's commit, early: the NOTIFY goes out after it, and is waited for
    click.echo(f"{moved.device.mac} is {tenant_name}'s now")
    if moved.logged_out is not None:
        click.echo(f"{moved.logged_out.number} logged out of {moved.device.mac}")
    if moved.notified is not None:
        click.echo(f"NOTIFY to {moved.device.mac}: {moved.notified.result().detail}")


@devices.command("reset-credentials")
@click.argument("mac")
@with_session
def devices_reset_credentials(ctx: Context, session: Session, mac: str) -> None:
    """Withdraw a phone's own provisioning credentials (e.g. after a factory reset); it is issued
    new ones at its next fetch with the global credentials."""
    device = phones.reset_credentials(session, mac, actor=CLI_ACTOR, tenant_id=phone_tenant(session, mac))
    click.echo(f"{device.mac}: credentials withdrawn; new ones are issued at its next fetch")
