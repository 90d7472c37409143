"""E-mailed access codes: the second factor after a password or a PIN (interfaces.md section 7,
seed 004's "access code sent to your email address", with Resend Code).

A sign-in whose password (or a desk-phone login whose PIN) was right, where the second factor is
on, gets a *challenge*: an opaque token its face holds (the app's JSON, the portal's or console's
session, the phone's next screen), stored here only as its SHA-256. A mail is queued for it; the
code is made when that mail is composed (hotdesk.mail.access_code), so the queue never holds it,
and is kept only as an HMAC under the instance's secret key. A resend queues another mail, whose
code replaces the one before: only the latest mail's code works.

A code is single-use (one conditional UPDATE closes the challenge), lives `access_code_minutes`
from the sign-in or the latest resend, and a challenge takes MOST_WRONG_CODES wrong codes before
it is closed. What a wrong code costs the account beyond that (its sign-in lock, counted in the
history as a wrong password is) is the face's to write: each face counts failures its own way
(hotdesk.self_service, hotdesk.admin.accounts, hotdesk.lockout). A new challenge of the same
person at the same face closes the earlier one, so each person has one live code per face.

A desk phone's challenge belongs to that phone at that address: the code completes the login only
there (a colleague who read the code over a shoulder cannot use it on their own phone).

Functions flush; the caller commits.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from hotdesk.mail import queue
from hotdesk.models import AccessCode, Admin, EventKind, Extension, QueuedMail, User, utcnow
from hotdesk.settings import SettingError, SettingSpec, SettingValues, check_choice

CODE_DIGITS = 6  # typed on a desk phone's keypad as easily as in an app
MOST_WRONG_CODES = 5
RESEND_AFTER = timedelta(seconds=30)  # a resend waits this long after the code before it
MOST_RESENDS = 5
LONGEST_CODE = 32  # anything longer typed into a code field is no code


class SecondFactor(enum.StrEnum):
    OFF = "off"
    EMAIL = "email"


class Face(enum.StrEnum):
    PORTAL = "portal"
    APP = "app"
    CONSOLE = "console"
    PHONE = "phone"


def _check_minutes(value: str) -> str:
    value = value.strip()
    if not value.isdigit() or not 1 <= int(value) <= 60:
        raise SettingError(f"{value!r} is not a number of minutes from 1 to 60")
    return str(int(value))


TWO_FACTOR = SettingSpec(
    "two_factor",
    "a second factor after the account password at the portal and the app sign-in: off, or email (an access code)",
    lambda: "off",
    check_choice(SecondFactor),
    parse=SecondFactor,
)
PHONE_TWO_FACTOR = SettingSpec(
    "phone_two_factor",
    "an 'Access code' screen at the desk phone after the PIN: off, or email (the code goes to the extension's e-mail)",
    lambda: "off",
    check_choice(SecondFactor),
    parse=SecondFactor,
)
ACCESS_CODE_MINUTES = SettingSpec(
    "access_code_minutes",
    "how long an e-mailed access code works (it also stops at its first use or a resend)",
    lambda: "10",
    _check_minutes,
    parse=int,
)
SETTINGS = (TWO_FACTOR, PHONE_TWO_FACTOR, ACCESS_CODE_MINUTES)


class Refused(Exception):
    """The code completes nothing; the message may be shown to the person."""


class NoChallenge(Refused):
    """Unknown, expired, used, replaced or closed: the person signs in again."""

    def __init__(self) -> None:
        super().__init__("This sign-in has expired. Sign in again.")


class WrongCode(Refused):
    def __init__(self, remaining: int):
        super().__init__(
            f"Wrong access code. {remaining} attempt(s) left." if remaining else "Wrong access code. Sign in again."
        )
        self.remaining = remaining


class ResendRefused(Refused):
    def __init__(self, message: str, retry_after: timedelta | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class NoAddress(Refused):
    """The second factor is on and there is nowhere to send the code: no sign-in (fail closed)."""


@dataclass(frozen=True)
class Challenge:
    """What the face holds while the person fetches their code."""

    token: str
    expires_at: datetime
    sent_to: str  # the recipient, masked: "j…@example.com"


@dataclass(frozen=True)
class Who:
    """Whom a code signs in: a person, an extension at a desk phone, or a console admin."""

    tenant_id: int
    recipient: str | None
    user: User | None = None
    extension: Extension | None = None
    admin: Admin | None = None

    @classmethod
    def person(cls, user: User) -> Who:
        return cls(user.tenant_id, user.extension.email, user=user, extension=user.extension)

    @classmethod
    def at_phone(cls, extension: Extension) -> Who:
        return cls(extension.tenant_id, extension.email, extension=extension)

    @classmethod
    def console(cls, admin: Admin, tenant_id: int) -> Who:
        return cls(tenant_id, admin.email, admin=admin)


def required(settings: SettingValues, face: Face, admin: Admin | None = None) -> bool:
    """Does this sign-in need an access code? The console's is each admin's own choice."""
    if face is Face.CONSOLE:
        return admin is not None and admin.two_factor
    setting = PHONE_TWO_FACTOR if face is Face.PHONE else TWO_FACTOR
    return settings[setting] is SecondFactor.EMAIL


def start(
    session: Session,
    who: Who,
    face: Face,
    settings: SettingValues,
    *,
    mac: str | None = None,
    ip: str | None = None,
    context: str | None = None,
    base_url: str | None = None,
    now: datetime | None = None,
) -> Challenge:
    """A new challenge for `who` at `face`, its mail queued; earlier open ones of theirs there closed.
    NoAddress when there is no e-mail address or no mail server to send the code through."""
    now = now or utcnow()
    if not who.recipient:
        raise NoAddress("An access code is required, and there is no e-mail address to send it to: ask your admin.")
    if not queue.mail_configured(session, who.tenant_id):
        raise NoAddress("An access code is required, and this server cannot send mail yet: ask your admin.")
    _close(session, _open_of(who, face), "replaced", now)
    token = secrets.token_urlsafe(32)
    row = AccessCode(
        tenant_id=who.tenant_id,
        challenge_hash=_digest(token),
        face=face.value,
        user_id=who.user.id if who.user is not None else None,
        extension_id=who.extension.id if who.extension is not None else None,
        admin_id=who.admin.id if who.admin is not None else None,
        mac=mac,
        ip=(ip or "")[:45] or None,
        context=context[:255] if context else None,
        created_at=now,
        expires_at=now + timedelta(minutes=settings[ACCESS_CODE_MINUTES]),
        last_sent_at=now,
    )
    session.add(row)
    session.flush()
    _queue_mail(session, row, who.recipient, base_url, now)
    return Challenge(token, row.expires_at, masked(who.recipient))


def resend(
    session: Session, token: str, settings: SettingValues, *, mac: str | None = None, now: datetime | None = None
) -> tuple[AccessCode, Challenge]:
    """A new code for the challenge (the earlier one stops working once it is made), at most
    MOST_RESENDS times and RESEND_AFTER apart. The challenge lives `access_code_minutes` afresh."""
    now = now or utcnow()
    row = find(session, token, mac=mac, now=now)
    if row is None:
        raise NoChallenge()
    if row.resends >= MOST_RESENDS:
        raise ResendRefused("No more codes for this sign-in. Sign in again.")
    wait = (row.last_sent_at or row.created_at) + RESEND_AFTER - now
    if wait > timedelta(0):
        raise ResendRefused(f"A new code can be sent in {-(-int(wait.total_seconds()) // 1)} second(s).", wait)
    recipient = _recipient_of(session, row)
    if not recipient:
        raise NoChallenge()
    row.resends += 1
    row.last_sent_at = now
    row.expires_at = now + timedelta(minutes=settings[ACCESS_CODE_MINUTES])
    _queue_mail(session, row, recipient, None, now)
    return row, Challenge(token, row.expires_at, masked(recipient))


def check(
    session: Session,
    token: str,
    code: str,
    key: str | bytes,
    *,
    mac: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> AccessCode:
    """The challenge, closed as used, when `code` is its latest code; else NoChallenge or WrongCode
    (the last allowed wrong code closes it). A desk phone's challenge answers only that phone, there."""
    now = now or utcnow()
    row = find(session, token, mac=mac, now=now)
    if row is None or (row.face == Face.PHONE and row.ip is not None and row.ip != ip):
        raise NoChallenge()
    typed = "".join(code.split())[:LONGEST_CODE]
    if row.code_hash is not None and hmac.compare_digest(code_hash(key, row.id, typed), row.code_hash):
        used = cast(
            "CursorResult[Any]",
            session.execute(
                update(AccessCode)
                .where(AccessCode.id == row.id, AccessCode.closed_at.is_(None))
                .values(closed_at=now, closed_as="used")
            ),
        )
        if used.rowcount != 1:  # a racing request used it first
            raise NoChallenge()
        session.refresh(row)
        return row
    row.wrong_codes += 1
    remaining = max(MOST_WRONG_CODES - row.wrong_codes, 0)
    if not remaining:
        _close(session, [row], "too many wrong", now)
    session.flush()
    raise WrongCode(remaining)


def find(session: Session, token: str, *, mac: str | None = None, now: datetime | None = None) -> AccessCode | None:
    """The open, unexpired challenge `token` names (a desk phone's only for that phone), or None."""
    now = now or utcnow()
    if not token or len(token) > 128:
        return None
    # Read afresh: the sender (another thread or process) writes the code's hash when it mails it.
    query = select(AccessCode).where(AccessCode.challenge_hash == _digest(token))
    row = session.scalar(query.execution_options(populate_existing=True))
    if row is None or row.closed_at is not None or row.expires_at <= now:
        return None
    if row.face == Face.PHONE and row.mac != mac:
        return None
    return row


def code_hash(key: str | bytes, challenge_id: int, code: str) -> str:
    """How a code is kept: an HMAC under the instance key, of the challenge and the code."""
    secret = key.encode() if isinstance(key, str) else key
    return hmac.new(secret, f"access code {challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def masked(address: str) -> str:
    """Enough of an address for its owner to recognise it, too little to learn it from."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "…"
    return f"{local[:1]}…@{domain}"


def recorded_kind(resent: bool) -> EventKind:
    return EventKind.ACCESS_CODE_RESENT if resent else EventKind.ACCESS_CODE_SENT


def _queue_mail(session: Session, row: AccessCode, recipient: str, base_url: str | None, now: datetime) -> None:
    mail = queue.enqueue(session, row.tenant_id, queue.MailKind.ACCESS_CODE, recipient, now=now)
    mail.access_code_id = row.id
    mail.user_id = row.user_id
    mail.base_url = (base_url or "")[:255] or None
    session.flush()


def _recipient_of(session: Session, row: AccessCode) -> str | None:
    if row.admin_id is not None:
        admin = session.get(Admin, row.admin_id)
        return admin.email if admin is not None else None
    extension = session.get(Extension, row.extension_id) if row.extension_id is not None else None
    return extension.email if extension is not None else None


def _open_of(who: Who, face: Face):
    whose = (
        AccessCode.admin_id == who.admin.id
        if who.admin is not None
        else AccessCode.user_id == who.user.id
        if who.user is not None
        else AccessCode.extension_id == (who.extension.id if who.extension is not None else None)
    )
    return select(AccessCode).where(whose, AccessCode.face == face.value, AccessCode.closed_at.is_(None))


def _close(session: Session, rows, closed_as: str, now: datetime) -> None:
    found = session.scalars(rows) if not isinstance(rows, list) else rows
    for row in found:
        row.closed_at, row.closed_as = now, closed_as
    session.flush()


def newest_mail_id(session: Session, challenge_id: int) -> int | None:
    """The latest mail queued for a challenge: only its code may be made (a resend replaced the rest)."""
    return session.scalar(
        select(QueuedMail.id).where(QueuedMail.access_code_id == challenge_id).order_by(QueuedMail.id.desc()).limit(1)
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
