"""The `hotdesk` command's group and what every command shares: the running hotdesk, a session per
command, one-line errors."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from hotdesk import runtime, tenancy
from hotdesk.admin import (
    MAX_PAGE_SIZE,
    AdminError,
    Page,
    phones,
    users,
)
from hotdesk.config import Config
from hotdesk.directory import DirectoryError, spreadsheet_safe
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


def passwords_csv(passwords: list[users.Generated]) -> list[str]:
    """extension,username,user_password: no cell needs quoting (numbers, usernames and generated
    passwords have no comma or quote); a number a spreadsheet would run as a formula starts with a quote."""
    return [
        "extension,username,user_password\n",
        *(f"{spreadsheet_safe(p.extension)},{p.username},{p.password}\n" for p in passwords),
    ]


def write_private(path: Path, lines: Iterable[str]) -> None:
    """Write a file only its owner may read (passwords, secrets); one line naming the problem if it cannot."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # a file that was there keeps no wider mode
        with open(descriptor, "w", encoding="utf-8", newline="") as out:
            out.writelines(lines)
    except OSError as error:
        raise click.ClickException(f"{path}: {error.strerror}") from None


def tenant_or_installation(session: Session, name: str | None) -> int | None:
    return None if name is None else tenant_id_of(session, name)
