"""The desk phone's second factor (phone_two_factor = email, interfaces.md section 7): after the
right PIN, a code mailed to the extension's address completes the login, at that phone only.

The PIN step is not a login: it writes ACCESS_CODE_SENT (a LOGIN would reset the extension's
count of failures), and the code step is the login. A wrong code is a failed login of the
extension (`wrong_access_code`, in lockout.COUNTED), so the extension's progressive lock applies to
codes as to PINs; a locked extension's code is not looked at. The challenge (hotdesk.access_codes)
is bound to the phone's MAC and the address it asked from, and carries the login's address choice
and whether it overrides a `deny`. No address or no mail server: no login (fail closed).

Flushed under the login lock (db.serialize_logins), as hotdesking.login; the caller commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from hotdesk import access_codes, events, hotdesking, lockout, trust
from hotdesk.access_codes import Face, Who
from hotdesk.db import serialize_logins
from hotdesk.hotdesking import (
    SERVER_ADDRESS,
    CodeSent,
    LoggedInElsewhere,
    LoginFailure,
    LoginResult,
    Refused,
    SecondFactor,
    record_failure,
)
from hotdesk.models import AccessCode, Address, Device, EventKind, Extension, utcnow
from hotdesk.settings import DEVICE_ADMISSION, MULTIPLE_LOGIN, MultipleLogin, SettingValues
from hotdesk.snapshot import Snapshot


def second_factor(settings: SettingValues) -> SecondFactor | None:
    """What a right PIN at a phone leads to (hotdesking.login's `second_factor`): with
    phone_two_factor on, a code mailed to the extension (send_code); else the login itself."""
    return send_code if access_codes.required(settings, Face.PHONE) else None


def send_code(
    session: Session,
    settings: SettingValues,
    device: Device,
    extension: Extension,
    address: Address,
    ip: str | None,
    override: bool,
) -> CodeSent | Refused:
    """The PIN was right and phone_two_factor is on: a challenge bound to this phone at this address,
    carrying what the login needs to finish (its address, whether it overrides a deny)."""
    context = json.dumps({"address": address.value, "override": override})
    try:
        challenge = access_codes.start(
            session, Who.at_phone(extension), Face.PHONE, settings, mac=device.mac, ip=ip, context=context
        )
    except access_codes.NoAddress:  # fail closed: a PIN alone does not log in
        record_failure(session, LoginFailure.ACCESS_CODE_UNAVAILABLE, extension.number, device, address, ip)
        return Refused(LoginFailure.ACCESS_CODE_UNAVAILABLE)
    events.record(
        session,
        EventKind.ACCESS_CODE_SENT,
        extension=extension.number,
        device=device,
        address=address.value,
        ip=ip,
        detail=Face.PHONE.value,
    )
    session.flush()
    return CodeSent(extension, challenge)


@dataclass(frozen=True)
class _Pending:
    """An open challenge of this phone at this address, and what its login is to be."""

    row: AccessCode
    extension: Extension
    address: Address
    override: bool


def _pending(session: Session, device: Device, token: str, ip: str | None, now: datetime) -> _Pending | None:
    row = access_codes.find(session, token, mac=device.mac, now=now)
    if row is None or row.face != Face.PHONE or row.extension_id is None or (row.ip is not None and row.ip != ip):
        return None
    extension = session.get(Extension, row.extension_id)
    if extension is None or extension.tenant_id != device.tenant_id:
        return None
    try:
        context = json.loads(row.context or "{}")
        return _Pending(row, extension, Address(context["address"]), bool(context.get("override")))
    except (ValueError, KeyError, TypeError):
        return None


def login_with_code(
    session: Session,
    settings: SettingValues,
    device: Device,
    token: str,
    code: str,
    key: str | bytes,
    ip: str | None = None,
    *,
    snapshot: Snapshot | None = None,
) -> LoginResult:
    """Complete the login a right PIN began (CodeSent) with the code that was mailed for it, on the
    same phone at the same address. A wrong code is a failed login of the extension, counted as a
    wrong PIN is, so the extension's lock (lockout_attempts) applies; a locked extension's code is
    not even looked at. Flushed under the login lock, as `login`."""
    serialize_logins(session)
    now = utcnow()
    pending = _pending(session, device, token, ip, now)
    if pending is None:
        return Refused(LoginFailure.ACCESS_CODE_EXPIRED)
    extension, address = pending.extension, pending.address
    # What an admin changed while the code was on its way refuses before the code is used up.
    if not trust.may_log_in(device, settings[DEVICE_ADMISSION]):
        return Refused(LoginFailure.NOT_ADMITTED)
    if settings[SERVER_ADDRESS[address]] is None:
        return Refused(LoginFailure.ADDRESS_NOT_CONFIGURED)
    verdict = lockout.check(session, settings, extension.number, device.mac, ip, now, tenant_id=device.tenant_id)
    if verdict.locked:
        record_failure(session, LoginFailure.LOCKED_OUT, extension.number, device, address, ip, detail=verdict.detail)
        return Refused(LoginFailure.LOCKED_OUT, retry_after=verdict.locked.remaining(now))
    try:
        access_codes.check(session, token, hotdesking.printable(code)[:64], key, mac=device.mac, ip=ip, now=now)
    except access_codes.WrongCode as wrong:
        failure = LoginFailure.WRONG_ACCESS_CODE
        record_failure(
            session, failure, extension.number, device, address, ip, locks=(settings, verdict, extension, now)
        )
        return Refused(failure, attempts_left=wrong.remaining)
    except access_codes.NoChallenge:  # a racing request used it first
        return Refused(LoginFailure.ACCESS_CODE_EXPIRED)
    others = hotdesking.others_logged_in(session, extension, device)
    if others and settings[MULTIPLE_LOGIN] is MultipleLogin.DENY and not pending.override:
        return LoggedInElsewhere(extension, others[0].device)  # logged in elsewhere while the code was on its way
    return hotdesking.complete_login(
        session, settings, device, extension, address, ip, others, pending.override, snapshot, None
    )


def resend_code(
    session: Session, settings: SettingValues, device: Device, token: str, ip: str | None = None
) -> CodeSent | Refused:
    """A new code for the login waiting on this phone (access_codes.resend: the one before stops working)."""
    now = utcnow()
    pending = _pending(session, device, token, ip, now)
    if pending is None:
        return Refused(LoginFailure.ACCESS_CODE_EXPIRED)
    try:
        _row, challenge = access_codes.resend(session, token, settings, mac=device.mac, now=now)
    except access_codes.ResendRefused as refused:
        return Refused(LoginFailure.ACCESS_CODE_NOT_RESENT, retry_after=refused.retry_after)
    except access_codes.NoChallenge:
        return Refused(LoginFailure.ACCESS_CODE_EXPIRED)
    events.record(
        session,
        EventKind.ACCESS_CODE_RESENT,
        extension=pending.extension.number,
        device=device,
        address=pending.address.value,
        ip=ip,
        detail=Face.PHONE.value,
    )
    session.flush()
    return CodeSent(pending.extension, challenge)


def code_pending(session: Session, device: Device, token: str, ip: str | None = None) -> Extension | None:
    """The extension whose login waits for a code on this phone (token), or None: expired, used, another's."""
    pending = _pending(session, device, token, ip, utcnow())
    return pending.extension if pending is not None else None
