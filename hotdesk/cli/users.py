"""`hotdesk users`: people's user accounts."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy.orm import Session

from hotdesk.admin import apps, users
from hotdesk.cli.base import (
    CLI_ACTOR,
    Context,
    main,
    tenant_id_of,
    tenant_option,
    with_session,
)
from hotdesk.softphone import qr


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


@users_group.command("qr")
@click.argument("login")
@click.option("--refresh", is_flag=True, help="a new QR code: every earlier one stops working at once")
@click.option("--png", "png_file", type=click.Path(dir_okay=False, path_type=Path), help="write the QR code as PNG")
@click.option("--svg", "svg_file", type=click.Path(dir_okay=False, path_type=Path), help="write the QR code as SVG")
@with_session
def users_qr(
    ctx: Context, session: Session, login: str, refresh: bool, png_file: Path | None, svg_file: Path | None
) -> None:
    """Print the URL the user's QR code holds (single use, expiring: qr_token_minutes); a softphone
    app (Linphone) that fetches it is signed in to the user's extension. It carries no password."""
    user = users.by_login(session, login)
    made = apps.sign_in_url(session, ctx.settings, ctx.config.secret_key, user, CLI_ACTOR, refresh=refresh)
    for path, image in ((png_file, qr.png), (svg_file, qr.svg)):
        if path is not None:
            try:
                path.write_bytes(image(made.url))
            except OSError as error:
                raise click.ClickException(f"{path}: {error.strerror}") from None
    session.commit()
    click.echo(made.url)
    if made.warning:
        click.echo(f"warning: {made.warning}", err=True)


@users_group.command("qr-choices")
@click.argument("login")
@click.option("--transport", default=None, metavar="T", help="udp, tcp or tls; empty: the tenant's qr_transport")
@click.option("--address", default=None, metavar="A", help="external or internal; empty: the tenant's qr_address")
@with_session
def users_qr_choices(ctx: Context, session: Session, login: str, transport: str | None, address: str | None) -> None:
    """The user's own transport and server address for their app (seeds: "Preferred transport for
    QR code", "Generate a QR Code with the network interface below"). Apps signed in get them at
    their next start, QR codes not yet used when they are used."""
    user = users.by_login(session, login)
    apps.set_qr_choices(
        session,
        user,
        CLI_ACTOR,
        transport=user.qr_transport if transport is None else transport,
        address=user.qr_address if address is None else address,
    )
    click.echo(
        f"QR choices of {users.login_of(session, user)}: transport {user.qr_transport or '(tenant setting)'},"
        f" address {user.qr_address or '(tenant setting)'}"
    )


@users_group.command("apps")
@click.argument("login")
@with_session
def users_apps(ctx: Context, session: Session, login: str) -> None:
    """The softphone apps signed in to the user's account, one a line: id, state, signed in, last
    seen (UTC), last address, the app's name."""
    for app in apps.apps(session, users.by_login(session, login)):
        state = "revoked" if app.revoked_at else "active"
        seen = app.last_seen_at.strftime("%Y-%m-%d %H:%M") if app.last_seen_at else "-"
        click.echo(
            f"{app.id}\t{state}\t{app.created_at:%Y-%m-%d %H:%M}\t{seen}\t{app.last_address or '-'}\t{app.label}"
        )


@users_group.command("revoke-app")
@click.argument("login")
@click.argument("app_id", type=int)
@with_session
def users_revoke_app(ctx: Context, session: Session, login: str, app_id: int) -> None:
    """Take the account away from one of the user's apps: at its next start it is given a
    configuration without it, and stops registering."""
    app = apps.revoke_app(session, users.by_login(session, login), app_id, CLI_ACTOR)
    click.echo(f"app {app.id} ({app.label}) revoked")
