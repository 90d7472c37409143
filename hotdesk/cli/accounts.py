"""`hotdesk admins` and `hotdesk tokens`: who may use the console and the API."""

from __future__ import annotations

import sys

import click
from sqlalchemy.orm import Session

from hotdesk import tenancy
from hotdesk.admin import (
    accounts,
)
from hotdesk.cli.base import (
    CLI_ACTOR,
    Context,
    main,
    tenant_id_of,
    with_session,
)


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
@click.option("--email", default=None, metavar="E", help="the admin's e-mail address (where access codes go)")
@click.option("--two-factor", is_flag=True, help="sign in with an access code mailed to --email after the password")
@with_session
def admins_add(
    ctx: Context,
    session: Session,
    name: str,
    password_stdin: bool,
    tenant_name: str | None,
    email: str | None,
    two_factor: bool,
) -> None:
    """A system admin, or with --tenant the manager of one tenant, who sees and changes only it."""
    accounts.check_name(name)
    accounts.check_sign_in(name, email, two_factor)  # before the password is asked for
    tenant_id = None if tenant_name is None else tenant_id_of(session, tenant_name)
    accounts.add_admin(
        session,
        name,
        _new_password(password_stdin),
        CLI_ACTOR,
        tenant_id=tenant_id,
        email=email,
        two_factor=two_factor,
    )
    role = f" (manager of {tenant_name})" if tenant_name else ""
    click.echo(f"admin {name} added{role}" + (f", signs in with an access code sent to {email}" if two_factor else ""))


@admins_group.command("set")
@click.argument("name")
@click.option("--email", default=None, metavar="E", help='the admin\'s e-mail address ("" for none)')
@click.option(
    "--two-factor/--no-two-factor",
    "two_factor",
    default=None,
    help="an access code mailed to the admin after the password at each sign-in, or not",
)
@with_session
def admins_set(ctx: Context, session: Session, name: str, email: str | None, two_factor: bool | None) -> None:
    """Change the admin's e-mail address and whether their sign-in asks for an access code."""
    admin = accounts.set_sign_in(session, name, CLI_ACTOR, email=email, two_factor=two_factor)
    how = f"an access code sent to {admin.email}" if admin.two_factor else "the password alone"
    click.echo(f"admin {name} signs in with {how}")


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
    """Admins: name, role (system, or the tenant they manage), since, e-mail, two-factor (when on)."""
    names = {tenant.id: tenant.name for tenant in tenancy.listing(session)}
    for admin in accounts.admins(session):
        role = f"manager of {names[admin.tenant_id]}" if admin.tenant_id else "system"
        extra = f"\t{admin.email or '-'}" + ("\ttwo-factor" if admin.two_factor else "")
        click.echo(f"{admin.name}\t{role}\tsince {admin.created_at:%Y-%m-%d}" + (extra if admin.email else ""))


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
