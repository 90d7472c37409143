"""The mail queue as admins see it: every mail of the tenant and how it went, a retry of one that
failed, and a test mail that shows whether the SMTP settings work. The senders (hotdesk.mail.sender)
do the sending; these only queue, list and reschedule (the faces commit)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotdesk.admin import AdminError, Conflict, NotFound, record_change
from hotdesk.mail import queue
from hotdesk.mail.queue import MailKind, State
from hotdesk.models import Extension, QueuedMail, User, utcnow

_ADDRESS = re.compile(r"[^@\s\x00-\x1f\x7f<>()\[\],;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


@dataclass(frozen=True)
class MailView:
    id: int
    kind: str
    recipient: str
    extension: str | None  # the account's, for an account mail
    state: State
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str | None  # the last failure's reason: never a password or token


def _view(mail: QueuedMail, extension: str | None) -> MailView:
    return MailView(
        mail.id,
        mail.kind,
        mail.recipient,
        extension,
        queue.state_of(mail),
        mail.attempts,
        mail.created_at,
        mail.next_attempt_at,
        mail.sent_at,
        mail.failed_at,
        mail.last_error,
    )


def mails(session: Session, *, tenant_id: int, limit: int = 100) -> list[MailView]:
    """The tenant's mails, the newest first."""
    rows = session.execute(
        select(QueuedMail, Extension.number)
        .outerjoin(User, QueuedMail.user_id == User.id)
        .outerjoin(Extension, User.extension_id == Extension.id)
        .where(QueuedMail.tenant_id == tenant_id)
        .order_by(QueuedMail.id.desc())
        .limit(limit)
    )
    return [_view(mail, number) for mail, number in rows]


def _mail(session: Session, mail_id: int, tenant_id: int) -> QueuedMail:
    mail = session.get(QueuedMail, mail_id)
    if mail is None or mail.tenant_id != tenant_id:
        raise NotFound(f"no mail {mail_id}")
    return mail


def retry(session: Session, mail_id: int, actor: str, *, tenant_id: int) -> MailView:
    """Send a mail again now, with its attempts counted afresh: one given up, or one waiting for its
    next attempt. An account mail sent again carries a new link; the one it replaces stops working."""
    mail = _mail(session, mail_id, tenant_id)
    now = utcnow()
    if mail.sent_at is not None:
        raise Conflict(f"mail {mail_id} was sent at {mail.sent_at:%Y-%m-%d %H:%M} UTC")
    if mail.claimed_until is not None and mail.claimed_until > now:
        raise Conflict(f"mail {mail_id} is being sent now")
    queue.retry(mail, now)
    record_change(session, actor, f"{mail.kind} mail {mail.id} to {mail.recipient}: sent again", tenant_id=tenant_id)
    session.flush()
    user = session.get(User, mail.user_id) if mail.user_id is not None else None
    return _view(mail, user.extension.number if user is not None else None)


def send_test(session: Session, recipient: str, actor: str, *, tenant_id: int) -> MailView:
    """Queue a test mail to `recipient` through the tenant's SMTP settings; it goes within seconds,
    and its outcome shows in the list and the history."""
    recipient = recipient.strip()
    if len(recipient) > 254 or not _ADDRESS.fullmatch(recipient):
        raise AdminError(f"{recipient[:80]!r} is not an e-mail address such as someone@example.com")
    if not queue.mail_configured(session, tenant_id):
        raise AdminError("smtp_host is not set: there is no SMTP server to send through")
    mail = queue.enqueue(session, tenant_id, MailKind.TEST, recipient)
    record_change(session, actor, f"test mail {mail.id} to {recipient} queued", tenant_id=tenant_id)
    session.flush()
    return _view(mail, None)
