"""Failed logins and the locks they earn: the one lockout counter, read from the history.

Counted from `login_failed` events, so every worker and host agrees without a counter table.
Only attempts that tested a PIN count (`COUNTED`): a refusal because something is locked is
recorded too, for the history, but counts against nothing — so a locked phone cannot lock the
extensions typed on it, nor a locked extension the phones it is typed on.

Progressive: every `lockout_attempts` further failures (with no success or unlock between)
lock again for twice as long — `lockout_minutes`, then double, ... up to `lockout_max_minutes`.
Failures older than seven longest locks (a week by default) are forgotten.

Known phones (OWASP's "device cookie", where a phone's MAC and address stand for the cookie): the
phones an extension logged in on lately, each at the address it logged in from. Its failures there
and its failures elsewhere are two counts, and a lock earned elsewhere (including a phone's own
lock, earned by the extensions typed on it) does not apply on a known phone. Someone spraying PINs
from other or freshly minted phones thus locks the extension out of every phone but the user's
own; the user keeps their desk.
docs/architecture.md has the argument.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from hotdesk.models import DEFAULT_TENANT_ID, Event, EventKind, utcnow
from hotdesk.settings import LOCKOUT_ATTEMPTS, LOCKOUT_MAX_MINUTES, LOCKOUT_MINUTES, SettingValues

log = logging.getLogger("hotdesk.lockout")

# The `detail` of failures that tested a PIN, or the access code after it (phone_two_factor); only
# these count. Refusals because of a lock are recorded with PHONE_LOCKED or EXTENSION_LOCKED (and,
# before these existed, "locked_out").
COUNTED = ("wrong_password", "unknown_extension", "wrong_access_code")
PHONE_LOCKED = "phone_locked"
EXTENSION_LOCKED = "extension_locked"

KNOWN_PHONE_DAYS = 90  # a phone is "known" to an extension for this long after its latest login there
MOST_KNOWN_PHONES = 50
MOST_FAILURES_READ = 1000  # far past the longest lock: more only means "at the cap"
LISTED = 200  # current lockouts shown at most


@dataclass(frozen=True)
class Lock:
    """A lock in force until `until`: the `level`-th in a row, earned by `failures` failures."""

    until: datetime
    level: int
    failures: int

    def remaining(self, now: datetime) -> timedelta:
        return self.until - now


@dataclass(frozen=True)
class Policy:
    """`attempts` failures lock for `first`, each further `attempts` for twice as long up to `longest`;
    failures older than `forget_after` (default: twice `longest`) do not count."""

    attempts: int
    first: timedelta
    longest: timedelta
    forget_after: timedelta | None = None

    @classmethod
    def of(cls, settings: SettingValues) -> Policy:
        first = timedelta(minutes=settings[LOCKOUT_MINUTES])
        return cls(settings[LOCKOUT_ATTEMPTS], first, max(first, timedelta(minutes=settings[LOCKOUT_MAX_MINUTES])))

    @property
    def on(self) -> bool:
        return self.attempts > 0

    @property
    def memory(self) -> timedelta:
        """How long a failure is remembered: many longest locks, so a spray near the cap stays near it."""
        return self.forget_after if self.forget_after is not None else 7 * self.longest

    def lock(self, failures: Sequence[datetime], now: datetime, *, complete: bool = True) -> Lock | None:
        """The lock `failures` (newest first, since the last reset) hold now, or None.

        The n-th lock begins at the failure that made n × attempts and lasts first × 2^(n-1), capped.
        `complete`: whether `failures` is every one since the reset (False: the read was cut short)."""
        count = len(failures)
        if not self.on or count < self.attempts:
            return None
        level = count // self.attempts
        if complete:
            began = failures[count - level * self.attempts]
            duration = min(self.first * 2 ** min(level - 1, 32), self.longest)
        else:  # so many failures that the lock is at its longest, from the latest
            began, duration = failures[0], self.longest
        until = began + duration
        return Lock(until, level, count) if until > now else None


@dataclass(frozen=True)
class Verdict:
    """Whether a login of `number` on phone `mac` may test its PIN now."""

    locked: Lock | None  # the lock that refuses it, if any
    detail: str | None  # PHONE_LOCKED or EXTENSION_LOCKED
    known_phone: bool  # the extension logged in on this phone lately
    # What one more failure here would add to (for telling when it completes a lock):
    extension_failures: tuple[datetime, ...] = ()
    phone_failures: tuple[datetime, ...] = ()


def check(
    session: Session,
    settings: SettingValues,
    number: str,
    mac: str,
    ip: str | None,
    now: datetime | None = None,
    *,
    tenant_id: int = DEFAULT_TENANT_ID,
) -> Verdict:
    """The lock that refuses this login of `number` (of `tenant_id`) on phone `mac` from `ip`, if
    any. Three small indexed reads; called under the login lock."""
    policy, now = Policy.of(settings), now or utcnow()
    if not policy.on:
        return Verdict(None, None, False)
    number = number[:32]
    known = _known_phones(session, number, now, tenant_id)
    on_known = (mac, ip) in known
    rows = session.execute(
        _EXTENSION_HISTORY, {"value": number, "tenant": tenant_id, "since": now - policy.memory}
    ).all()
    at_known, elsewhere = _split(rows, known)
    extension_locks = [policy.lock(at_known, now, complete=len(rows) < MOST_FAILURES_READ)]
    phone_failures: list[datetime] = []
    if not on_known:
        extension_locks.append(policy.lock(elsewhere, now, complete=len(rows) < MOST_FAILURES_READ))
        phone_rows = session.execute(_PHONE_HISTORY, {"value": mac, "since": now - policy.memory}).all()
        phone_failures = _since_reset(phone_rows)
        phone_lock = policy.lock(phone_failures, now, complete=len(phone_rows) < MOST_FAILURES_READ)
    else:
        phone_lock = None  # a lock the phone earned from other extensions is "elsewhere" to this one
    extension_lock = max((lock for lock in extension_locks if lock), key=lambda lock: lock.until, default=None)
    locked, detail = extension_lock, EXTENSION_LOCKED
    if phone_lock and (extension_lock is None or phone_lock.until > extension_lock.until):
        locked, detail = phone_lock, PHONE_LOCKED
    return Verdict(
        locked,
        detail if locked else None,
        on_known,
        tuple(at_known if on_known else elsewhere),
        tuple(phone_failures),
    )


def earned(settings: SettingValues, failures: Sequence[datetime], now: datetime) -> Lock | None:
    """The lock one more failure `now` on top of `failures` (newest first) begins, if it begins one."""
    policy = Policy.of(settings)
    if not policy.on or (len(failures) + 1) % policy.attempts:
        return None
    return policy.lock((now, *failures), now)


# What a lock of an extension is told to. The e-mail to its user hangs here once hotdesk can
# send mail (a later issue brings SMTP): `(number, lock, where)`, called after the commit that
# recorded the `lockout` event. Nothing is registered today.
ExtensionLockedHook = Callable[[str, Lock, str], None]
extension_locked_hooks: list[ExtensionLockedHook] = []


def tell_extension_locked(number: str, lock: Lock, where: str) -> None:
    for hook in extension_locked_hooks:
        try:
            hook(number, lock, where)
        except Exception:  # a failing mail must not fail the phone's answer
            log.exception("extension_locked hook failed for %s", number)


# Listing and lifting, for admins (hotdesk.admin.lockouts)


@dataclass(frozen=True)
class Lockout:
    """A lock in force, as an admin sees it."""

    kind: str  # "extension" or "phone"
    key: str  # the extension number or the MAC
    scope: str  # "all phones" or "phones it has not logged in on"
    until: datetime
    level: int
    failures: int


def current(
    session: Session, settings: SettingValues, now: datetime | None = None, *, tenant_id: int = DEFAULT_TENANT_ID
) -> list[Lockout]:
    """Every lock in force in the tenant: extensions (per scope) and phones, the longest first."""
    policy, now = Policy.of(settings), now or utcnow()
    if not policy.on:
        return []
    since = now - policy.memory
    found: list[Lockout] = []
    candidates = {"since": since, "attempts": policy.attempts, "tenant": tenant_id}
    for number in session.scalars(_candidates(Event.extension), candidates):
        known = _known_phones(session, number, now, tenant_id)
        rows = session.execute(_EXTENSION_HISTORY, {"value": number, "tenant": tenant_id, "since": since}).all()
        at_known, elsewhere = _split(rows, known)
        complete = len(rows) < MOST_FAILURES_READ
        for failures, scope in ((at_known, "all phones"), (elsewhere, "phones it has not logged in on")):
            if lock := policy.lock(failures, now, complete=complete):
                found.append(Lockout("extension", number, scope, lock.until, lock.level, lock.failures))
    for mac in session.scalars(_candidates(Event.mac), candidates):
        rows = session.execute(_PHONE_HISTORY, {"value": mac, "since": since}).all()
        if lock := policy.lock(_since_reset(rows), now, complete=len(rows) < MOST_FAILURES_READ):
            found.append(
                Lockout("phone", mac, "extensions that have not logged in on it", lock.until, lock.level, lock.failures)
            )
    return sorted(found, key=lambda lockout: (lockout.until, lockout.key), reverse=True)


def unlock(
    session: Session,
    *,
    actor: str,
    number: str | None = None,
    mac: str | None = None,
    tenant_id: int = DEFAULT_TENANT_ID,
) -> None:
    """Lift the locks of an extension (both counts) or of a phone now: an `unlock` event, which the
    counts stop at. Not committed: it commits with the caller's change."""
    session.add(
        Event(
            tenant_id=tenant_id,
            kind=EventKind.UNLOCK.value,
            extension=number,
            mac=mac,
            actor=actor[:64],
            detail="by an admin",
        )
    )


def _known_phones(session: Session, number: str, now: datetime, tenant_id: int) -> set[tuple[str, str | None]]:
    """(MAC, address) of the extension's successful logins lately. The address too: a MAC is printed
    on the phone and named in every request for it; the address takes being at that desk's wire."""
    since = now - timedelta(days=KNOWN_PHONE_DAYS)
    rows = session.execute(_KNOWN_PHONES, {"number": number, "tenant": tenant_id, "since": since})
    return {(mac, ip) for mac, ip in rows if mac is not None}  # None never comes (the query), but the column allows it


def _split(rows, known: set[tuple[str, str | None]]) -> tuple[list[datetime], list[datetime]]:
    """An extension's failures since the last reset, newest first: on its known phones (a login
    anywhere or an unlock resets these) and elsewhere (only an unlock does: a user's own logins
    must not wipe out what a sprayer elsewhere has run up)."""
    at_known: list[datetime] = []
    elsewhere: list[datetime] = []
    known_open = True
    for at, kind, mac, ip in rows:
        if kind == EventKind.UNLOCK.value:
            break
        if kind == EventKind.LOGIN.value:
            known_open = False
        elif (mac, ip) in known:
            if known_open:
                at_known.append(at)
        else:
            elsewhere.append(at)
    return at_known, elsewhere


def _since_reset(rows) -> list[datetime]:
    failures = []
    for at, kind, *_where in rows:
        if kind != EventKind.LOGIN_FAILED.value:
            break
        failures.append(at)
    return failures


_RESETS = (EventKind.LOGIN.value, EventKind.UNLOCK.value)
_COUNTED_OR_RESET = or_(
    Event.kind.in_(_RESETS), (Event.kind == EventKind.LOGIN_FAILED.value) & Event.detail.in_(COUNTED)
)


def _history(*where) -> Select:
    return (
        select(Event.at, Event.kind, Event.mac, Event.ip)
        .where(*where, Event.at > bindparam("since"), _COUNTED_OR_RESET)
        .order_by(Event.at.desc(), Event.id.desc())
        .limit(MOST_FAILURES_READ)
    )


# Built once: the login path runs them under its lock. An extension number names an extension only
# within its tenant (1001 may be in every one); a MAC names one phone on the whole server.
_EXTENSION_HISTORY = _history(Event.tenant_id == bindparam("tenant"), Event.extension == bindparam("value"))
_PHONE_HISTORY = _history(Event.mac == bindparam("value"))
_KNOWN_PHONES = (
    select(Event.mac, Event.ip)
    .where(
        Event.tenant_id == bindparam("tenant"),
        Event.extension == bindparam("number"),
        Event.at > bindparam("since"),
        Event.kind == EventKind.LOGIN.value,
        Event.mac.is_not(None),
    )
    .group_by(Event.mac, Event.ip)
    .order_by(func.max(Event.at).desc())
    .limit(MOST_KNOWN_PHONES)
)


def _candidates(column):
    """Who has enough counted failures lately to be locked: the only ones worth a closer look."""
    return (
        select(column)
        .where(
            column.is_not(None),
            Event.tenant_id == bindparam("tenant"),
            Event.at > bindparam("since"),
            Event.kind == EventKind.LOGIN_FAILED.value,
            Event.detail.in_(COUNTED),
        )
        .group_by(column)
        .having(func.count() >= bindparam("attempts"))
        .order_by(func.max(Event.at).desc())
        .limit(LISTED)
    )
