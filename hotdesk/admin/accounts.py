"""Admin accounts (argon2 password hashes), console sign-in with throttling, and REST API tokens.

Failed sign-ins are counted from the history, as phone logins are: every worker and host agrees
without a counter table, and a successful sign-in starts the count again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotdesk import events
from hotdesk.admin import AdminError, Conflict, NotFound, record_change
from hotdesk.models import Admin, ApiToken, Event, EventKind, utcnow

_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
MIN_PASSWORD = 10
SIGNIN_WINDOW = timedelta(minutes=15)
FAILURES_PER_NAME = 5
FAILURES_PER_ADDRESS = 20  # higher: several admins may share an office's address
TOKEN_PREFIX = "hdk_"
LAST_USED_PRECISION = timedelta(minutes=5)

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # verified for unknown names: same time taken


class SignInRefused(AdminError):
    def __init__(self, message: str, retry_after: timedelta | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def check_name(name: str, what: str = "name") -> str:
    if not _NAME.fullmatch(name):
        raise AdminError(f"{what}: {name!r} is not a name (letters, digits, . _ @ -; at most 64)")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD or not password.isprintable():
        raise AdminError(f"password: needs at least {MIN_PASSWORD} printable characters")
    return password


def session_key(admin: Admin) -> str:
    """Stored in the console's session cookie: changes when the password does, ending old sessions."""
    return hashlib.sha256(admin.password_hash.encode()).hexdigest()[:32]


# admins


def admins(session: Session) -> list[Admin]:
    return list(session.scalars(select(Admin).order_by(Admin.name)))


def add_admin(session: Session, name: str, password: str, actor: str) -> Admin:
    check_name(name)
    check_password(password)
    if session.scalar(select(Admin.id).where(Admin.name == name)) is not None:
        raise Conflict(f"admin {name} already exists")
    admin = Admin(name=name, password_hash=_hasher.hash(password))
    session.add(admin)
    record_change(session, actor, f"admin {name} added")
    session.commit()
    return admin


def set_password(session: Session, name: str, password: str, actor: str) -> None:
    admin = _admin(session, name)
    admin.password_hash = _hasher.hash(check_password(password))
    record_change(session, actor, f"admin {name}: password changed")
    session.commit()


def remove_admin(session: Session, name: str, actor: str) -> None:
    session.delete(_admin(session, name))
    record_change(session, actor, f"admin {name} removed")
    session.commit()


def _admin(session: Session, name: str) -> Admin:
    admin = session.scalar(select(Admin).where(Admin.name == name))
    if admin is None:
        raise NotFound(f"no admin {name}")
    return admin


def sign_in(session: Session, name: str, password: str, ip: str | None) -> Admin:
    """The admin, or SignInRefused (wrong name or password, or too many failures lately)."""
    name, now = "".join(ch for ch in name if ch.isprintable()).strip()[:64], utcnow()
    wait = _throttled(session, name, ip, now)
    if wait is not None:
        minutes = -(-int(wait.total_seconds()) // 60)
        raise SignInRefused(f"Too many failed sign-ins. Try again in {minutes} minute(s).", wait)
    admin = session.scalar(select(Admin).where(Admin.name == name))
    try:
        _hasher.verify(admin.password_hash if admin else _DUMMY_HASH, password)
        ok = admin is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        events.record(session, EventKind.ADMIN_SIGNIN_FAILED, actor=name, ip=ip)
        session.commit()
        raise SignInRefused("Wrong name or password.")
    if _hasher.check_needs_rehash(admin.password_hash):
        admin.password_hash = _hasher.hash(password)
    events.record(session, EventKind.ADMIN_SIGNIN, actor=name, ip=ip)
    session.commit()
    return admin


def _throttled(session: Session, name: str, ip: str | None, now) -> timedelta | None:
    """How long sign-ins for this name (or from this address) stay refused; None if they are not."""
    checks = [(Event.actor == name, FAILURES_PER_NAME)] + ([(Event.ip == ip, FAILURES_PER_ADDRESS)] if ip else [])
    waits = [
        events.locked_for(
            session,
            who,
            failed=EventKind.ADMIN_SIGNIN_FAILED,
            resets=(EventKind.ADMIN_SIGNIN,),
            allowed=allowed,
            window=SIGNIN_WINDOW,
            now=now,
        )
        for who, allowed in checks
    ]
    return max((wait for wait in waits if wait), default=None)


# API tokens


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once: only its hash is stored


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.name)))


def create_token(session: Session, name: str, actor: str) -> NewToken:
    check_name(name)
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise Conflict(f"token {name} already exists")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, token_hash=_digest(secret))
    session.add(token)
    record_change(session, actor, f"API token {name} created")
    session.commit()
    return NewToken(token, secret)


def revoke_token(session: Session, name: str, actor: str) -> None:
    token = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if token is None:
        raise NotFound(f"no token {name}")
    session.delete(token)
    record_change(session, actor, f"API token {name} revoked")
    session.commit()


def token_named_by(session: Session, secret: str) -> ApiToken | None:
    """The token a bearer secret belongs to, or None. Looked up by hash, so no secret is compared."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if token is None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - events.aware(token.last_used_at) > LAST_USED_PRECISION:
        token.last_used_at = now  # at most every few minutes: no write per API call
        session.commit()
    return token
