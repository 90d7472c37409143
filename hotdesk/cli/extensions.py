"""`hotdesk extensions`: users' SIP accounts."""

from __future__ import annotations

import functools
from pathlib import Path

import click
from sqlalchemy.orm import Session

from hotdesk import people, policy
from hotdesk.admin import (
    NotFound,
    phones,
    users,
)
from hotdesk.admin import extensions as admin_extensions
from hotdesk.cli.base import (
    CLI_ACTOR,
    DRY_RUN,
    Context,
    every_page,
    main,
    passwords_csv,
    read_text,
    report_preview,
    tenant_id_of,
    tenant_option,
    with_session,
    write_private,
)
from hotdesk.directory import ExtensionData


@main.group()
def extensions() -> None:
    """Users' SIP accounts."""


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
        write_private(passwords_out, passwords_csv(result.passwords))
    session.commit()  # the passwords are handed over for accounts that exist
    click.echo(f"{len(imported)} extension(s) imported")
    if result.passwords and passwords_out is not None:
        click.echo(f"{len(result.passwords)} generated user password(s) written to {passwords_out}")
    elif result.passwords:
        click.echo("generated user passwords (shown once; each must be changed at the first sign-in):")
        click.echo("".join(passwords_csv(result.passwords)), nl=False)
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
    click.echo(f"source\t{'the PBX (sync asterisk)' if ext.source else 'hotdesk'}")
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
    write_private(file, admin_extensions.export_csv(session, tenant_id=tenant_id))  # SIP secrets and PINs


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
