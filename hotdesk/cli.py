"""The `hotdesk` command: what an admin scripts. Every error is one line naming the problem."""

from __future__ import annotations

import functools
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from hotdesk import credentials, directory, hotdesking, scheduler, schema, settings_registry, templates
from hotdesk.brands import BRANDS, normalize_mac
from hotdesk.config import Config
from hotdesk.db import make_engine, make_session_factory
from hotdesk.directory import DirectoryError, ExtensionData
from hotdesk.models import Device, Extension, Mapping, Template
from hotdesk.notifications import notification_recorder, tell_device
from hotdesk.notify import NotifyDispatcher
from hotdesk.settings import SettingError
from hotdesk.templates import TemplateError


class Context:
    def __init__(self) -> None:
        try:
            self.config = Config.from_env()
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        self.engine = make_engine(self.config.database_url)
        self.sessions = make_session_factory(self.engine)
        self.settings = settings_registry()


def with_session(command):
    """Give the command a session; turn known errors into one-line messages with exit status 1."""

    @functools.wraps(command)
    @click.pass_obj
    def wrapper(ctx: Context, *args, **kwargs):
        try:
            with ctx.sessions() as session:
                return command(ctx, session, *args, **kwargs)
        except (DirectoryError, SettingError, TemplateError) as error:
            raise click.ClickException(str(error)) from None
        except (OperationalError, ProgrammingError) as error:
            first_line = str(error.orig).splitlines()[0] if error.orig else str(error)
            raise click.ClickException(f"database: {first_line} (has `hotdesk init-db` been run?)") from None

    return wrapper


@click.group()
@click.pass_context
def main(click_ctx: click.Context) -> None:
    """Hot-desking server for desk phones. HOTDESK_DATABASE_URL chooses the database."""
    click_ctx.obj = Context()


@main.command("init-db")
@click.pass_obj
def init_db(ctx: Context) -> None:
    """Create or migrate the schema and seed what a new install needs. Safe to run again."""
    schema.upgrade(ctx.engine)
    with ctx.sessions() as session:
        schema.initialise(session, ctx.settings)
    click.echo("database ready")


# extensions


@main.group()
def extensions() -> None:
    """Users' SIP accounts."""


@extensions.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_session
def extensions_import(ctx: Context, session: Session, file: Path) -> None:
    """Add or update extensions from a CSV file, all or nothing.

    Columns: extension,name,secret (required); voicemail_pin,email,auth_name,template.
    """
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise click.ClickException(f"{file}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{file}: not UTF-8 text (byte {error.start})") from None
    rows = directory.read_csv(text, str(file))
    count = directory.import_rows(session, rows, str(file))
    click.echo(f"{count} extension(s) imported")
    weak = [row["extension"] for _, row in rows if row.get("voicemail_pin") and hotdesking.weak_pin(row["voicemail_pin"], row["extension"])]
    if weak:
        click.echo(f"warning: {len(weak)} imported PIN(s) are trivial to guess: see `hotdesk extensions weak-pins`", err=True)


@extensions.command("add")
@click.argument("number")
@click.option("--name", required=True)
@click.option("--secret", required=True)
@click.option("--pin", "voicemail_pin", default=None, help="voicemail PIN (the login password)")
@click.option("--email", default=None)
@click.option("--auth-name", default=None)
@click.option("--template", default=None, help="pin to a template: brand/name")
@with_session
def extensions_add(ctx: Context, session: Session, number: str, **fields) -> None:
    """Add (or update) one extension."""
    data = directory.check(ExtensionData(number=number, **fields))
    if data.template:
        directory.templates_named(session, data.template)
    directory.save(session, data)
    session.commit()
    click.echo(f"extension {data.number} saved")


@extensions.command("list")
@with_session
def extensions_list(ctx: Context, session: Session) -> None:
    """Extensions, one a line: number, name, voicemail yes/no, email."""
    for ext in session.scalars(select(Extension).order_by(Extension.number)):
        click.echo(f"{ext.number}\t{ext.name}\tvoicemail={'yes' if ext.voicemail_pin else 'no'}\t{ext.email or ''}")


# settings


@main.group()
def settings() -> None:
    """Runtime settings (addresses, passwords, ports)."""


@settings.command("get")
@click.argument("name")
@with_session
def settings_get(ctx: Context, session: Session, name: str) -> None:
    click.echo(ctx.settings.get(session, name))


@settings.command("set")
@click.argument("name")
@click.argument("value")
@with_session
def settings_set(ctx: Context, session: Session, name: str, value: str) -> None:
    stored = ctx.settings.set(session, name, value)
    session.commit()
    shown = "(hidden)" if ctx.settings.spec(name).secret else stored
    click.echo(f"{name} = {shown}")


@settings.command("list")
@with_session
def settings_list(ctx: Context, session: Session) -> None:
    """Every setting; passwords are shown as (hidden): use `settings get NAME`."""
    for name, value in sorted(ctx.settings.all(session).items()):
        spec = ctx.settings.spec(name)
        click.echo(f"{name} = {'(hidden)' if spec.secret else value}\t# {spec.help}")


# templates


@main.group("templates")
def templates_group() -> None:
    """Provisioning templates, one default per brand."""


@templates_group.command("list")
@with_session
def templates_list(ctx: Context, session: Session) -> None:
    for t in session.scalars(select(Template).order_by(Template.brand, Template.name)):
        click.echo(f"{t.brand}/{t.name}{'  (default)' if t.is_default else ''}")


@templates_group.command("set-default")
@click.argument("brand")
@click.argument("name")
@with_session
def templates_set_default(ctx: Context, session: Session, brand: str, name: str) -> None:
    templates.set_default(session, brand, name)
    click.echo(f"{brand}/{name} is now the default {brand} template")


# who is where


@main.group()
def mappings() -> None:
    """Who is logged in on which phone."""


@mappings.command("list")
@with_session
def mappings_list(ctx: Context, session: Session) -> None:
    for m in session.scalars(select(Mapping).order_by(Mapping.since)):
        template = hotdesking.choose_template(session, m.device, m)
        click.echo(
            f"{m.extension.number}\t{m.device.mac}\t{m.device.brand} {m.device.model or ''}\t"
            f"{template.brand}/{template.name}\t{m.address.value}\t{m.since:%Y-%m-%d %H:%M}"
        )


@main.command("logout")
@click.argument("mac")
@with_session
def logout(ctx: Context, session: Session, mac: str) -> None:
    """Log the user out of the phone with this MAC and tell the phone (SIP NOTIFY)."""
    normalized = normalize_mac(mac)
    if normalized is None:
        raise click.ClickException(f"{mac!r} is not a MAC address (12 hex digits, separators allowed)")
    device = session.scalar(select(Device).where(Device.mac == normalized))
    if device is None:
        raise click.ClickException(f"no phone with MAC {normalized} has contacted hotdesk")
    extension = hotdesking.logout(session, device, actor="cli")
    if extension is None:
        click.echo(f"nobody was logged in on {normalized}")
        return
    click.echo(f"{extension.number} logged out of {normalized}")
    brand = BRANDS.get(device.brand)
    if brand is None or not device.last_ip:
        return
    all_settings = ctx.settings.all(session)
    dispatcher = NotifyDispatcher(on_outcome=notification_recorder(ctx.sessions))
    sent = tell_device(
        dispatcher,
        host=device.last_ip,
        port=int(all_settings["phone_sip_port"]),
        event=brand.notify_event(all_settings),
        mac=device.mac,
        brand=device.brand,
        reason="logout by admin (cli)",
    )
    click.echo(f"NOTIFY to {device.last_ip}: {sent.result().detail}")
    dispatcher.shutdown()


# policies


@main.command("auto-logout")
@click.pass_obj
def auto_logout(ctx: Context) -> None:
    """Log out every login past its time (max_login_minutes, daily_logout_time) and tell the phones.

    Run it from cron every minute, or run `hotdesk scheduler` instead.
    """
    notifier = NotifyDispatcher()
    count = scheduler.auto_logout(ctx.sessions, ctx.settings, notifier)
    notifier.shutdown(wait=True)
    click.echo(f"{count} phone(s) logged out")


@main.command("scheduler")
@click.option("--interval", default=30.0, show_default=True, help="seconds between checks")
@click.pass_obj
def run_scheduler(ctx: Context, interval: float) -> None:
    """Run timed logouts forever; on several hosts at once, one works while the others stand by."""
    scheduler.run_forever(ctx.sessions, ctx.settings, interval)


@main.command("unlock")
@click.argument("number")
@with_session
def unlock(ctx: Context, session: Session, number: str) -> None:
    """Lift the failed-login lockout of an extension."""
    if session.scalar(select(Extension.id).where(Extension.number == number)) is None:
        raise click.ClickException(f"no extension {number}")
    hotdesking.unlock(session, number, actor="cli")
    click.echo(f"extension {number} unlocked")


@extensions.command("weak-pins")
@with_session
def extensions_weak_pins(ctx: Context, session: Session) -> None:
    """Extensions whose voicemail PIN is trivial to guess, and why (exit status 1 if any)."""
    weak = [
        (ext.number, reason)
        for ext in session.scalars(select(Extension).where(Extension.voicemail_pin.is_not(None)).order_by(Extension.number))
        if (reason := hotdesking.weak_pin(ext.voicemail_pin, ext.number))
    ]
    for number, reason in weak:
        click.echo(f"{number}\t{reason}")
    if weak:
        raise SystemExit(1)


# devices


@main.group()
def devices() -> None:
    """Phones that have fetched their files."""


@devices.command("list")
@with_session
def devices_list(ctx: Context, session: Session) -> None:
    """MAC, brand, model, firmware, last address and time, own credentials issued or not."""
    for d in session.scalars(select(Device).order_by(Device.mac)):
        seen = f"{d.last_seen:%Y-%m-%d %H:%M}" if d.last_seen else "-"
        own = "own-credentials" if d.provisioning_username else "global-credentials"
        click.echo(f"{d.mac}\t{d.brand}\t{d.model or '-'}\t{d.firmware or '-'}\t{d.last_ip or '-'}\t{seen}\t{own}")


@devices.command("reset-credentials")
@click.argument("mac")
@with_session
def devices_reset_credentials(ctx: Context, session: Session, mac: str) -> None:
    """Withdraw a phone's own provisioning credentials (e.g. after a factory reset); it is issued
    new ones at its next fetch with the global credentials."""
    normalized = normalize_mac(mac)
    if normalized is None:
        raise click.ClickException(f"{mac!r} is not a MAC address (12 hex digits, separators allowed)")
    device = session.scalar(select(Device).where(Device.mac == normalized))
    if device is None:
        raise click.ClickException(f"no phone with MAC {normalized} has contacted hotdesk")
    credentials.withdraw(session, device)
    click.echo(f"{normalized}: credentials withdrawn; new ones are issued at its next fetch")
