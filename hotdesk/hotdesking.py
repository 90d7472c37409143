"""The hot-desking rules: verify, log in, log out, choose a template, describe a device's line.

Plain functions over a database session. No Flask, no XML, no brand names: callers pass the
brand key and the settings registry, and turn the results into screens or files.
"""

from __future__ import annotations

import enum
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeAlias

from sqlalchemy import bindparam, false, func, or_, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from hotdesk import events, lockout, trust
from hotdesk.db import after_commit, serialize_logins
from hotdesk.models import (
    DEFAULT_TENANT_ID,
    Address,
    Device,
    Event,
    EventKind,
    Extension,
    Mapping,
    Template,
    TemplatePin,
    utcnow,
)
from hotdesk.pbx import voicemail
from hotdesk.settings import (
    ADMIN_PASSWORD,
    ASTERISK_CONFIG_DIR,
    DAILY_LOGOUT_TIME,
    DEVICE_ADMISSION,
    DIRECTORY_SOURCE,
    EXTERNAL_ADDRESS,
    GUEST_LINE_ADDRESS,
    GUEST_LINE_DISPLAY_NAME,
    GUEST_LINE_SECRET,
    GUEST_LINE_USERNAME,
    INTERNAL_ADDRESS,
    MAX_LOGIN_MINUTES,
    MULTIPLE_LOGIN,
    TIMEZONE,
    USER_PASSWORD,
    VOICEMAIL_CONTEXT,
    DirectorySource,
    MultipleLogin,
    SettingSpec,
    SettingValues,
    SipAddress,
)
from hotdesk.sightings import LAST_SEEN_PRECISION, Sighting, Sightings
from hotdesk.snapshot import CachedTemplate, Snapshot

if TYPE_CHECKING:  # hotdesk.phone_codes makes these; access_codes imports (through mail) this module
    from hotdesk.access_codes import Challenge

SERVER_ADDRESS: dict[Address, SettingSpec[SipAddress | None]] = {
    Address.EXTERNAL: EXTERNAL_ADDRESS,
    Address.INTERNAL: INTERNAL_ADDRESS,
}  # the setting each login key registers to
log = logging.getLogger("hotdesk.login")

"""Provisioning fetches update a device's last_seen at most this often: no write per request."""


class LoginFailure(enum.StrEnum):
    MISSING_FIELDS = "missing_fields"
    UNKNOWN_EXTENSION = "unknown_extension"
    WRONG_PASSWORD = "wrong_password"
    ADDRESS_NOT_CONFIGURED = "address_not_configured"
    LOCKED_OUT = "locked_out"
    NOT_ADMITTED = "not_admitted"  # device_admission: the phone waits for an admin to admit it
    PINS_UNAVAILABLE = "pins_unavailable"  # directory_source asterisk: voicemail.conf never read whole
    # phone_two_factor (login_with_code): a wrong code counts as a wrong PIN does (lockout.COUNTED)
    WRONG_ACCESS_CODE = "wrong_access_code"
    ACCESS_CODE_UNAVAILABLE = "access_code_unavailable"  # no e-mail address or no mail server: no login
    ACCESS_CODE_EXPIRED = "access_code_expired"  # used, expired, replaced, or not this phone's: start again
    ACCESS_CODE_NOT_RESENT = "access_code_not_resent"  # too soon after the last code, or too many codes


@dataclass(frozen=True)
class LoggedIn:
    extension: Extension
    logged_out: list[Device]  # other phones this login displaced: tell them to reload
    ip: str | None  # where the login came from (its LOGIN event's): hotdesk.trust's login address


@dataclass(frozen=True)
class Refused:
    failure: LoginFailure
    retry_after: timedelta | None = None  # LOCKED_OUT, ACCESS_CODE_NOT_RESENT: for how long
    attempts_left: int | None = None  # WRONG_ACCESS_CODE: codes this login may still try


@dataclass(frozen=True)
class CodeSent:
    """phone_two_factor: the PIN was right, and a code is on its way to the extension's e-mail;
    `phone_codes.login_with_code` with `challenge.token` and that code completes the login."""

    extension: Extension
    challenge: Challenge


@dataclass(frozen=True)
class LoggedInElsewhere:
    """multiple_login = deny refused the login: `extension` is logged in on `elsewhere`. The user may
    override (log in again with `override=True`)."""

    extension: Extension
    elsewhere: Device


LoginResult: TypeAlias = LoggedIn | Refused | LoggedInElsewhere | CodeSent

# What a right PIN leads to instead of the login, when a second factor is asked for (hotdesk.phone_codes):
# (session, settings, device, extension, address, ip, override) -> its result.
SecondFactor: TypeAlias = Callable[[Session, SettingValues, Device, Extension, Address, str | None, bool], LoginResult]


@dataclass(frozen=True)
class Line:
    """One SIP registration, as every brand's template needs it."""

    number: str
    username: str
    auth_name: str
    secret: str
    display_name: str
    registrar_host: str
    registrar_port: int
    address: str


@dataclass(frozen=True)
class DeviceConfig:
    template: Template | CachedTemplate
    line: Line | None  # None: the guest configuration, which carries nobody's secret


def find_device(session: Session, *, mac: str | None = None, provisioning_username: str | None = None) -> Device | None:
    """A device by MAC or by its own provisioning user name, with its mapping and user loaded in the
    same query: a provisioning request needs all three."""
    if provisioning_username is not None:
        return session.scalar(_DEVICE_BY_USERNAME, {"username": provisioning_username})
    return session.scalar(_DEVICE_BY_MAC, {"mac": mac})


# Built once: building a statement costs more than running it from SQLAlchemy's compiled cache.
_DEVICE_WITH_USER = select(Device).options(joinedload(Device.mapping).joinedload(Mapping.extension))
_DEVICE_BY_MAC = _DEVICE_WITH_USER.where(Device.mac == bindparam("mac"))
_DEVICE_BY_USERNAME = _DEVICE_WITH_USER.where(Device.provisioning_username == bindparam("username"))


def new_device(
    session: Session,
    *,
    brand: str,
    mac: str,
    model: str | None,
    firmware: str | None,
    ip: str | None,
    admitted: bool = True,
    tenant_id: int = DEFAULT_TENANT_ID,
) -> Device:
    """The row for a phone's first fetch, flushed. `admitted`: under `open` admission it is at once;
    else it waits for an admin (hotdesk.trust). IntegrityError: another request made the row a
    moment ago (a phone that retries, or someone racing it); the caller rolls back and treats the
    device as a known one."""
    now = utcnow()
    device = Device(
        tenant_id=tenant_id,
        mac=mac,
        brand=brand,
        model=bounded(model),
        firmware=bounded(firmware),
        last_ip=ip,
        last_seen=now,
        first_ip=ip,
        admitted_at=now if admitted else None,
        waiting_addresses=None if admitted or ip is None else ip,
    )
    session.add(device)
    session.flush()
    return device


def record_device(
    session: Session,
    *,
    brand: str,
    mac: str,
    model: str | None,
    firmware: str | None,
    ip: str | None,
    known: Device | None = None,
    sightings: Sightings | None = None,
    proven: bool = False,
) -> Device:
    """The device row for a phone that just fetched a file; created (admitted) on its first fetch.

    `known`: the row, if the caller has already read it. `sightings`: write a known device's new
    address, model and time in the next batch rather than now (see hotdesk.sightings).
    `proven`: the request carried the device's own credentials (hotdesk.trust). Only such a
    request re-describes a device (brand, model), and only such a request moves the address of a
    device that has credentials of its own: others name it, they do not prove they are it."""
    device = known or find_device(session, mac=mac)
    if device is None:
        return new_device(session, brand=brand, mac=mac, model=model, firmware=firmware, ip=ip)
    now = utcnow()
    model, firmware = bounded(model), bounded(firmware)
    if not proven and device.provisioning_username is not None:
        return device
    if not device.brand:  # added by an admin: this is the first fetch that says what it is
        proven = True
    described = (
        brand if proven else device.brand,
        (model or device.model) if proven else (device.model or model),
        firmware or device.firmware,
    )
    redescribed = (device.brand, device.model, device.firmware) != described  # rare: a firmware upgrade, say
    moved = device.last_ip != ip
    stale = device.last_seen is None or now - device.last_seen > LAST_SEEN_PRECISION
    if sightings is not None and not redescribed and (moved or stale):
        sightings.note(Sighting(device.id, device.mac, ip, now))
        set_committed_value(device, "last_ip", ip)  # this request sees it too, without a write of its own
        set_committed_value(device, "last_seen", now)
    elif redescribed or moved or stale:
        device.brand, device.model, device.firmware = described
        device.last_ip, device.last_seen = ip, now
        session.flush()
    return device


_DESCRIPTION_LENGTH = Device.model.type.length  # model and firmware columns alike


def bounded(text: str | None) -> str | None:
    """A model or firmware as a User-Agent wrote it, cut to what the column holds."""
    return text[:_DESCRIPTION_LENGTH] if text else text


def record_mismatch(
    session: Session, device: Device, *, claim: str, brand: str, model: str | None, ip: str | None
) -> None:
    """An unproven request named the device and claimed to be something else: kept on the device
    (the latest one; written at most once a minute for the same claim) for the Phones page."""
    now = utcnow()
    detail = " ".join(
        [claim, f"(claimed brand={_log_safe(brand)} model={_log_safe(model or '-')} ip={_log_safe(ip or '-')})"]
    )[: Device.mismatch_detail.type.length]
    recent = device.mismatch_at is not None and now - device.mismatch_at < timedelta(minutes=1)
    if recent and device.mismatch_detail == detail:
        return
    device.mismatch_at, device.mismatch_detail = now, detail
    session.flush()


WAITING_ADDRESSES = 8  # enough to show a contest; bounded so a neighbour cannot grow the row


def note_waiting_address(session: Session, device: Device, ip: str | None) -> None:
    """A request named a device that waits for admission: remember the address (hotdesk.trust).
    Whoever fetched first or last must not decide where its credentials go once it is admitted."""
    seen = device.addresses_while_waiting
    if device.admitted or ip is None or ip in seen or len(seen) >= WAITING_ADDRESSES:
        return
    device.waiting_addresses = " ".join([*seen, ip])
    session.flush()


SHARED_FETCH_PRECISION = timedelta(hours=1)


def record_shared_fetch(session: Session, device: Device, ip: str | None) -> bool:
    """A device that has credentials of its own was asked for with the shared ones. Kept on the
    device, written (and worth a warning) at most once an hour, or when the address changes: True then."""
    now = utcnow()
    if (
        device.shared_fetch_at is not None
        and now - device.shared_fetch_at < SHARED_FETCH_PRECISION
        and device.shared_fetch_ip == ip
    ):
        return False
    device.shared_fetch_at, device.shared_fetch_ip = now, ip
    session.flush()
    return True


def devices_made_known_from(session: Session, ip: str | None, since: datetime) -> int:
    """How many devices requests from `ip` created since then (the new_devices_per_minute limit)."""
    return session.scalar(_MADE_KNOWN_FROM, {"ip": ip, "since": since}) or 0


_MADE_KNOWN_FROM = (
    select(func.count())
    .select_from(Device)
    .where(Device.first_ip == bindparam("ip"), Device.created_at > bindparam("since"))
)


def verify_password(extension: Extension, password: str, settings: SettingValues) -> bool:
    """Voicemail PIN; the global user password only without one; the admin password always.

    With directory_source asterisk the PIN is voicemail.conf's, as it is now (hotdesk.pbx.voicemail);
    voicemail.Unavailable if that file was never read whole (the admin password still works)."""
    try:
        pin = voicemail_pin(extension, settings)
    except voicemail.Unavailable:
        if _matches([settings[ADMIN_PASSWORD]], password):
            return True
        raise
    return _matches([settings[ADMIN_PASSWORD], pin or settings[USER_PASSWORD]], password)


def voicemail_pin(extension: Extension, settings: SettingValues) -> str | None:
    """The extension's voicemail PIN from where the tenant's PINs live (directory_source)."""
    if settings[DIRECTORY_SOURCE] is DirectorySource.ASTERISK:
        return voicemail.PINS.pin(settings[ASTERISK_CONFIG_DIR], settings[VOICEMAIL_CONTEXT], extension.number)
    return extension.voicemail_pin


def _matches(candidates: list[str], password: str) -> bool:
    # Compare against every candidate so the time taken does not tell which one matched.
    matches = [bool(c) and hmac.compare_digest(c.encode(), password.encode()) for c in candidates]
    return any(matches)


def login(
    session: Session,
    settings: SettingValues,
    device: Device,
    number: str,
    password: str,
    address: Address,
    ip: str | None = None,
    *,
    override: bool = False,
    snapshot: Snapshot | None = None,
    by_admin: str | None = None,
    second_factor: SecondFactor | None = None,
) -> LoginResult:
    """Log `number` into `device`. On failure nothing changes but the failure is recorded.

    Flushed, not committed: the login lock (db.serialize_logins) is held until the caller commits,
    which it does right after this returns — before any NOTIFY, render or answer.

    `override`: the user confirmed (with the password again) a login the `deny` policy refused.
    `snapshot`: the cached templates, if the caller has them (fewer statements under the lock).
    `by_admin`: the admin making this login (no password asked, no lockout applies, nothing counted);
    `ip` is then the address the device is known at, which stands in for a phone's own request.
    `second_factor`: what a right PIN leads to instead of the login (an admin's login asks for none).
    """
    # Keypads type printable characters; anything else (NUL included, which PostgreSQL refuses
    # in text) cannot be part of an extension or password.
    number, password = printable(number).strip(), printable(password).strip()
    if not number or (not password and by_admin is None):
        return Refused(LoginFailure.MISSING_FIELDS)
    if not trust.may_log_in(device, settings[DEVICE_ADMISSION]):
        # Not a failed guess: nothing recorded, nothing for fail2ban, and the password is not looked at.
        return Refused(LoginFailure.NOT_ADMITTED)
    if settings[SERVER_ADDRESS[address]] is None:
        return Refused(LoginFailure.ADDRESS_NOT_CONFIGURED)

    serialize_logins(session)
    now = utcnow()
    extension = session.scalar(_EXTENSION_BY_NUMBER, {"number": number, "tenant": device.tenant_id})
    if by_admin is not None:
        if extension is None:
            return Refused(LoginFailure.UNKNOWN_EXTENSION)
    else:
        verdict = lockout.check(session, settings, number, device.mac, ip, now, tenant_id=device.tenant_id)
        if verdict.locked:
            # Recorded, but counted against nothing: only attempts that tested a PIN count.
            record_failure(session, LoginFailure.LOCKED_OUT, number, device, address, ip, detail=verdict.detail)
            return Refused(LoginFailure.LOCKED_OUT, retry_after=verdict.locked.remaining(now))
        try:
            verified = extension is not None and verify_password(extension, password, settings)
        except voicemail.Unavailable:
            # Not a guess: nothing counts against the extension, and nobody gets in on a PIN unchecked.
            record_failure(session, LoginFailure.PINS_UNAVAILABLE, number, device, address, ip)
            return Refused(LoginFailure.PINS_UNAVAILABLE)
        if extension is None or not verified:
            failure = LoginFailure.UNKNOWN_EXTENSION if extension is None else LoginFailure.WRONG_PASSWORD
            record_failure(session, failure, number, device, address, ip, locks=(settings, verdict, extension, now))
            return Refused(failure)

    others = others_logged_in(session, extension, device)
    policy = settings[MULTIPLE_LOGIN]
    if others and policy is MultipleLogin.DENY and not override:
        return LoggedInElsewhere(extension, others[0].device)
    if second_factor is not None and by_admin is None:
        # Not a login yet (a LOGIN would reset the extension's failure count): the second factor completes it.
        return second_factor(session, settings, device, extension, address, ip, override)
    return complete_login(session, settings, device, extension, address, ip, others, override, snapshot, by_admin)


def others_logged_in(session: Session, extension: Extension, device: Device) -> list[Mapping]:
    """The extension's logins on phones other than `device`."""
    return [m for m in session.scalars(_MAPPINGS_OF_EXTENSION, {"extension": extension.id}) if m.device_id != device.id]


def complete_login(
    session: Session,
    settings: SettingValues,
    device: Device,
    extension: Extension,
    address: Address,
    ip: str | None,
    others: list[Mapping],
    override: bool,
    snapshot: Snapshot | None,
    by_admin: str | None,
) -> LoggedIn:
    """The login itself, once whatever proves it (PIN, access code, an admin) has: the mapping, the
    phones it displaces, the LOGIN in the history."""
    now = utcnow()
    policy = settings[MULTIPLE_LOGIN]
    logged_out: list[Device] = []
    if device.mapping is not None:
        _end_mapping(
            session,
            device.mapping,
            ip=ip,
            actor=by_admin,
            detail="replaced by a new login on this phone",
        )
        session.flush()  # one mapping per device: the old row must go before the new one comes
    if policy is not MultipleLogin.ALLOW:
        for other in others:
            logged_out.append(other.device)
            _end_mapping(session, other, ip=None, actor=by_admin, detail=f"logged in on {device.mac}")
    mapping = Mapping(
        device=device,
        extension=extension,
        extension_id=extension.id,
        address=address,
        expires_at=login_expiry(settings, extension, now),
    )
    session.add(mapping)
    events.record(
        session,
        EventKind.LOGIN,
        extension=extension.number,
        device=device,
        template=choose_template(session, device, mapping, snapshot).name,
        address=address.value,
        ip=ip,
        actor=by_admin[:64] if by_admin is not None else None,
        detail=_login_detail(by_admin, override and bool(others)),
    )
    session.flush()
    return LoggedIn(extension, logged_out, ip)


def _login_detail(by_admin: str | None, overridden: bool) -> str | None:
    parts = (["made by an admin"] if by_admin is not None else []) + (["override"] if overridden else [])
    return ", ".join(parts) or None


# A phone logs in its own tenant's extensions only: 1001 may be in every tenant.
_EXTENSION_BY_NUMBER = select(Extension).where(
    Extension.tenant_id == bindparam("tenant"), Extension.number == bindparam("number")
)
_MAPPINGS_OF_EXTENSION = select(Mapping).where(Mapping.extension_id == bindparam("extension"))


def record_failure(
    session: Session,
    failure: LoginFailure,
    number: str,
    device: Device,
    address: Address,
    ip: str | None,
    *,
    detail: str | None = None,
    locks: tuple[SettingValues, lockout.Verdict, Extension | None, datetime] | None = None,
) -> None:
    """`detail`: what the history says instead of the failure's name. `locks`: this failure tested a
    PIN, so it counts; record the lock it completes, if it completes one."""
    events.record(
        session,
        EventKind.LOGIN_FAILED,
        extension=number[:32],
        device=device,
        address=address.value,
        ip=ip,
        detail=detail or failure.value,
    )
    extension_locked = None
    if locks is not None:
        settings, verdict, extension, now = locks
        where = "all phones" if verdict.known_phone else "phones it has not logged in on"
        if extension is not None and (extension_locked := lockout.earned(settings, verdict.extension_failures, now)):
            events.record(
                session,
                EventKind.LOCKOUT,
                extension=extension.number,
                device=device,
                ip=ip,
                detail=f"extension {extension.number} locked on {where} for {_minutes(extension_locked, now)} "
                f"minute(s): {extension_locked.failures} failed logins",
            )
        if not verdict.known_phone and (phone_locked := lockout.earned(settings, verdict.phone_failures, now)):
            events.record(
                session,
                EventKind.LOCKOUT,
                device=device,
                ip=ip,
                detail=f"phone {device.mac} locked for {_minutes(phone_locked, now)} minute(s): "
                f"{phone_locked.failures} failed logins on it",
            )
    session.flush()
    # One fixed format, values without spaces, the address last: what deploy/fail2ban matches.
    log.warning(
        "hotdesk login failed: reason=%s extension=%s mac=%s ip=%s",
        failure.value,
        _log_safe(number),
        device.mac,
        _log_safe(ip or "-"),
    )
    if extension_locked is not None:
        locked, scope = extension_locked, where
        after_commit(session, lambda: lockout.tell_extension_locked(number[:32], locked, scope))


def _minutes(lock: lockout.Lock, now: datetime) -> int:
    return -(-int(lock.remaining(now).total_seconds()) // 60)


def printable(text: str) -> str:
    return text if text.isprintable() else "".join(ch for ch in text if ch.isprintable())


def _log_safe(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z.:_*#+@-]", "?", text[:32]) or "-"


def last_login_change(session: Session, device: Device) -> int | None:
    """The id of the device's latest login or logout event: changes whenever who is logged in does."""
    return session.scalar(_LAST_LOGIN_CHANGE, {"mac": device.mac})


_LAST_LOGIN_CHANGE = select(func.max(Event.id)).where(
    Event.mac == bindparam("mac"), Event.kind.in_((EventKind.LOGIN.value, EventKind.LOGOUT.value))
)


def login_address(session: Session, device: Device) -> str | None:
    """The address the device's current login came from: the phone's request, or for a login an admin
    made, the address the device was known at then. None: nobody is logged in there (hotdesk.trust)."""
    if device.mapping is None:
        return None
    return latest_login_address(session, device)


def reload_address(session: Session, device: Device) -> str | None:
    """Where a reload NOTIFY for this device goes: its known address (hotdesk.trust), never whoever
    asked for the reload; for a phone just logged out, judged by the login that ended."""
    return trust.reload_address(device, latest_login_address(session, device))


def latest_login_address(session: Session, device: Device) -> str | None:
    """The address the device's latest login came from, current or just ended (a displaced phone's)."""
    return session.scalar(_LATEST_LOGIN_ADDRESS, {"mac": device.mac})


_LATEST_LOGIN_ADDRESS = (
    select(Event.ip)
    .where(Event.mac == bindparam("mac"), Event.kind == EventKind.LOGIN.value)
    .order_by(Event.at.desc())
    .limit(1)
)


def login_expiry(settings: SettingValues, extension: Extension, now: datetime) -> datetime | None:
    """When this login ends by itself: the maximum login time, the daily logout, whichever is first."""
    limits = []
    minutes = extension.max_login_minutes if extension.max_login_minutes is not None else settings[MAX_LOGIN_MINUTES]
    if minutes:
        limits.append(now + timedelta(minutes=minutes))
    daily = settings[DAILY_LOGOUT_TIME]
    if daily is not None:
        local_now = now.astimezone(settings[TIMEZONE])
        at = local_now.replace(hour=daily.hour, minute=daily.minute, second=0, microsecond=0)
        if at <= local_now:
            at += timedelta(days=1)  # same wall-clock time tomorrow, across DST changes too
        limits.append(at.astimezone(UTC))
    return min(limits) if limits else None


def expired_logins(session: Session, now: datetime | None = None) -> list[Device]:
    """Log out every phone whose login has expired. The devices, so the caller can tell them."""
    now = now or utcnow()
    serialize_logins(session)
    mappings = list(session.scalars(select(Mapping).where(Mapping.expires_at <= now)))
    devices = [m.device for m in mappings]
    for mapping in mappings:
        _end_mapping(session, mapping, ip=None, actor="hotdesk", detail="automatic logout")
    session.flush()
    return devices


def logout(session: Session, device: Device, *, ip: str | None = None, actor: str | None = None) -> Extension | None:
    """Return the phone to guest. The extension that was logged in, or None if there was none."""
    serialize_logins(session)
    mapping = session.scalar(select(Mapping).where(Mapping.device_id == device.id))
    if mapping is None:
        return None
    extension = mapping.extension
    _end_mapping(session, mapping, ip=ip, actor=actor)
    session.flush()
    return extension


def _end_mapping(
    session: Session, mapping: Mapping, *, ip: str | None, actor: str | None = None, detail: str | None = None
) -> None:
    events.record(
        session,
        EventKind.LOGOUT,
        extension=mapping.extension.number,
        device=mapping.device,
        template=choose_template(session, mapping.device, mapping).name,
        address=mapping.address.value,
        ip=ip,
        actor=actor[:64] if actor else None,  # "api:" and a token name of up to 64
        detail=detail,
    )
    mapping.device.registered_as = mapping.extension.number
    mapping.device.mapping = None
    session.delete(mapping)


def choose_template(
    session: Session, device: Device, mapping: Mapping | None = None, snapshot: Snapshot | None = None
) -> Template | CachedTemplate:
    """The mapping's template, else the extension's pinned one for this brand, else the brand's
    default for the device's tenant (its own, else the system's).

    `snapshot`: the cached templates and pins to pick from (saves reading them)."""
    if mapping is not None and mapping.template_id is not None:
        chosen = snapshot.templates.get(mapping.template_id) if snapshot else mapping.template
        if chosen is not None and chosen.brand == device.brand and _usable(chosen, device):
            return chosen
    if snapshot is not None:
        pinned = mapping and snapshot.pins.get((mapping.extension_id, device.brand))
        chosen = pinned if pinned and _usable(pinned, device) else snapshot.default_for(device.tenant_id, device.brand)
    else:  # the pin and the defaults in one query
        is_pinned = (
            Template.id.in_(
                select(TemplatePin.template_id).where(
                    TemplatePin.extension_id == mapping.extension_id, TemplatePin.brand == device.brand
                )
            )
            if mapping is not None
            else false()
        )
        candidates = session.execute(
            select(Template, is_pinned).where(
                Template.brand == device.brand,
                or_(Template.tenant_id.is_(None), Template.tenant_id == device.tenant_id),
                or_(Template.is_default, is_pinned),
            )
        ).all()
        # pinned first, then the tenant's own default, then the system's
        ranked = sorted(candidates, key=lambda row: (not row[1], row[0].tenant_id is None))
        chosen = ranked[0][0] if ranked else None
    if chosen is None:
        raise LookupError(f"no default template for brand {device.brand!r}: run `hotdesk init-db`")
    return chosen


def _usable(template: Template | CachedTemplate, device: Device) -> bool:
    """The system's templates serve every tenant; a tenant's own serve only its phones."""
    return template.tenant_id is None or template.tenant_id == device.tenant_id


def device_config(session: Session, device: Device, snapshot: Snapshot) -> DeviceConfig:
    """What the device should be running: its template, and its user's line if someone is logged in."""
    mapping = device.mapping
    template = choose_template(session, device, mapping, snapshot)
    if mapping is None:
        return DeviceConfig(template=template, line=None)
    extension = mapping.extension
    # An address emptied after the login leaves the line without a registrar, not the user without a line.
    host, port, _ = snapshot.settings_for(device.tenant_id)[SERVER_ADDRESS[mapping.address]] or ("", 5060, False)
    line = Line(
        number=extension.number,
        username=extension.number,
        auth_name=extension.sip_auth_name,
        secret=extension.secret,
        display_name=extension.name,
        registrar_host=host,
        registrar_port=port,
        address=mapping.address.value,
    )
    return DeviceConfig(template=template, line=line)


def guest_line(settings: SettingValues) -> Line | None:
    """The line a logged-out phone registers, if an admin set one up (for emergency calls)."""
    username = settings[GUEST_LINE_USERNAME]
    address = settings[GUEST_LINE_ADDRESS] or settings[INTERNAL_ADDRESS]
    if not username or address is None:
        return None
    host, port, _ = address
    return Line(
        number=username,
        username=username,
        auth_name=username,
        secret=settings[GUEST_LINE_SECRET],
        display_name=settings[GUEST_LINE_DISPLAY_NAME],
        registrar_host=host,
        registrar_port=port,
        address="guest",
    )
