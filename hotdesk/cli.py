"""The `hotdesk` command: what an admin scripts. Every error is one line naming the problem."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import click
from click.core import ParameterSource
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from hotdesk import hotdesking, people, policy, runtime, scheduler, schema, tenancy
from hotdesk.admin import (
    MAX_PAGE_SIZE,
    AdminError,
    NotFound,
    Page,
    accounts,
    history,
    lockouts,
    phones,
    pins,
    users,
)
from hotdesk.admin import extensions as admin_extensions
from hotdesk.admin import settings as admin_settings
from hotdesk.admin import templates as admin_templates
from hotdesk.config import Config
from hotdesk.directory import DirectoryError, ExtensionData, spreadsheet_safe
from hotdesk.models import Device
from hotdesk.settings import SettingError
from hotdesk.templates import TemplateError
from hotdesk.tenancy import TenantError

T = TypeVar("T")
CLI_ACTOR = "cli"  # the actor of changes made from the command line, in the history


def every_page(fetch: Callable[..., Page[T]]) -> Iterator[T]:
    """Every item of a paged admin listing, page after page (`fetch` takes `after` and `limit`)."""
    after = None
    while True:
        page = fetch(after=after, limit=MAX_PAGE_SIZE)
        yield from page.items
        if page.next is None:
            return
        after = page.next


class Context:
    def __init__(self) -> None:
        try:
            self.config = Config.from_env()
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        self.hotdesk = runtime.build(self.config)  # wired as the web app is: fast path hooks, NOTIFY history
        self.engine, self.sessions, self.settings = self.hotdesk.engine, self.hotdesk.sessions, self.hotdesk.settings


def with_session(command):
    """Give the command a session, committed once when it returns and rolled back if it fails (the
    admin functions only flush); turn known errors into one-line messages with exit status 1."""

    @functools.wraps(command)
    @click.pass_obj
    def wrapper(ctx: Context, *args, **kwargs):
        try:
            with ctx.sessions() as session:
                result = command(ctx, session, *args, **kwargs)
                session.commit()
                return result
        except (DirectoryError, SettingError, TemplateError, AdminError, TenantError) as error:
            raise click.ClickException(str(error)) from None
        except (OperationalError, ProgrammingError) as error:
            first_line = str(error.orig).splitlines()[0] if error.orig else str(error)
            raise click.ClickException(f"database: {first_line} (has `hotdesk init-db` been run?)") from None

    return wrapper


def tenant_option(command):
    """`--tenant T`: the tenant the command is about (default: the default tenant, which is all an
    installation without tenants has)."""
    return click.option("--tenant", "tenant_name", default=None, metavar="T", help="the tenant (default: default)")(
        command
    )


def tenant_id_of(session: Session, name: str | None) -> int:
    return tenancy.by_name(session, name).id


def phone_tenant(session: Session, mac: str) -> int:
    """The tenant of the phone with this MAC: on the command line (a system admin's) a MAC names
    one phone whichever tenant has it."""
    return phones.tenant_of(session, mac)


@click.group()
@click.pass_context
def main(click_ctx: click.Context) -> None:
    """Hot-desking server for desk phones. HOTDESK_DATABASE_URL chooses the database."""
    click_ctx.obj = Context()
    click_ctx.call_on_close(click_ctx.obj.hotdesk.close)  # queued NOTIFYs finish and reach the history


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


# extensions


@main.group()
def extensions() -> None:
    """Users' SIP accounts."""


def read_text(file: Path) -> str:
    try:
        return file.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise click.ClickException(f"{file}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{file}: not UTF-8 text (byte {error.start})") from None


def report_preview(rows: list[str], errors: list[str]) -> None:
    """A dry run's answer: what each line would do; every bad line (exit status 1 if any)."""
    for row in rows:
        click.echo(row)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        raise SystemExit(1)


DRY_RUN = click.option("--dry-run", is_flag=True, help="only say what it would do, and every bad line; write nothing")


@extensions.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@DRY_RUN
@click.option(
    "--passwords-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write the generated user passwords to this file (CSV, mode 0600) instead of standard output",
)
@tenant_option
@with_session
def extensions_import(
    ctx: Context, session: Session, file: Path, dry_run: bool, passwords_out: Path | None, tenant_name: str | None
) -> None:
    """Add or update extensions from a CSV file, all or nothing.

    Columns: extension,name,secret (required); voicemail_pin,email,auth_name,template,username,
    user_password. Every extension gets a user account if it has none: its username from the
    `username` column, else made of the name ("Alice Martin" -> alice.martin, alice.martin.2 if
    taken); its password from `user_password`, else generated. Generated passwords are listed
    once (extension, username, password) on standard output, or with --passwords-out written to
    FILE readable by its owner only; each must be changed at the first sign-in.
    """
    text = read_text(file)
    tenant_id = tenant_id_of(session, tenant_name)
    if dry_run:
        preview = admin_extensions.preview_import(session, text, str(file), tenant_id=tenant_id)
        report_preview([f"line {row.line}\t{row.data.number}\t{row.action}" for row in preview.rows], preview.errors)
        return
    result = admin_extensions.import_csv(session, text, str(file), CLI_ACTOR, tenant_id=tenant_id)
    imported = result.rows
    if result.passwords and passwords_out is not None:
        _write_private(passwords_out, _passwords_csv(result.passwords))
    session.commit()  # the passwords are handed over for accounts that exist
    click.echo(f"{len(imported)} extension(s) imported")
    if result.passwords and passwords_out is not None:
        click.echo(f"{len(result.passwords)} generated user password(s) written to {passwords_out}")
    elif result.passwords:
        click.echo("generated user passwords (shown once; each must be changed at the first sign-in):")
        click.echo("".join(_passwords_csv(result.passwords)), nl=False)
    warnings = admin_extensions.import_warnings(imported, ctx.settings.values(session, tenant_id))
    if warnings.weak_secrets:
        click.echo(
            f"warning: {len(warnings.weak_secrets)} imported secret(s) break the secret policy:"
            " see `hotdesk extensions weak-secrets`",
            err=True,
        )
    if warnings.weak_pins:
        click.echo(
            f"warning: {len(warnings.weak_pins)} imported PIN(s) are outside pin_length or trivial to guess:"
            " see `hotdesk extensions weak-pins`",
            err=True,
        )


@extensions.command("add")
@click.argument("number")
@click.option("--name", required=True)
@click.option("--secret", default=None, help="SIP secret (secret_policy); left out: a new one is generated")
@click.option("--pin", "voicemail_pin", default=None, help="voicemail PIN (the login password; pin_length)")
@click.option("--email", default=None)
@click.option("--auth-name", default=None)
@click.option(
    "--username",
    default=None,
    metavar="U",
    help="the user account's username (not the extension number; unique in the tenant); left out: made of"
    " the name for a new account (Alice Martin -> alice.martin, alice.martin.2 if taken), kept for an existing one",
)
@click.option("--cell", default=None, help="the user's cell (mobile) number")
@click.option("--template", default=None, help="pin to a template: brand/name")
@tenant_option
@with_session
def extensions_add(
    ctx: Context,
    session: Session,
    number: str,
    secret: str | None,
    tenant_name: str | None,
    username: str | None,
    cell: str | None,
    **fields,
) -> None:
    """Add (or update) one extension: every field as given, an optional one left out is cleared.

    Without --secret a new extension gets a generated secret that meets the secret policy (printed
    on a line of its own, `secret: ...`); an existing one keeps its secret.

    Each extension has a user account (username and account password, never its SIP secret): a new
    one gets a generated password, printed once on a line of its own, `user password: ...`, which
    the user must change at the first sign-in (`hotdesk users set-password` sets another).
    """
    tenant_id = tenant_id_of(session, tenant_name)
    values = ctx.settings.values(session, tenant_id)
    generated = None
    try:
        changes = dict(fields) | ({"secret": secret} if secret is not None else {})
        saved = admin_extensions.update(session, number.strip(), changes, CLI_ACTOR, values, tenant_id=tenant_id)
    except NotFound:
        if secret is None:
            secret = generated = policy.generate_secret()
        data = ExtensionData(number=number, secret=secret, username=username, **fields)
        saved = admin_extensions.create(
            session, data, CLI_ACTOR, values, tenant_id=tenant_id, cell=cell and cell.strip()
        )
        made: str | None = people.pending_password(saved.user)
    else:
        opened = users.change(
            session,
            saved,
            CLI_ACTOR,
            username=username and username.strip(),
            cell=cell and cell.strip(),
            clear_cell=not cell,
        )
        made = opened.password if opened else None
    session.commit()  # before the secrets are shown: they open an extension and an account that exist
    click.echo(f"extension {saved.number} saved")
    if generated:
        click.echo(f"secret: {generated}")
    if made:
        click.echo(f"user password: {made}")


@extensions.command("set")
@click.argument("number")
@click.option("--name", default=None)
@click.option("--secret", default=None)
@click.option("--pin", "voicemail_pin", default=None, help="voicemail PIN (the login password)")
@click.option("--no-pin", is_flag=True, help="remove the voicemail PIN")
@click.option("--email", default=None, help="empty: none")
@click.option("--auth-name", default=None, help="empty: none")
@click.option("--username", default=None, metavar="U", help="rename the user account (not the extension number)")
@click.option("--cell", default=None, help="the user's cell number; empty: none")
@click.option("--template", default=None, help="pin to a template: brand/name")
@tenant_option
@with_session
def extensions_set(
    ctx: Context,
    session: Session,
    number: str,
    no_pin: bool,
    tenant_name: str | None,
    username: str | None,
    cell: str | None,
    **fields,
) -> None:
    """Change the given fields of an extension; the others keep their value. An extension without a
    user account (older than accounts) gets one: its generated password is printed once,
    `user password: ...`."""
    changes = {name: value for name, value in fields.items() if value is not None}
    if no_pin:
        if "voicemail_pin" in changes:
            raise click.UsageError("give --pin or --no-pin, not both")
        changes["voicemail_pin"] = None
    if not changes and username is None and cell is None:
        raise click.UsageError("name a field to change (--name, --secret, --pin, --no-pin, --email, ...)")
    tenant_id = tenant_id_of(session, tenant_name)
    values = ctx.settings.values(session, tenant_id)
    saved = admin_extensions.update(session, number.strip(), changes, CLI_ACTOR, values, tenant_id=tenant_id)
    opened = users.change(
        session,
        saved,
        CLI_ACTOR,
        username=username and username.strip(),
        cell=cell.strip() if cell is not None else None,
    )
    session.commit()  # before a generated password is shown: its account exists
    click.echo(f"extension {saved.number} changed")
    if opened and opened.password:
        click.echo(f"user password: {opened.password}")


@extensions.command("delete")
@click.argument("number")
@tenant_option
@with_session
def extensions_delete(ctx: Context, session: Session, number: str, tenant_name: str | None) -> None:
    """Delete an extension, logging it out of every phone it is on (one transaction); the phones are
    told by SIP NOTIFY."""
    tenant_id = tenant_id_of(session, tenant_name)
    devices = admin_extensions.delete(session, number.strip(), CLI_ACTOR, tenant_id=tenant_id)
    sent = [
        (
            device,
            phones.tell_reload(
                session, ctx.settings, ctx.hotdesk.notifier, device, reason=f"extension deleted by {CLI_ACTOR}"
            ),
        )
        for device in devices
    ]
    session.commit()  # the command's commit, early: the NOTIFYs go out after it, and are waited for
    click.echo(f"extension {number.strip()} deleted")
    for device, outcome in sent:
        click.echo(f"{number.strip()} logged out of {device.mac}")
        if outcome is not None:
            click.echo(f"NOTIFY to {device.mac}: {outcome.result().detail}")


@extensions.command("list")
@click.option("--search", default="", help="a number prefix or part of the name")
@tenant_option
@with_session
def extensions_list(ctx: Context, session: Session, search: str, tenant_name: str | None) -> None:
    """Extensions, one a line: number, name, voicemail yes/no, email."""
    tenant_id = tenant_id_of(session, tenant_name)
    for ext in every_page(functools.partial(admin_extensions.page, session, search=search, tenant_id=tenant_id)):
        click.echo(f"{ext.number}\t{ext.name}\tvoicemail={'yes' if ext.voicemail_pin else 'no'}\t{ext.email or ''}")


@extensions.command("show")
@click.argument("number")
@tenant_option
@with_session
def extensions_show(ctx: Context, session: Session, number: str, tenant_name: str | None) -> None:
    """One extension: name, auth name, e-mail, voicemail PIN set or not, pinned templates (never its secrets)."""
    ext = admin_extensions.get(session, number.strip(), tenant_id=tenant_id_of(session, tenant_name))
    click.echo(f"extension\t{ext.number}\nname\t{ext.name}\nauth_name\t{ext.auth_name or ''}\nemail\t{ext.email or ''}")
    click.echo(f"voicemail_pin\t{'set' if ext.voicemail_pin else 'none'}")
    for pin in sorted(ext.pins, key=lambda p: p.brand):
        click.echo(f"pinned\t{pin.brand}/{pin.template.name}")


@extensions.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True), default="-")
@tenant_option
@with_session
def extensions_export(ctx: Context, session: Session, file: Path, tenant_name: str | None) -> None:
    """Every extension as CSV, as `extensions import` reads it (secrets included), to FILE (default:
    standard output). Cells a spreadsheet would run as formulas start with a quote the import takes off."""
    tenant_id = tenant_id_of(session, tenant_name)
    if str(file) == "-":
        for chunk in admin_extensions.export_csv(session, tenant_id=tenant_id):
            click.echo(chunk, nl=False)
        return
    _write_private(file, admin_extensions.export_csv(session, tenant_id=tenant_id))  # SIP secrets and PINs


def _passwords_csv(passwords: list[users.Generated]) -> list[str]:
    """extension,username,user_password: no cell needs quoting (numbers, usernames and generated
    passwords have no comma or quote); a number a spreadsheet would run as a formula starts with a quote."""
    return [
        "extension,username,user_password\n",
        *(f"{spreadsheet_safe(p.extension)},{p.username},{p.password}\n" for p in passwords),
    ]


def _write_private(path: Path, lines: Iterable[str]) -> None:
    """Write a file only its owner may read (passwords, secrets); one line naming the problem if it cannot."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # a file that was there keeps no wider mode
        with open(descriptor, "w", encoding="utf-8", newline="") as out:
            out.writelines(lines)
    except OSError as error:
        raise click.ClickException(f"{path}: {error.strerror}") from None


# users


@main.group("users")
def users_group() -> None:
    """People's user accounts (one per extension): they sign in to the portal with a LOGIN,
    username@sipdomain (or the bare username in the default tenant), and their account password."""


@users_group.command("set-password")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (else one is generated)")
@click.option("--temporary", is_flag=True, help="the user must change it at the next sign-in")
@with_session
def users_set_password(ctx: Context, session: Session, login: str, password_stdin: bool, temporary: bool) -> None:
    """Set a user's account password; without --password-stdin generate one, print it once on a line
    of its own (`user password: ...`) and have the user change it at the next sign-in. The user's
    portal sessions end."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
    user = users.by_login(session, login)
    made = users.set_password(session, user, CLI_ACTOR, password, temporary=temporary)
    session.commit()
    click.echo(f"password of {users.login_of(session, user)} set")
    if made.password is not None:
        click.echo(f"user password: {made.password}")


@users_group.command("list")
@tenant_option
@with_session
def users_list(ctx: Context, session: Session, tenant_name: str | None) -> None:
    """User accounts, one a line: username, extension, must_change_password yes/no (never a password)."""
    for user, number in users.listing(session, tenant_id=tenant_id_of(session, tenant_name)):
        click.echo(f"{user.username}\t{number}\tmust_change_password={'yes' if user.must_change_password else 'no'}")


# settings


@main.group()
def settings() -> None:
    """Runtime settings (addresses, passwords, ports)."""


@settings.command("get")
@click.argument("name")
@tenant_option
@with_session
def settings_get(ctx: Context, session: Session, name: str, tenant_name: str | None) -> None:
    """The bare value: the tenant's own, else the installation's."""
    click.echo(admin_settings.get(session, ctx.settings, name, _tenant_or_installation(session, tenant_name)).value)


@settings.command("set")
@click.argument("name")
@click.argument("value")
@tenant_option
@with_session
def settings_set(ctx: Context, session: Session, name: str, value: str, tenant_name: str | None) -> None:
    """Without --tenant, the installation's value: the default tenant's, and every tenant's that has
    none of its own."""
    tenant_id = _tenant_or_installation(session, tenant_name)
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
    for view in admin_settings.listing(session, ctx.settings, _tenant_or_installation(session, tenant_name)):
        click.echo(f"{view.name} = {'(hidden)' if view.secret else view.value}\t# {view.help}")


def _tenant_or_installation(session: Session, name: str | None) -> int | None:
    return None if name is None else tenant_id_of(session, name)


# tenants


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


# templates


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
    tenant_id = _tenant_or_installation(session, tenant_name)
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
    click.echo(admin_templates.get(session, brand, name, _tenant_or_installation(session, tenant_name)).body, nl=False)


@templates_group.command("set-default")
@click.argument("brand")
@click.argument("name")
@template_tenant_option
@with_session
def templates_set_default(ctx: Context, session: Session, brand: str, name: str, tenant_name: str | None) -> None:
    """Make BRAND/NAME the default: the system's, or with --tenant the tenant's (one of its own, or
    the system's default to go back to it)."""
    admin_templates.set_default(session, brand, name, CLI_ACTOR, _tenant_or_installation(session, tenant_name))
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
    admin_templates.delete(session, brand, name, CLI_ACTOR, _tenant_or_installation(session, tenant_name))
    click.echo(f"template {brand}/{name} deleted")


# who is where


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


# policies


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


@extensions.command("weak-pins")
@tenant_option
@with_session
def extensions_weak_pins(ctx: Context, session: Session, tenant_name: str | None) -> None:
    """Extensions whose voicemail PIN is outside pin_length or trivial to guess, and why (exit status 1 if any)."""
    tenant_id = tenant_id_of(session, tenant_name)
    _weak(admin_extensions.weak_pins(session, ctx.settings.values(session, tenant_id), tenant_id=tenant_id))


@extensions.command("weak-secrets")
@tenant_option
@with_session
def extensions_weak_secrets(ctx: Context, session: Session, tenant_name: str | None) -> None:
    """Extensions whose SIP secret breaks the strong secret policy (imported from a PBX), and the
    rules it breaks (exit status 1 if any)."""
    _weak(admin_extensions.weak_secrets(session, tenant_id=tenant_id_of(session, tenant_name)))


def _weak(weak: list[admin_extensions.Weak]) -> None:
    for row in weak:
        click.echo(f"{row.number}\t{row.reason}")
    if weak:
        raise SystemExit(1)


@main.group("secrets")
def secrets_group() -> None:
    """SIP secrets."""


@secrets_group.command("generate")
def secrets_generate() -> None:
    """Print a random SIP secret that meets the strong secret policy."""
    click.echo(policy.generate_secret())


# devices


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
    tenant_id = _tenant_or_installation(session, tenant_name)
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


# history


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


# admins and API tokens


@main.group("admins")
def admins_group() -> None:
    """People who may sign in to the web console."""


def _new_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@admins_group.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of standard input")
@click.option("--tenant", "tenant_name", default=None, metavar="T", help="a manager of tenant T only (default: system)")
@with_session
def admins_add(ctx: Context, session: Session, name: str, password_stdin: bool, tenant_name: str | None) -> None:
    """A system admin, or with --tenant the manager of one tenant, who sees and changes only it."""
    accounts.check_name(name)
    tenant_id = None if tenant_name is None else tenant_id_of(session, tenant_name)
    accounts.add_admin(session, name, _new_password(password_stdin), CLI_ACTOR, tenant_id=tenant_id)
    click.echo(f"admin {name} added" + (f" (manager of {tenant_name})" if tenant_name else ""))


@admins_group.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of standard input")
@with_session
def admins_set_password(ctx: Context, session: Session, name: str, password_stdin: bool) -> None:
    """New password; the admin's open console sessions end."""
    accounts.set_password(session, name, _new_password(password_stdin), CLI_ACTOR)
    click.echo(f"password of {name} changed")


@admins_group.command("remove")
@click.argument("name")
@with_session
def admins_remove(ctx: Context, session: Session, name: str) -> None:
    accounts.remove_admin(session, name, CLI_ACTOR)
    click.echo(f"admin {name} removed")


@admins_group.command("list")
@with_session
def admins_list(ctx: Context, session: Session) -> None:
    """Admins: name, role (system, or the tenant they manage), since."""
    names = {tenant.id: tenant.name for tenant in tenancy.listing(session)}
    for admin in accounts.admins(session):
        role = f"manager of {names[admin.tenant_id]}" if admin.tenant_id else "system"
        click.echo(f"{admin.name}\t{role}\tsince {admin.created_at:%Y-%m-%d}")


@main.group("tokens")
def tokens_group() -> None:
    """Bearer tokens for the REST API (/api/v1/)."""


@tokens_group.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="read (GET), write (changes), secrets (answers with SIP secrets, PINs, passwords; brings read); "
    "repeat for several [default: read, write]",
)
@click.option("--expires", default=None, help="DAYS from now, or a DATE (YYYY-MM-DD, through its end, UTC)")
@click.option("--tenant", "tenant_name", default=None, metavar="T", help="reaches tenant T only (default: system)")
@with_session
def tokens_create(
    ctx: Context, session: Session, name: str, scopes: tuple[str, ...], expires: str | None, tenant_name: str | None
) -> None:
    """Create a token and print it once: only its hash is kept. With --tenant it reaches that tenant only."""
    new = accounts.create_token(
        session,
        name,
        CLI_ACTOR,
        scopes=scopes or accounts.DEFAULT_SCOPES,
        expires_at=accounts.parse_expiry(expires) if expires else None,
        tenant_id=None if tenant_name is None else tenant_id_of(session, tenant_name),
    )
    click.echo(new.secret)
    click.echo(f"token {name} created ({new.token.scopes}): store it now, it cannot be shown again", err=True)


@tokens_group.command("list")
@with_session
def tokens_list(ctx: Context, session: Session) -> None:
    """Tokens: name, scopes, tenant (or system), created, last used, expiry."""
    names = {tenant.id: tenant.name for tenant in tenancy.listing(session)}
    for token in accounts.tokens(session):
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
        expires = f"expires {token.expires_at:%Y-%m-%d %H:%M}" if token.expires_at else "no expiry"
        if token.expires_at and accounts.token_expired(token):
            expires = f"expired {token.expires_at:%Y-%m-%d %H:%M}"
        click.echo(
            f"{token.name}\t{token.scopes.replace(' ', ',')}"
            f"\t{names[token.tenant_id] if token.tenant_id else 'system'}\tcreated {token.created_at:%Y-%m-%d}"
            f"\tlast used {used}\t{expires}"
        )


@tokens_group.command("revoke")
@click.argument("name")
@with_session
def tokens_revoke(ctx: Context, session: Session, name: str) -> None:
    accounts.revoke_token(session, name, CLI_ACTOR)
    click.echo(f"token {name} revoked")
