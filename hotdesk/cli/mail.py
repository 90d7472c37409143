"""`hotdesk mail`: the mail queue (account mails with the QR code), and a test of the SMTP settings."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from hotdesk.admin import mail
from hotdesk.cli.base import CLI_ACTOR, Context, main, tenant_id_of, tenant_option, with_session


@main.group("mail")
def mail_group() -> None:
    """Mails to people (their account information and QR code), sent within seconds by the web
    processes and `hotdesk scheduler`, retried with backoff; every outcome is in the history."""


def _moment(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment is not None else "-"


@mail_group.command("list")
@tenant_option
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(1, 1000), help="how many, the newest first"
)
@with_session
def mail_list(ctx: Context, session: Session, tenant_name: str | None, limit: int) -> None:
    """Mails, the newest first, one a line: id, state (queued, sent, failed), kind, recipient,
    extension, attempts, when (sent, given up, or the next attempt), the last failure's reason."""
    for view in mail.mails(session, tenant_id=tenant_id_of(session, tenant_name), limit=limit):
        when = view.sent_at or view.failed_at or view.next_attempt_at
        click.echo(
            f"{view.id}\t{view.state}\t{view.kind}\t{view.recipient}\t{view.extension or '-'}\t"
            f"attempts={view.attempts}\t{_moment(when)}\t{view.last_error or ''}".rstrip("\t")
        )


@mail_group.command("retry")
@click.argument("mail_id", metavar="ID", type=int)
@tenant_option
@with_session
def mail_retry(ctx: Context, session: Session, mail_id: int, tenant_name: str | None) -> None:
    """Send a mail that failed (or waits for its next attempt) again, within seconds."""
    view = mail.retry(session, mail_id, CLI_ACTOR, tenant_id=tenant_id_of(session, tenant_name))
    click.echo(f"mail {view.id} to {view.recipient} queued again")


@mail_group.command("send-test")
@click.argument("address")
@tenant_option
@with_session
def mail_send_test(ctx: Context, session: Session, address: str, tenant_name: str | None) -> None:
    """Send a test mail to ADDRESS now, through the tenant's SMTP settings; print how it went."""
    view = mail.send_test(session, address, CLI_ACTOR, tenant_id=tenant_id_of(session, tenant_name))
    session.commit()
    attempt = ctx.hotdesk.mail.send_now(view.id)
    if attempt is None:
        click.echo(f"test mail {view.id} to {view.recipient} queued (a running sender took it)")
    elif attempt.sent:
        click.echo(f"test mail {view.id} sent to {view.recipient}")
    else:
        raise click.ClickException(f"test mail {view.id} to {view.recipient} not sent: {attempt.reason}")


@mail_group.command("send-queued")
@click.pass_obj
def mail_send_queued(ctx: Context) -> None:
    """Send every mail that is due now, once (the web processes and `hotdesk scheduler` do it by themselves)."""
    done = ctx.hotdesk.mail.send_due()
    click.echo(f"{done.sent} sent, {done.failed} failed")
