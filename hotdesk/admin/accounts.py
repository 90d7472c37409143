"""Admin accounts (argon2 password hashes), console sign-in with throttling, and REST API tokens.

Failed sign-ins are counted from the history, as phone logins are: every worker and host agrees
without a counter table. Each attempt is written as a failure, under a lock, before its password
is checked (and turned into a success after), so racing attempts cannot outrun the count.

The per-name limit would let anyone lock an admin out by typing their name. So it counts only
attempts from browsers not known for that name (OWASP's device cookie): a browser an admin
signed in from carries a signed cookie naming them, and its attempts count against that browser
alone. The per-address limit counts every attempt.

An admin with `two_factor` signs in with an e-mailed access code after the password
(hotdesk.access_codes): the right password is written down as ACCESS_CODE_SENT (no sign-in, so the
name's failure count goes on), each code is checked under the same limits and written down first
as a failure, so five wrong codes lock the name as five wrong passwords do.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from hotdesk import access_codes, db, events
from hotdesk.admin import AdminError, Conflict, NotFound, record_change
from hotdesk.models import DEFAULT_TENANT_ID, Admin, ApiToken, Event, EventKind, utcnow
from hotdesk.settings import SettingValues

_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
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


class CodeUndeliverable(SignInRefused):
    """The admin's sign-in asks for an access code, and there is nowhere to send it: no sign-in."""


class WrongCode(SignInRefused):
    """A wrong access code: `remaining` more may be tried on this sign-in (none: sign in again)."""

    def __init__(self, wrong: access_codes.WrongCode):
        super().__init__(str(wrong))
        self.remaining = wrong.remaining


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


# Roles: `within` names whose admins and tokens a caller may see and change. EVERYONE is a system
# admin's (or the CLI's) view; a tenant manager passes their tenant's id and sees only its own.
EVERYONE = -1


def any_admin(session: Session) -> bool:
    return session.scalar(select(Admin.id).limit(1)) is not None


def _reaches(within: int, tenant_id: int | None) -> bool:
    return within in (EVERYONE, tenant_id)


def admins(session: Session, within: int = EVERYONE) -> list[Admin]:
    """Console admins by name: every one, or only the managers of the tenant `within`."""
    query = select(Admin).order_by(Admin.name)
    if within != EVERYONE:
        query = query.where(Admin.tenant_id == within)
    return list(session.scalars(query))


def add_admin(
    session: Session,
    name: str,
    password: str,
    actor: str,
    *,
    tenant_id: int | None = None,
    email: str | None = None,
    two_factor: bool = False,
) -> Admin:
    """A system admin, or (`tenant_id`) the manager of that tenant, who sees nothing of another.
    `two_factor`: an access code to `email` after the password at each sign-in."""
    check_name(name)
    check_password(password)
    email = check_sign_in(name, email, two_factor)
    if session.scalar(select(Admin.id).where(Admin.name == name)) is not None:
        raise Conflict(f"admin {name} already exists")
    admin = Admin(
        name=name, password_hash=_hasher.hash(password), tenant_id=tenant_id, email=email, two_factor=two_factor
    )
    session.add(admin)
    role = "admin" if tenant_id is None else "tenant manager"
    factor = ", with an access code" if two_factor else ""
    record_change(session, actor, f"{role} {name} added{factor}", tenant_id=tenant_id)
    session.flush()
    return admin


def set_sign_in(
    session: Session,
    name: str,
    actor: str,
    *,
    email: str | None = None,
    two_factor: bool | None = None,
    within: int = EVERYONE,
) -> Admin:
    """The admin's e-mail address (None: unchanged; "": none) and whether their sign-in asks for an
    access code sent there (None: unchanged). Refused: a code with no address to send it to."""
    admin = _admin(session, name, within)
    new_email = admin.email if email is None else (email.strip() or None)
    new_factor = admin.two_factor if two_factor is None else two_factor
    admin.email = check_sign_in(name, new_email, new_factor)
    admin.two_factor = new_factor
    factor = "an access code after the password" if new_factor else "the password alone"
    record_change(session, actor, f"admin {name}: signs in with {factor}", tenant_id=admin.tenant_id)
    session.flush()
    return admin


def check_sign_in(name: str, email: str | None, two_factor: bool) -> str | None:
    """The e-mail address as kept (None: none); refused when not one, or missing for two_factor."""
    email = (email or "").strip() or None
    if email is not None and (len(email) > 254 or not email.isprintable() or not _EMAIL.fullmatch(email)):
        raise AdminError(f"email: {email!r} is not an e-mail address")
    if two_factor and email is None:
        raise AdminError(f"two-factor: admin {name} has no e-mail address to send the access code to (--email)")
    return email


def set_password(session: Session, name: str, password: str, actor: str, *, within: int = EVERYONE) -> None:
    admin = _admin(session, name, within)
    admin.password_hash = _hasher.hash(check_password(password))
    admin.session_epoch += 1
    record_change(session, actor, f"admin {name}: password changed", tenant_id=admin.tenant_id)
    session.flush()


def remove_admin(session: Session, name: str, actor: str, *, within: int = EVERYONE) -> None:
    admin = _admin(session, name, within)
    session.delete(admin)
    record_change(session, actor, f"admin {name} removed", tenant_id=admin.tenant_id)
    session.flush()


def _admin(session: Session, name: str, within: int = EVERYONE) -> Admin:
    """The admin named `name`; another tenant's is NotFound as if absent."""
    admin = session.scalar(select(Admin).where(Admin.name == name))
    if admin is None or not _reaches(within, admin.tenant_id):
        raise NotFound(f"no admin {name}")
    return admin


def sign_in(
    session: Session,
    name: str,
    password: str,
    ip: str | None,
    browser: str | None = None,
    *,
    settings_for: Callable[[int], SettingValues] | None = None,
) -> Admin | access_codes.Challenge:
    """The admin, or SignInRefused (wrong name or password, or too many failures lately). An admin
    with two_factor is not signed in yet: the challenge whose code was mailed to them (through
    `settings_for` their tenant's mail settings); SignInRefused when there is nowhere to send it.

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
    attempt.tenant_id = _tenant_of(admin)  # a tenant manager's sign-in is in their tenant's history
    if admin.two_factor:
        return _send_code(session, admin, attempt, settings_for, ip)
    attempt.kind = EventKind.ADMIN_SIGNIN.value
    session.flush()
    return admin


def _tenant_of(admin: Admin) -> int:
    return admin.tenant_id if admin.tenant_id is not None else DEFAULT_TENANT_ID


def _send_code(
    session: Session,
    admin: Admin,
    attempt: Event,
    settings_for: Callable[[int], SettingValues] | None,
    ip: str | None,
) -> access_codes.Challenge:
    tenant_id = _tenant_of(admin)
    try:
        if settings_for is None:
            raise access_codes.NoAddress("An access code is required, and this face cannot send one.")
        challenge = access_codes.start(
            session,
            access_codes.Who.console(admin, tenant_id),
            access_codes.Face.CONSOLE,
            settings_for(tenant_id),
            ip=ip,
        )
    except access_codes.NoAddress as nowhere:
        attempt.detail = NO_ADDRESS  # a refusal that checked no password wrongly: not counted
        session.flush()
        raise CodeUndeliverable(str(nowhere)) from None
    attempt.kind, attempt.detail = EventKind.ACCESS_CODE_SENT.value, access_codes.Face.CONSOLE.value
    session.flush()
    return challenge


NO_ADDRESS = "no address for an access code"
LOCKED_OUT = "locked out"


def sign_in_with_code(
    session: Session, token: str, code: str, key: str | bytes, ip: str | None, browser_of: Callable[[str], str | None]
) -> Admin:
    """The admin, once `code` is their challenge's latest code; else SignInRefused (its message
    says whether to try again). Checked under the sign-in limits and written down first as a
    failure, as a password is. `browser_of(name)`: the known-browser cookie's id for that name, or None."""
    row = access_codes.find(session, token)
    admin = session.get(Admin, row.admin_id) if row is not None and row.admin_id is not None else None
    if row is None or admin is None or row.face != access_codes.Face.CONSOLE:
        raise SignInRefused(str(access_codes.NoChallenge()))
    attempt = _admit(session, admin.name, ip, browser_of(admin.name))  # commits: take the row afresh
    attempt.tenant_id = _tenant_of(admin)
    try:
        access_codes.check(session, token, code, key, ip=ip)
    except access_codes.NoChallenge as over:
        attempt.detail = "access code for a sign-in that is over"
        session.flush()
        raise SignInRefused(str(over)) from None
    except access_codes.WrongCode as wrong:
        session.flush()
        raise WrongCode(wrong) from None
    attempt.kind = EventKind.ADMIN_SIGNIN.value
    session.flush()
    return admin


def resend_code(
    session: Session, token: str, settings_for: Callable[[int], SettingValues], ip: str | None
) -> access_codes.Challenge:
    """A new code for the admin's challenge (the one before stops working), in the history;
    NoChallenge or ResendRefused (hotdesk.access_codes)."""
    row = access_codes.find(session, token)
    admin = session.get(Admin, row.admin_id) if row is not None and row.admin_id is not None else None
    if row is None or admin is None or row.face != access_codes.Face.CONSOLE:
        raise access_codes.NoChallenge()
    _row, challenge = access_codes.resend(session, token, settings_for(row.tenant_id))
    events.record(
        session,
        EventKind.ACCESS_CODE_RESENT,
        actor=admin.name,
        ip=ip,
        detail=access_codes.Face.CONSOLE.value,
        tenant_id=row.tenant_id,
    )
    session.flush()
    return challenge


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


def tokens(session: Session, within: int = EVERYONE) -> list[ApiToken]:
    """API tokens by name: every one, or only those of the tenant `within`."""
    query = select(ApiToken).order_by(ApiToken.name)
    if within != EVERYONE:
        query = query.where(ApiToken.tenant_id == within)
    return list(session.scalars(query))


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
    session: Session,
    name: str,
    actor: str,
    *,
    scopes=DEFAULT_SCOPES,
    expires_at: datetime | None = None,
    tenant_id: int | None = None,
) -> NewToken:
    """A system token, or (`tenant_id`) one that reaches that tenant only."""
    check_name(name)
    scopes = check_scopes(scopes)
    if expires_at is not None and expires_at <= utcnow():
        raise AdminError(f"expires: {expires_at:%Y-%m-%d %H:%M} UTC is not in the future")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise Conflict(f"token {name} already exists")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name, token_hash=_digest(secret), scopes=" ".join(scopes), expires_at=expires_at, tenant_id=tenant_id
    )
    session.add(token)
    until = f", until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""
    record_change(session, actor, f"API token {name} created ({', '.join(scopes)}{until})", tenant_id=tenant_id)
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


def revoke_token(session: Session, name: str, actor: str, *, within: int = EVERYONE) -> None:
    token = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if token is None or not _reaches(within, token.tenant_id):
        raise NotFound(f"no token {name}")
    session.delete(token)
    record_change(session, actor, f"API token {name} revoked", tenant_id=token.tenant_id)
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
