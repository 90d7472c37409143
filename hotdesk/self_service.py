"""What a person does with their own account (the portal, /portal/): sign in, change the password
and the PIN, see and end their desk-phone logins, show and refresh their softphone QR code, choose
its transport and address, see and revoke their signed-in apps, read their own history.

Sign-ins are throttled as phone logins are (hotdesk.lockout's progressive Policy, the tenant's
lockout_* settings), counted from the history, per account and per address. The per-account
count would let anyone lock a person out by typing their LOGIN; so, as for admins
(hotdesk.admin.accounts), a browser the person signed in from carries a signed cookie naming them
(OWASP's device cookie): its failures are counted on their own, and neither the account's count
from other browsers nor the address's count refuses it. An unknown LOGIN is counted like an
account, under a keyed hash of what was typed (someone typing their password into the LOGIN
field must not find it in the history): the answers and their timing do not tell which LOGINs
exist.

Softphone apps sign in with the same password through the app API (hotdesk.softphone.sign_in):
its attempts are written as APP_SIGNIN / APP_SIGNIN_FAILED and counted with the portal's from
unknown browsers (an app carries no cookie), so the two faces give a guesser one budget, not two.
A failure counts when its detail is None (or a known browser's): an outcome written with another
detail (locked out, a password change required) checked no password wrongly.

A person who forgot their password asks for a link to choose another (hotdesk.password_links,
mailed by hotdesk.mail.password): by LOGIN, with the same answer whether it names an account with
an e-mail address or not, and throttled per account and per address from the history as sign-ins
are (an unknown LOGIN counted under its keyed hash, so that the throttle does not tell either).
A refused link counts against its address as a failed sign-in does: links are not to be guessed.

Every sign-in, failed sign-in, password change, PIN change and password link asked for is an
event of the person's tenant and extension; no password, PIN or link is in it. Functions flush;
the caller commits.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from hotdesk import access_codes, events, hotdesking, lockout, password_links, people, policy
from hotdesk.db import serialize_logins, serialize_sign_ins
from hotdesk.mail import queue as mail_queue
from hotdesk.models import (
    DEFAULT_TENANT_ID,
    AccessCode,
    AppDevice,
    Device,
    Event,
    EventKind,
    Mapping,
    Tenant,
    User,
    utcnow,
)
from hotdesk.settings import (
    DIRECTORY_SOURCE,
    LOCKOUT_ATTEMPTS,
    LOCKOUT_MAX_MINUTES,
    LOCKOUT_MINUTES,
    PHONE_BASE_URL,
    PIN_LENGTH,
    DirectorySource,
    SettingValues,
)
from hotdesk.softphone import apps as softphone_apps
from hotdesk.softphone import links

WRONG = "Wrong login or password."
ADDRESS_FACTOR = 4  # the per-address limit is this many accounts' worth: an office shares one address
PBX_OWNS_PIN = (
    "Your PIN is your voicemail PIN, which the phone system keeps: change it from the voicemail menu"
    " (call your voicemail, then mailbox options). The new PIN works here at once."
)
RECENT = 30  # events on the "my recent logins" list
# What the person sees of their own history: their desk-phone logins and their account.
OWN_KINDS = (
    EventKind.LOGIN,
    EventKind.LOGOUT,
    EventKind.LOGIN_FAILED,
    EventKind.LOCKOUT,
    EventKind.USER_SIGNIN,
    EventKind.USER_SIGNIN_FAILED,
    EventKind.SSO_SIGNIN,
    EventKind.PASSWORD_CHANGED,
    EventKind.PIN_CHANGED,
    EventKind.PASSWORD_LINK_REQUESTED,
    EventKind.APP_SIGNIN,
    EventKind.APP_REVOKED,
    EventKind.QR_REFRESHED,
    EventKind.ACCESS_CODE_SENT,
    EventKind.ACCESS_CODE_RESENT,
)


class SignInRefused(people.PeopleError):
    def __init__(self, message: str, retry_after: timedelta | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class NotYours(people.PeopleError):
    """A phone the person is not logged in on, an app that is not theirs: answered as if it did not exist."""


@dataclass(frozen=True)
class KnownBrowser:
    """A genuine known-browser cookie (the web face checked its signature): whom it knows, its id."""

    user_id: int
    browser: str


@dataclass(frozen=True)
class Face:
    """Where a person signs in with their account password: the kinds its history rows are, and
    its name for the second factor."""

    signed_in: EventKind
    failed: EventKind
    second: access_codes.Face


PORTAL = Face(EventKind.USER_SIGNIN, EventKind.USER_SIGNIN_FAILED, access_codes.Face.PORTAL)
APP = Face(EventKind.APP_SIGNIN, EventKind.APP_SIGNIN_FAILED, access_codes.Face.APP)
FACES = (PORTAL, APP)


@dataclass
class Attempt:
    """A sign-in written down as a failure before its password is checked (see begin_sign_in)."""

    event: Event
    user: User | None
    face: Face = PORTAL


def begin_sign_in(
    session: Session,
    settings_for: Callable[[int], SettingValues],
    login: str,
    ip: str | None,
    browser: KnownBrowser | None,
    key: bytes,
    face: Face = PORTAL,
) -> Attempt:
    """Refuse the attempt if a lock holds (SignInRefused with retry_after); else write it down as a
    failure. The caller commits at once, which releases the sign-in lock, and then calls
    finish_sign_in: of racing attempts exactly as many as the policy allows get their password
    checked, and the slow check runs outside the lock. `key`: keys the hash unknown LOGINs are
    counted under (the app's secret key)."""
    login = _printable(login)
    serialize_sign_ins(session, of_people=True)
    user = people.find(session, login) if login else None
    return _admit(session, settings_for, user, login, ip, browser, key, face)


def _admit(
    session: Session,
    settings_for: Callable[[int], SettingValues],
    user: User | None,
    login: str,
    ip: str | None,
    browser: KnownBrowser | None,
    key: bytes,
    face: Face,
) -> Attempt:
    """begin_sign_in's rule, under the sign-in lock: refused while a lock holds, else written down as a failure."""
    now = utcnow()
    # An unknown LOGIN is judged by the policy of the tenant its domain names, as a known one would be.
    tenant_id = user.tenant_id if user is not None else _tenant_named(session, login)
    known = browser.browser if browser is not None and user is not None and browser.user_id == user.id else None
    policy = _policy(settings_for(tenant_id))
    account = _account(user, login, key)
    locks = [policy.lock(_account_failures(session, account, _browser_detail(known), now, policy), now)]
    if known is None:
        locks.append(_address_lock(session, settings_for, ip, now))
    lock = max((lock for lock in locks if lock), key=lambda lock: lock.until, default=None)
    if lock is not None:
        raise _too_many("Too many failed sign-ins.", lock.remaining(now))
    event = events.record(
        session,
        face.failed,
        extension=user.extension.number if user is not None else None,
        ip=ip,
        actor=_actor(session, user) if user is not None else account.actor,
        detail=_browser_detail(known),
        tenant_id=tenant_id,
    )
    session.flush()
    return Attempt(event, user, face)


def _printable(login: str) -> str:
    return "".join(ch for ch in login if ch.isprintable()).strip()[:400]


def _too_many(what: str, wait: timedelta) -> SignInRefused:
    minutes = -(-int(wait.total_seconds()) // 60)
    return SignInRefused(f"{what} Try again in {minutes} minute(s).", wait)


def _address_lock(
    session: Session, settings_for: Callable[[int], SettingValues], ip: str | None, now: datetime
) -> lockout.Lock | None:
    """The lock the address's failed sign-ins (and refused password links) hold now. The
    installation's policy: an address is no tenant's, and LOGINs of a lenient tenant must not widen it."""
    each = _policy(settings_for(DEFAULT_TENANT_ID))
    address_policy = lockout.Policy(each.attempts * ADDRESS_FACTOR, each.first, each.longest, each.longest)
    return address_policy.lock(_address_failures(session, ip, now, address_policy), now)


def record_refusal(session: Session, face: Face, login: str, ip: str | None, key: bytes, detail: str) -> None:
    """A sign-in refused before any password was checked (`detail` says why: never counted as a failure)."""
    login = _printable(login)
    user = people.find(session, login) if login else None
    events.record(
        session,
        face.failed,
        extension=user.extension.number if user is not None else None,
        ip=ip,
        actor=_actor(session, user) if user is not None else _account(None, login, key).actor,
        detail=detail,
        tenant_id=user.tenant_id if user is not None else _tenant_named(session, login),
    )
    session.flush()


def _tenant_named(session: Session, login: str) -> int:
    _name, at, domain = login.rpartition("@")
    found = session.scalar(select(Tenant.id).where(Tenant.sip_domain == domain.lower())) if at else None
    return found if found is not None else DEFAULT_TENANT_ID


def finish_sign_in(session: Session, attempt: Attempt, password: str) -> User:
    """The person, once the password is right (the attempt becomes a sign-in); else SignInRefused.
    As slow for an unknown LOGIN as for a known one (people.verify)."""
    user = attempt.user
    if not people.verify(user, password) or user is None:
        raise SignInRefused(WRONG)
    attempt.event.kind = attempt.face.signed_in.value
    session.flush()
    return user


# The second factor (hotdesk.access_codes; two_factor = email). The right password is written down
# as ACCESS_CODE_SENT: not a sign-in, which would reset the account's failure count, nor a failure.
# A code is checked as a password is, under the account's lock and written down first as a counted
# failure: five wrong codes lock the account as five wrong passwords do, for password and code alike.

NO_ADDRESS = "no address for an access code"
SIGN_IN_OVER = "access code for a sign-in that is over"
LOCKED_OUT = "locked out"


def send_code(
    session: Session,
    attempt: Attempt,
    settings: SettingValues,
    *,
    ip: str | None,
    context: str | None = None,
    base_url: str | None = None,
) -> access_codes.Challenge:
    """After the right password: a code on its way to the person, the attempt written down as
    ACCESS_CODE_SENT. NoAddress (nowhere to send it) is written as a refusal that counts for nothing."""
    user = attempt.user
    if user is None:  # finish_sign_in returned no one: never comes
        raise SignInRefused(WRONG)
    try:
        challenge = access_codes.start(
            session,
            access_codes.Who.person(user),
            attempt.face.second,
            settings,
            ip=ip,
            context=context,
            base_url=base_url,
        )
    except access_codes.NoAddress:
        _outcome(session, attempt, attempt.face.failed, NO_ADDRESS)
        raise
    _outcome(session, attempt, EventKind.ACCESS_CODE_SENT, attempt.face.second.value)
    return challenge


def sign_in_with_code(
    session: Session,
    settings_for: Callable[[int], SettingValues],
    key: bytes,
    token: str,
    code: str,
    ip: str | None,
    browser: KnownBrowser | None,
    face: Face = PORTAL,
) -> tuple[Attempt, AccessCode]:
    """The attempt (its person: `user`) and the closed challenge, once `code` is its latest code:
    the attempt is a sign-in now. NoChallenge or WrongCode (hotdesk.access_codes), or SignInRefused while the account is
    locked. The caller commits whatever the outcome (a wrong code is a counted failure)."""
    serialize_sign_ins(session, of_people=True)
    row = access_codes.find(session, token)
    user = session.get(User, row.user_id) if row is not None and row.user_id is not None else None
    if row is None or user is None or row.face != face.second.value:
        raise access_codes.NoChallenge()
    login = login_of(session, user)
    try:
        attempt = _admit(session, settings_for, user, login, ip, browser, key, face)
    except SignInRefused:
        record_refusal(session, face, login, ip, key, LOCKED_OUT)
        raise
    try:
        used = access_codes.check(session, token, code, key, ip=ip)
    except access_codes.NoChallenge:  # used or closed by a racing request just now
        _outcome(session, attempt, face.failed, SIGN_IN_OVER)
        raise
    _outcome(session, attempt, face.signed_in, attempt.event.detail)
    return attempt, used


def resend_code(
    session: Session, settings_for: Callable[[int], SettingValues], token: str, ip: str | None, face: Face = PORTAL
) -> access_codes.Challenge:
    """A new code for the challenge (the one before stops working), in the history as ACCESS_CODE_RESENT.
    NoChallenge, or ResendRefused (too soon, or too many)."""
    row = access_codes.find(session, token)
    user = session.get(User, row.user_id) if row is not None and row.user_id is not None else None
    if row is None or user is None or row.face != face.second.value:
        raise access_codes.NoChallenge()
    _row, challenge = access_codes.resend(session, token, settings_for(row.tenant_id))
    _record(session, user, EventKind.ACCESS_CODE_RESENT, ip, face.second.value)
    session.flush()
    return challenge


def _outcome(session: Session, attempt: Attempt, kind: EventKind, detail: str | None) -> None:
    attempt.event.kind, attempt.event.detail = kind.value, detail
    session.flush()


def _policy(settings: SettingValues) -> lockout.Policy:
    """The tenant's lockout policy. With lockouts off (lockout_attempts 0, for phones) an account
    is still throttled, by the defaults: its password is worth more than a desk-phone PIN."""
    policy = lockout.Policy.of(settings)
    if policy.on:
        return policy
    attempts, first, longest = (
        int(spec.default()) for spec in (LOCKOUT_ATTEMPTS, LOCKOUT_MINUTES, LOCKOUT_MAX_MINUTES)
    )
    return lockout.Policy(attempts, timedelta(minutes=first), timedelta(minutes=longest))


@dataclass(frozen=True)
class _Account:
    """Which history rows are one account's: a person's by tenant and extension (an admin's unlock
    of the extension lifts it, as it lifts the extension's PIN lock); an unknown LOGIN's by its hash."""

    where: ColumnElement[bool]
    actor: str


def _account(user: User | None, login: str, key: bytes) -> _Account:
    if user is not None:
        return _of_extension(user.tenant_id, user.extension.number)
    actor = "unknown " + hmac.new(key, login.encode(), hashlib.sha256).hexdigest()[:24]
    return _Account(and_(Event.extension.is_(None), Event.actor == actor), actor)


def _of_extension(tenant_id: int, number: str) -> _Account:
    return _Account(and_(Event.tenant_id == tenant_id, Event.extension == number), number)


def _browser_detail(browser: str | None) -> str | None:
    return f"{_KNOWN_BROWSER}{browser}" if browser else None


def _actor(session: Session, user: User) -> str:
    return login_of(session, user)[:64]


def login_of(session: Session, user: User) -> str:
    """How the person types their LOGIN."""
    tenant = session.get(Tenant, user.tenant_id)
    return people.login_of(user, tenant.sip_domain if tenant is not None else None)


_SIGNED_IN = tuple(face.signed_in.value for face in FACES)
_FAILED = tuple(face.failed.value for face in FACES)
_ADDRESS_FAILED = (*_FAILED, EventKind.PASSWORD_LINK_REFUSED.value)
_SIGN_IN_KINDS = (*_SIGNED_IN, *_FAILED, EventKind.UNLOCK.value)
_KNOWN_BROWSER = "known browser "


def _account_failures(
    session: Session, account: _Account, detail: str | None, now: datetime, policy: lockout.Policy
) -> list[datetime]:
    """The account's failed sign-ins from this browser (a known one's own, else every unknown
    browser's and app's), newest first, since the latest sign-in from there or an admin's unlock.
    A row with another detail (an app signed in by a QR code, a refusal that checked no password)
    neither counts nor resets."""
    rows = session.execute(
        select(Event.at, Event.kind, Event.detail)
        .where(account.where, Event.kind.in_(_SIGN_IN_KINDS), Event.at > now - policy.memory)
        .order_by(Event.at.desc(), Event.id.desc())
        .limit(lockout.MOST_FAILURES_READ)
    )
    failures = []
    for at, kind, from_browser in rows:
        if kind == EventKind.UNLOCK.value:
            break
        if from_browser != detail:
            continue  # another browser's count
        if kind in _SIGNED_IN:
            break
        failures.append(at)
    return failures


def _address_failures(session: Session, ip: str | None, now: datetime, policy: lockout.Policy) -> list[datetime]:
    """Failed sign-ins and refused password links from this address lately, newest first. No
    sign-in resets them: a sprayer with an account of their own could reset the count between guesses."""
    if not ip:
        return []
    return list(
        session.scalars(
            select(Event.at)
            .where(
                Event.ip == ip,
                Event.kind.in_(_ADDRESS_FAILED),
                or_(Event.detail.is_(None), Event.detail.startswith(_KNOWN_BROWSER, autoescape=True)),
                Event.at > now - policy.memory,
            )
            .order_by(Event.at.desc(), Event.id.desc())
            .limit(lockout.MOST_FAILURES_READ)
        )
    )


UNKNOWN_BROWSERS = "portal sign-in, from browsers it has not signed in from (and app sign-in)"


def sign_in_locks(
    session: Session, settings: SettingValues, now: datetime | None = None, *, tenant_id: int = DEFAULT_TENANT_ID
) -> list[lockout.Lockout]:
    """The tenant's people whose portal sign-in is locked now (for browsers they have not signed in
    from), as admins see PIN lockouts; an admin's unlock of the extension lifts it."""
    policy, now = _policy(settings), now or utcnow()
    candidates = session.scalars(
        select(Event.extension)
        .where(
            Event.tenant_id == tenant_id,
            Event.kind.in_(_FAILED),
            Event.extension.is_not(None),
            Event.detail.is_(None),
            Event.at > now - policy.memory,
        )
        .group_by(Event.extension)
        .having(func.count() >= policy.attempts)
        .order_by(func.max(Event.at).desc())
        .limit(lockout.LISTED)
    )
    found = []
    for number in candidates:
        if number is None:  # never comes (the query), but the column allows it
            continue
        failures = _account_failures(session, _of_extension(tenant_id, number), None, now, policy)
        if lock := policy.lock(failures, now):
            found.append(lockout.Lockout("extension", number, UNKNOWN_BROWSERS, lock.until, lock.level, lock.failures))
    return found


def end_sessions(session: Session, user: User) -> None:
    """Sign the person out of every browser: each session carries the epoch it began in."""
    user.session_epoch += 1
    session.flush()


def change_password(session: Session, user: User, current: str, new: str, ip: str | None) -> None:
    """people.change_own_password, in the history. Every other session of the person ends."""
    people.change_own_password(session, user, current, new)
    _record(session, user, EventKind.PASSWORD_CHANGED, ip)
    session.flush()


# Forgotten passwords: links mailed to choose another (hotdesk.password_links).

LINK_REFUSED = (
    "This link does not work: it was used already, it expired, or the password was changed since."
    ' Ask for a new one with "Forgot your password?" on the sign-in page.'
)
LINK_MAILS = 3  # an account's password links mailed within LINK_MAIL_WINDOW (ADDRESS_FACTOR times that an address)
LINK_MAIL_WINDOW = timedelta(hours=1)
BY_LINK = "with a mailed link"  # the detail of a password_changed event


class LinkRefused(people.PeopleError):
    """A password link that is used, expired, tampered with or unknown: the same for each."""


def password_link_user(
    session: Session, settings_for: Callable[[int], SettingValues], key: str, token: str, ip: str | None
) -> User:
    """Whose password the link may set (looking does not use it up); SignInRefused while the address
    is locked; LinkRefused, recorded and counted against the address, for a link that does not work."""
    now = utcnow()
    lock = _address_lock(session, settings_for, ip, now)
    if lock is not None:
        raise _too_many("Too many failed sign-ins from your address.", lock.remaining(now))
    user = password_links.user_of(session, key, token, now)
    if user is None:
        _refuse_link(session, ip)
    return user


def _refuse_link(session: Session, ip: str | None) -> NoReturn:
    events.record(session, EventKind.PASSWORD_LINK_REFUSED, ip=ip, actor="password link")
    session.flush()
    raise LinkRefused(LINK_REFUSED)


def choose_password_by_link(
    session: Session, settings_for: Callable[[int], SettingValues], key: str, token: str, new: str, ip: str | None
) -> User:
    """Set the password the link is for, as the person would in the portal (people's rules), and
    end every session. A PeopleError for a new password the rules refuse changes nothing, and keeps
    the link; LinkRefused (recorded: the caller commits) for a link that does not work, or that a
    racing request has just used."""
    user = password_link_user(session, settings_for, key, token, ip)
    people.check_password(new, user.extension, user.username)  # before any lock: a refusal holds nothing up
    # The account's row, locked until commit (SQLite: its one writer), and read again: of two
    # requests with one link, the second sees the password the first set, and the link dead.
    session.execute(
        update(User).where(User.id == user.id).values(id=User.id).execution_options(synchronize_session=False)
    )
    session.refresh(user)
    if password_links.user_of(session, key, token) is not user:
        _refuse_link(session, ip)
    people.choose_own_password(session, user, new)
    _record(session, user, EventKind.PASSWORD_CHANGED, ip, BY_LINK)
    session.flush()
    return user


def request_password_link(
    session: Session,
    settings_for: Callable[[int], SettingValues],
    login: str,
    ip: str | None,
    key: bytes,
) -> None:
    """ "Forgot your password?": a link to choose one is mailed if the LOGIN names an account with
    an e-mail address (and the tenant mails); nothing tells whether it did. SignInRefused when the
    account (or whatever the LOGIN names) or the address asked too often lately. `key`: keys the
    hash unknown LOGINs are counted under (the app's secret key)."""
    login = _printable(login)
    serialize_sign_ins(session, of_people=True)  # racing requests are counted exactly
    now = utcnow()
    user = people.find(session, login) if login else None
    tenant_id = user.tenant_id if user is not None else _tenant_named(session, login)
    account = _account(user, login, key)
    asked = EventKind.PASSWORD_LINK_REQUESTED
    waits = [_asked(session, account.where, LINK_MAILS, now)]
    if ip:
        waits.append(_asked(session, Event.ip == ip, LINK_MAILS * ADDRESS_FACTOR, now))
    wait = max((wait for wait in waits if wait), default=None)
    if wait is not None:
        raise _too_many("Too many requests for a password link.", wait)
    events.record(
        session,
        asked,
        extension=user.extension.number if user is not None else None,
        ip=ip,
        actor=_actor(session, user) if user is not None else account.actor,
        detail=_mail_password_link(session, user, settings_for(tenant_id)) if user is not None else None,
        tenant_id=tenant_id,
    )
    session.flush()


def _asked(session: Session, who: ColumnElement[bool], allowed: int, now: datetime) -> timedelta | None:
    return events.locked_for(
        session,
        who,
        failed=EventKind.PASSWORD_LINK_REQUESTED,
        resets=(),
        allowed=allowed,
        window=LINK_MAIL_WINDOW,
        now=now,
    )


def _mail_password_link(session: Session, user: User, settings: SettingValues) -> str:
    """Queue the mail with the link, if it can go; what was done, for the history."""
    email = user.extension.email
    if not email:
        return "not mailed: the extension has no e-mail address"
    if not mail_queue.mail_configured(session, user.tenant_id):
        return "not mailed: smtp_host is not set"
    if not settings[PHONE_BASE_URL]:
        return "not mailed: phone_base_url is not set"
    mail = mail_queue.enqueue(session, user.tenant_id, mail_queue.MailKind.PASSWORD, email, user=user)
    return f"mail {mail.id} to {email}"


def change_pin(session: Session, user: User, pin: str, ip: str | None, settings: SettingValues) -> None:
    """The person's voicemail and hot-desk PIN: the next login on a phone asks for this one. The
    tenant's PIN policy (`pin_length`), and none anyone would try first (hotdesk.policy.weak_pin).
    With directory_source asterisk the PIN is the PBX's (voicemail.conf): refused, not pretended."""
    if settings[DIRECTORY_SOURCE] is DirectorySource.ASTERISK:
        raise people.PeopleError(PBX_OWNS_PIN)
    extension = user.extension
    problem = policy.weak_pin(pin, extension.number, settings[PIN_LENGTH])
    if problem is not None:
        raise people.PeopleError(f"PIN refused: {problem}.")
    extension.voicemail_pin = pin
    _record(session, user, EventKind.PIN_CHANGED, ip)
    session.flush()


def _record(session: Session, user: User, kind: EventKind, ip: str | None, detail: str | None = None) -> None:
    events.record(
        session,
        kind,
        extension=user.extension.number,
        ip=ip,
        actor=_actor(session, user),
        detail=detail,
        tenant_id=user.tenant_id,
    )


@dataclass(frozen=True)
class DeskPhone:
    """A phone the person is logged in on."""

    mac: str
    brand: str
    model: str | None
    since: datetime
    expires_at: datetime | None
    ip: str | None
    address: str  # the server address it registers to: external or internal


def desk_phones(session: Session, user: User) -> list[DeskPhone]:
    """Where the person is logged in, the latest first."""
    mappings = session.scalars(
        select(Mapping)
        .where(Mapping.extension_id == user.extension_id)
        .options(joinedload(Mapping.device))
        .order_by(Mapping.since.desc(), Mapping.id.desc())
    )
    return [
        DeskPhone(
            m.device.mac, m.device.brand, m.device.model, m.since, m.expires_at, m.device.last_ip, m.address.value
        )
        for m in mappings
    ]


def log_out_there(session: Session, user: User, mac: str, ip: str | None) -> Device:
    """End the person's login on the phone `mac`; NotYours if they are not logged in there (also
    when another person is, or was just now: decided under the login lock). The caller tells the
    phone to reload (admin.phones.tell_reload) and commits."""
    serialize_logins(session)
    device = session.scalar(
        select(Device)
        .join(Mapping, Mapping.device_id == Device.id)
        .where(Device.mac == mac.strip().lower()[:12], Mapping.extension_id == user.extension_id)
    )
    if device is None:
        raise NotYours("You are not logged in on that phone (any more).")
    hotdesking.logout(session, device, ip=ip, actor=_actor(session, user))
    return device


def recent(session: Session, user: User, limit: int = RECENT) -> list[Event]:
    """The person's own history, the latest first: their extension in their tenant, since their
    account was made (a number handed on does not bring its former holder's history)."""
    return list(
        session.scalars(
            select(Event)
            .where(
                Event.tenant_id == user.tenant_id,
                Event.extension == user.extension.number,
                Event.kind.in_([kind.value for kind in OWN_KINDS]),
                Event.at >= user.created_at,
            )
            .order_by(Event.at.desc(), Event.id.desc())
            .limit(limit)
        )
    )


# The person's softphone apps: the rules are hotdesk.softphone.apps, as for an admin.


def my_sign_in_url(
    session: Session,
    settings: SettingValues,
    key: str,
    user: User,
    base_url: str | None,
    ip: str | None,
    *,
    refresh: bool = False,
) -> softphone_apps.SignInUrl:
    """The URL of the person's QR code (with `refresh` a new one: every earlier one stops working)."""
    try:
        return softphone_apps.sign_in_url(
            session, settings, key, user, _actor(session, user), refresh=refresh, base_url=base_url, ip=ip
        )
    except softphone_apps.AppsError as error:
        raise people.PeopleError(f"No QR code: {error}. Ask your administrator.") from None


def set_my_qr_choices(session: Session, user: User, transport: str | None, address: str | None) -> None:
    """The person's own transport and server address for their app ("": the tenant's setting)."""
    try:
        softphone_apps.set_qr_choices(session, user, transport=transport, address=address)
    except softphone_apps.AppsError as error:
        raise people.PeopleError(str(error)) from None


def my_apps(session: Session, user: User) -> list[AppDevice]:
    """The apps signed in to the person's account, revoked ones too (the oldest first)."""
    return links.devices_of(session, user)


def revoke_my_app(session: Session, user: User, app_id: int, ip: str | None) -> AppDevice:
    """Take the account away from one of the person's own apps; NotYours for any other."""
    try:
        return softphone_apps.revoke_app(session, user, app_id, _actor(session, user), ip)
    except softphone_apps.NoSuchApp:
        raise NotYours("You have no such app.") from None
