"""`hotdesk users`: people's user accounts."""

from __future__ import annotations

import sys

import click
from sqlalchemy.orm import Session

from hotdesk.admin import (
    users,
)
from hotdesk.cli.base import (
    CLI_ACTOR,
    Context,
    main,
    tenant_id_of,
    tenant_option,
    with_session,
)


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
