"""Admin accounts (argon2 password hashes), console sign-in with throttling, and REST API tokens.

Failed sign-ins are counted from the history, as phone logins are: every worker and host agrees
without a counter table. Each attempt is written as a failure, under a lock, before its password
is checked (and turned into a success after), so racing attempts cannot outrun the count.

The per-name limit would let anyone lock an admin out by typing their name. So it counts only
attempts from browsers not known for that name (OWASP's device cookie): a browser an admin
signed in from carries a signed cookie naming them, and its attempts count against that browser
alone. The per-address limit counts every attempt.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from hotdesk import db, events
from hotdesk.admin import AdminError, Conflict, NotFound, record_change
from hotdesk.models import Admin, ApiToken, Event, EventKind, utcnow

_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
MIN_PASSWORD = 10
SIGNIN_WINDOW = timedelta(minutes=15)
FAILURES_PER_NAME = 5
FAILURES_PER_ADDRESS = 20  # higher: several admins may share an office's address
TOKEN_PREFIX = "hdk_"
LAST_USED_PRECISION = timedelta(minutes=5)
SCOPES = ("read", "write", "secrets")  # GET; changes; answers carrying a SIP secret, PIN or password
DEFAULT_SCOPES = ("read", "write")

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
    """Stored in the console's session cookie: changes when the password does or the admin signs
    out, so no copy of an old cookie opens the console again."""
    return hashlib.sha256(f"{admin.session_epoch}:{admin.password_hash}".encode()).hexdigest()[:32]


def end_sessions(session: Session, admin: Admin) -> None:
    """Sign the admin out of every browser: each cookie carries the key of the epoch it began in."""
    session.execute(update(Admin).where(Admin.id == admin.id).values(session_epoch=Admin.session_epoch + 1))
    session.refresh(admin)


# admins


def admins(session: Session) -> list[Admin]:
    return list(session.scalars(select(Admin).order_by(Admin.name)))


def any_admin(session: Session) -> bool:
    return session.scalar(select(Admin.id).limit(1)) is not None


def add_admin(session: Session, name: str, password: str, actor: str) -> Admin:
    check_name(name)
    check_password(password)
    if session.scalar(select(Admin.id).where(Admin.name == name)) is not None:
        raise Conflict(f"admin {name} already exists")
    admin = Admin(name=name, password_hash=_hasher.hash(password))
    session.add(admin)
    record_change(session, actor, f"admin {name} added")
    session.flush()
    return admin


def set_password(session: Session, name: str, password: str, actor: str) -> None:
    admin = _admin(session, name)
    admin.password_hash = _hasher.hash(check_password(password))
    admin.session_epoch += 1
    record_change(session, actor, f"admin {name}: password changed")
    session.flush()


def remove_admin(session: Session, name: str, actor: str) -> None:
    session.delete(_admin(session, name))
    record_change(session, actor, f"admin {name} removed")
    session.flush()


def _admin(session: Session, name: str) -> Admin:
    admin = session.scalar(select(Admin).where(Admin.name == name))
    if admin is None:
        raise NotFound(f"no admin {name}")
    return admin


def sign_in(session: Session, name: str, password: str, ip: str | None, browser: str | None = None) -> Admin:
    """The admin, or SignInRefused (wrong name or password, or too many failures lately).

    `browser`: the id of a known-browser cookie the web face verified for this very name, or None.
    """
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:64]
    attempt = _admit(session, name, ip, browser)
    admin = session.scalar(select(Admin).where(Admin.name == name))
    try:
        _hasher.verify(admin.password_hash if admin else _DUMMY_HASH, password)
        verified = True
    except (VerificationError, InvalidHashError):
        verified = False
    if admin is None or not verified:
        raise SignInRefused("Wrong name or password.")
    if _hasher.check_needs_rehash(admin.password_hash):
        admin.password_hash = _hasher.hash(password)
    attempt.kind = EventKind.ADMIN_SIGNIN.value
    session.flush()
    return admin


def _admit(session: Session, name: str, ip: str | None, browser: str | None) -> Event:
    """Refuse the attempt if a limit is reached; else write it down as a failure (committed).

    Under one lock, so that of racing attempts exactly as many as the limits allow get to have
    their password checked; the slow check itself runs after the lock is released.
    """
    db.serialize_sign_ins(session)
    now = utcnow()
    wait = _throttled(session, name, ip, browser, now)
    if wait is not None:
        session.rollback()
        minutes = -(-int(wait.total_seconds()) // 60)
        raise SignInRefused(f"Too many failed sign-ins. Try again in {minutes} minute(s).", wait)
    attempt = events.record(session, EventKind.ADMIN_SIGNIN_FAILED, actor=name, ip=ip, detail=_browser_detail(browser))
    session.commit()  # the one commit in admin/: it releases the lock before the slow password check
    return attempt


def _browser_detail(browser: str | None) -> str | None:
    return f"known browser {browser}" if browser else None


def _throttled(session: Session, name: str, ip: str | None, browser: str | None, now) -> timedelta | None:
    """How long sign-ins for this name from this browser (or from this address) stay refused; None
    if they are not. A known browser is counted on its own, any other against the name."""
    this_browser = Event.detail == _browser_detail(browser) if browser else Event.detail.is_(None)
    checks = [(and_(Event.actor == name, this_browser), FAILURES_PER_NAME)]
    if ip:
        checks.append((Event.ip == ip, FAILURES_PER_ADDRESS))
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


def check_scopes(scopes) -> tuple[str, ...]:
    """The scopes in their fixed order; `secrets` brings `read` (it widens what reading shows)."""
    wanted = set(scopes)
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise AdminError(f"scope: {unknown[0]!r} is not one of {', '.join(SCOPES)}")
    if not wanted:
        raise AdminError(f"scope: name at least one of {', '.join(SCOPES)}")
    if "secrets" in wanted:
        wanted.add("read")
    return tuple(scope for scope in SCOPES if scope in wanted)


def create_token(
    session: Session, name: str, actor: str, *, scopes=DEFAULT_SCOPES, expires_at: datetime | None = None
) -> NewToken:
    check_name(name)
    scopes = check_scopes(scopes)
    if expires_at is not None and expires_at <= utcnow():
        raise AdminError(f"expires: {expires_at:%Y-%m-%d %H:%M} UTC is not in the future")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise Conflict(f"token {name} already exists")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, token_hash=_digest(secret), scopes=" ".join(scopes), expires_at=expires_at)
    session.add(token)
    until = f", until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""
    record_change(session, actor, f"API token {name} created ({', '.join(scopes)}{until})")
    session.flush()
    return NewToken(token, secret)


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """`--expires`: a number of days from now, or a date (the token works through its end, UTC)."""
    text, now = text.strip(), now or utcnow()
    if text.isdigit() and len(text) <= 5:
        if int(text) < 1:
            raise AdminError("expires: at least 1 day")
        return now + timedelta(days=int(text))
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise AdminError(f"expires: {text!r} is neither a number of days nor a date (YYYY-MM-DD)")
    if day.year >= 9999:
        raise AdminError(f"expires: {text!r} is out of range")
    return datetime.combine(day + timedelta(days=1), time(), UTC)


def token_scopes(token: ApiToken) -> frozenset[str]:
    return frozenset(token.scopes.split())


def token_expired(token: ApiToken, now: datetime | None = None) -> bool:
    return token.expires_at is not None and token.expires_at <= (now or utcnow())


def revoke_token(session: Session, name: str, actor: str) -> None:
    token = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if token is None:
        raise NotFound(f"no token {name}")
    session.delete(token)
    record_change(session, actor, f"API token {name} revoked")
    session.flush()


def token_named_by(session: Session, secret: str) -> ApiToken | None:
    """The token a bearer secret belongs to, or None. Looked up by hash, so no secret is compared."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if token is None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        token.last_used_at = now  # at most every few minutes: no write per API call; commits with the call
    return token
