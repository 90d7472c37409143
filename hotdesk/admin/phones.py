"""Phones as admins see them: who is logged in where, the devices known, forcing a phone out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from hotdesk import credentials, hotdesking
from hotdesk.admin import AdminError, Conflict, NotFound, Page, page_size, paged, record_change
from hotdesk.brands import normalize_mac
from hotdesk.hotdesking import LoginFailure
from hotdesk.models import Address, Device, Event, EventKind, Extension, Mapping
from hotdesk.notifications import reload_device
from hotdesk.settings import Settings

LIVE_LIMIT = 200


@dataclass(frozen=True)
class Seat:
    """One row of who-is-where."""

    extension: str
    name: str
    mac: str
    brand: str
    model: str | None
    template: str  # brand/name the phone is served
    address: str
    since: datetime
    expires_at: datetime | None
    ip: str | None


def who_is_where(session: Session, search: str = "", limit: int = LIVE_LIMIT) -> list[Seat]:
    """The latest logins first; `search` matches an extension or MAC prefix."""
    query = (
        select(Mapping)
        .join(Extension)
        .join(Device)
        .options(joinedload(Mapping.device), joinedload(Mapping.extension), joinedload(Mapping.template))
        .order_by(Mapping.since.desc(), Mapping.id.desc())
        .limit(limit)
    )
    search = search.strip()
    if search:
        mac = search.lower().replace(":", "").replace("-", "")
        query = query.where(
            or_(Extension.number.startswith(search, autoescape=True), Device.mac.startswith(mac, autoescape=True))
        )
    seats = []
    for mapping in session.scalars(query):
        template = hotdesking.choose_template(session, mapping.device, mapping)
        device = mapping.device
        seats.append(
            Seat(
                mapping.extension.number,
                mapping.extension.name,
                device.mac,
                device.brand,
                device.model,
                f"{template.brand}/{template.name}",
                mapping.address.value,
                mapping.since,
                mapping.expires_at,
                device.last_ip,
            )
        )
    return seats


def logged_in_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Mapping)) or 0


def live_marker(session: Session) -> int:
    """Changes whenever anyone logs in or out anywhere: the id of the latest login/logout event."""
    # Newest first with LIMIT 1, not max(): the primary key is walked backwards and stops at the
    # first login or logout, where max() with a WHERE would read the whole history on every poll.
    latest = (
        select(Event.id)
        .where(Event.kind.in_((EventKind.LOGIN.value, EventKind.LOGOUT.value)))
        .order_by(Event.id.desc())
        .limit(1)
    )
    return session.scalar(latest) or 0


def devices_page(
    session: Session, *, search: str = "", after: str | None = None, limit: int | None = None
) -> Page[Device]:
    """Phones that have contacted hotdesk, by MAC; `search` matches a MAC prefix (separators allowed)."""
    limit = page_size(limit)
    query = (
        select(Device)
        .options(joinedload(Device.mapping).joinedload(Mapping.extension))
        .order_by(Device.mac)
        .limit(limit + 1)
    )
    prefix = search.strip().lower().replace(":", "").replace("-", "").replace(".", "")
    if prefix:
        query = query.where(Device.mac.startswith(prefix, autoescape=True))
    if after:
        query = query.where(Device.mac > after)
    return paged(list(session.scalars(query)), limit, lambda device: device.mac)


def device(session: Session, mac: str) -> Device:
    normalized = normalize_mac(mac)
    if normalized is None:
        raise AdminError(f"mac: {mac!r} is not a MAC address (12 hex digits, separators allowed)")
    found = session.scalar(select(Device).where(Device.mac == normalized))
    if found is None:
        raise NotFound(f"no phone with MAC {normalized} has contacted hotdesk")
    return found


def force_logout(session: Session, registry: Settings, notifier, mac: str, actor: str) -> Extension | None:
    """Log the phone out and tell it by SIP NOTIFY. The extension that was logged in, or None."""
    phone = device(session, mac)
    extension = hotdesking.logout(session, phone, actor=actor)
    if extension is not None:
        tell_reload(session, registry, notifier, phone, reason=f"logout by admin ({actor})")
    return extension


@dataclass(frozen=True)
class AdminLogin:
    """An admin-made login: the phone, who it displaced, and the NOTIFYs queued (mac -> future or None)."""

    device: Device
    extension: Extension
    address: str
    logged_out: list[Device]
    notified: dict[str, object]


def login(
    session: Session, registry: Settings, notifier, mac: str, number: str, address: str, actor: str
) -> AdminLogin:
    """Log extension `number` in on the phone without its PIN — the only way for phones without a
    login app (Digium D) — under the multiple_login policy, and tell the phone and any phone it
    displaced to reload. The login's address is the one the device is known at: brands without
    credentials of their own get the line only there, as after a login made on the phone."""
    phone = device(session, mac)
    try:
        chosen = Address(address)
    except ValueError:
        raise AdminError(f"address: {address!r} is not one of external, internal") from None
    number = number.strip()
    if not number:
        raise AdminError("extension: required")
    if session.scalar(select(Extension.id).where(Extension.number == number)) is None:
        raise NotFound(f"no extension {number}")
    if not phone.last_ip:
        raise AdminError(f"{phone.mac}: its address is not known yet; it must fetch its file first")
    result = hotdesking.login(session, registry.all(session), phone, number, "", chosen, phone.last_ip, by_admin=actor)
    if result.failure is LoginFailure.ADDRESS_NOT_CONFIGURED:
        raise AdminError(f"address: the {chosen.value} server address is not set up (setting {chosen.value}_address)")
    if result.failure is LoginFailure.LOGGED_IN_ELSEWHERE:
        raise Conflict(
            f"{number} is logged in on {result.elsewhere.mac} and multiple_login is deny: log it out there first"
        )
    if result.failure is LoginFailure.UNKNOWN_EXTENSION:
        raise NotFound(f"no extension {number}")
    if result.failure is not None:  # whatever else the core refuses (a phone not admitted, say)
        raise Conflict(f"{phone.mac}: login refused ({result.failure.value.replace('_', ' ')})")
    notified = {
        other.mac: tell_reload(
            session, registry, notifier, other, reason=f"{number} logged in on {phone.mac} by admin ({actor})"
        )
        for other in result.logged_out
    }
    notified[phone.mac] = tell_reload(
        session, registry, notifier, phone, reason=f"login of {number} by admin ({actor})"
    )
    return AdminLogin(phone, result.extension, chosen.value, result.logged_out, notified)


def reset_credentials(session: Session, mac: str, actor: str) -> Device:
    """Withdraw the phone's own provisioning credentials (a factory reset, a phone handed on): its
    next fetch with the global credentials is issued new ones, and its fast path changes."""
    phone = device(session, mac)
    record_change(session, actor, f"provisioning credentials of {phone.mac} withdrawn", device=phone)
    credentials.withdraw(session, phone)
    return phone


def tell_reload(session: Session, registry: Settings, notifier, phone: Device, *, reason: str):
    """Queue the brand's reload NOTIFY to the phone's last address; its outcome goes to the history."""
    return reload_device(notifier, registry.all(session), phone, reason=reason)
