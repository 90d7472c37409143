"""The mail queue: what is to be sent, and how it went.

Queued in the transaction that creates what the mail is about (an account), so a mail is queued if
and only if the account is saved; a failure to send touches only the queue. A sender claims a due
mail with one conditional UPDATE (`claim`), so two senders (gunicorn workers, hosts, the scheduler)
never send one mail twice; a claim runs out after `CLAIM` (a sender that died mid-send leaves its
mail to another: it may then go twice, never zero times). A failed attempt is tried again after a
backoff that doubles from `FIRST_RETRY` up to `LONGEST_RETRY`; after `ATTEMPTS` the mail is given up,
until an admin retries it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, insert, or_, select, update
from sqlalchemy.orm import Session

from hotdesk import events
from hotdesk.mail.options import SMTP_HOST
from hotdesk.models import EventKind, QueuedMail, User, utcnow
from hotdesk.setting_store import Settings

ATTEMPTS = 10
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)  # 10 attempts span about four hours
CLAIM = timedelta(minutes=5)  # longer than any send takes (smtp.TIMEOUT per step)
ACTOR = "mail"
_SMTP_HOST = Settings([SMTP_HOST])  # read alone where a mail is queued: the admin functions hold no registry


class MailKind(enum.StrEnum):
    ACCOUNT = "account"  # a new account's information and QR code (hotdesk.mail.account)
    TEST = "test"  # `hotdesk mail send-test`: is the SMTP setting right?
    ACCESS_CODE = "access_code"  # a sign-in's second factor (hotdesk.access_codes, hotdesk.mail.access_code)
    PASSWORD = "password"  # a link to choose the account password, asked for on the portal (hotdesk.mail.password)


class State(enum.StrEnum):
    QUEUED = "queued"  # waiting for its (next) attempt
    SENT = "sent"
    FAILED = "failed"  # given up after ATTEMPTS (an admin may retry it)


def state_of(mail: QueuedMail) -> State:
    if mail.sent_at is not None:
        return State.SENT
    if mail.failed_at is not None:
        return State.FAILED
    return State.QUEUED


def mail_configured(session: Session, tenant_id: int) -> bool:
    """Is smtp_host set for the tenant (its own value, else the installation's)?"""
    return bool(_SMTP_HOST.get(session, SMTP_HOST.name, tenant_id).strip())


def enqueue_account_mails(
    session: Session, users: Iterable[User], *, base_url: str | None = None, now: datetime | None = None
) -> int:
    """Queue the account mail of each of `users` (flushed, all of one tenant) whose extension has an
    e-mail address, if the tenant's smtp_host is set. Returns how many were queued."""
    now = now or utcnow()
    rows: list[dict[str, Any]] = []
    configured: dict[int, bool] = {}
    for user in users:
        email = user.extension.email
        if not email:
            continue
        if user.tenant_id not in configured:
            configured[user.tenant_id] = mail_configured(session, user.tenant_id)
        if configured[user.tenant_id]:
            rows.append(
                {
                    "tenant_id": user.tenant_id,
                    "kind": MailKind.ACCOUNT.value,
                    "recipient": email,
                    "user_id": user.id,
                    "base_url": (base_url or "")[:255] or None,
                    "created_at": now,
                    "attempts": 0,
                    "next_attempt_at": now,
                }
            )
    if rows:
        session.execute(insert(QueuedMail), rows)
    return len(rows)


def enqueue(
    session: Session,
    tenant_id: int,
    kind: MailKind,
    recipient: str,
    *,
    user: User | None = None,
    now: datetime | None = None,
) -> QueuedMail:
    """One mail to `recipient` (about `user`, if it is one's), due now."""
    now = now or utcnow()
    mail = QueuedMail(
        tenant_id=tenant_id,
        kind=kind.value,
        recipient=recipient,
        user_id=user.id if user is not None else None,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(mail)
    session.flush()
    return mail


def due(session: Session, now: datetime | None = None, limit: int = 20) -> list[int]:
    """Ids of mails due for an attempt and claimed by no live sender, the longest waiting first."""
    now = now or utcnow()
    query = (
        select(QueuedMail.id)
        .where(QueuedMail.next_attempt_at <= now, _unclaimed(now))
        .order_by(QueuedMail.next_attempt_at, QueuedMail.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def _unclaimed(now: datetime):
    return or_(QueuedMail.claimed_until.is_(None), QueuedMail.claimed_until < now)


def claim(session: Session, mail_id: int, holder: str, now: datetime | None = None) -> bool:
    """Take the mail for this attempt; False if another sender has it, or it is no longer due. The
    caller commits at once, so the claim is seen before the mail leaves."""
    now = now or utcnow()
    claimed = cast(
        "CursorResult[Any]",
        session.execute(
            update(QueuedMail)
            .where(QueuedMail.id == mail_id, QueuedMail.next_attempt_at <= now, _unclaimed(now))
            .values(claimed_by=holder[:128], claimed_until=now + CLAIM, attempts=QueuedMail.attempts + 1)
        ),
    )
    return claimed.rowcount == 1


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`th failed attempt: FIRST_RETRY, doubling, at most LONGEST_RETRY."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def _extension_of(session: Session, mail: QueuedMail) -> str | None:
    if mail.user_id is None:
        return None
    user = session.get(User, mail.user_id)
    return user.extension.number if user is not None else None


def sent(session: Session, mail: QueuedMail, now: datetime | None = None) -> None:
    now = now or utcnow()
    mail.sent_at, mail.next_attempt_at, mail.claimed_by, mail.claimed_until = now, None, None, None
    mail.last_error = None
    events.record(
        session,
        EventKind.MAIL_SENT,
        extension=_extension_of(session, mail),
        actor=ACTOR,
        detail=f"{mail.kind} mail {mail.id} sent to {mail.recipient}",
        tenant_id=mail.tenant_id,
    )


def failed(
    session: Session, mail: QueuedMail, reason: str, *, final: bool = False, now: datetime | None = None
) -> None:
    """Record a failed attempt: tried again after the backoff, or (`final`, or the last attempt) given up."""
    now = now or utcnow()
    mail.claimed_by, mail.claimed_until, mail.last_error = None, None, reason[:500]
    if final or mail.attempts >= ATTEMPTS:
        mail.failed_at, mail.next_attempt_at = now, None
        outcome = f"given up after {mail.attempts} attempt(s)"
    else:
        mail.next_attempt_at = now + retry_delay(mail.attempts)
        outcome = f"attempt {mail.attempts} of {ATTEMPTS} failed, next at {mail.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC"
    events.record(
        session,
        EventKind.MAIL_FAILED,
        extension=_extension_of(session, mail),
        actor=ACTOR,
        detail=f"{mail.kind} mail {mail.id} to {mail.recipient}: {outcome}: {reason}",
        tenant_id=mail.tenant_id,
    )


def listing(session: Session, tenant_id: int, *, limit: int = 100) -> Sequence[QueuedMail]:
    """The tenant's mails, the newest first."""
    query = select(QueuedMail).where(QueuedMail.tenant_id == tenant_id).order_by(QueuedMail.id.desc()).limit(limit)
    return list(session.scalars(query))


def retry(mail: QueuedMail, now: datetime | None = None) -> None:
    """Due now, with its attempts counted afresh (a mail given up, or waiting for its next attempt)."""
    mail.failed_at, mail.next_attempt_at, mail.attempts = None, now or utcnow(), 0
    mail.claimed_by = mail.claimed_until = None
