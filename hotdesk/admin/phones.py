"""Phones as admins see them: who is logged in where, the devices known, forcing a phone out."""

from __future__ import annotations

import csv
import ipaddress
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from hotdesk import credentials, hotdesking
from hotdesk.admin import AdminError, Conflict, ImportCheck, NotFound, Page, page_size, paged, record_change
from hotdesk.hotdesking import CodeSent, LoggedIn, LoggedInElsewhere, LoginFailure, Refused
from hotdesk.mac import normalize_mac
from hotdesk.models import DEFAULT_TENANT_ID, Address, Device, Event, EventKind, Extension, Mapping, utcnow
from hotdesk.notifications import DeviceNotifier, reload_after_commit
from hotdesk.notify import NotifyOutcome
from hotdesk.setting_store import Settings

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


def who_is_where(
    session: Session, search: str = "", limit: int = LIVE_LIMIT, *, tenant_id: int = DEFAULT_TENANT_ID
) -> list[Seat]:
    """The tenant's latest logins first; `search` matches an extension or MAC prefix."""
    query = (
        select(Mapping)
        .join(Extension)
        .join(Device)
        .where(Device.tenant_id == tenant_id)
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


def logged_in_count(session: Session, *, tenant_id: int = DEFAULT_TENANT_ID) -> int:
    query = select(func.count()).select_from(Mapping).join(Device).where(Device.tenant_id == tenant_id)
    return session.scalar(query) or 0


def live_marker(session: Session, *, tenant_id: int = DEFAULT_TENANT_ID) -> int:
    """Changes whenever anyone of the tenant logs in or out: the id of its latest login/logout event
    (another tenant's logins move nothing a manager can see, not even when they happen)."""
    # Newest first with LIMIT 1, not max(): the primary key is walked backwards and stops at the
    # first login or logout, where max() with a WHERE would read the whole history on every poll.
    latest = (
        select(Event.id)
        .where(Event.kind.in_((EventKind.LOGIN.value, EventKind.LOGOUT.value)), Event.tenant_id == tenant_id)
        .order_by(Event.id.desc())
        .limit(1)
    )
    return session.scalar(latest) or 0


def devices_page(
    session: Session,
    *,
    search: str = "",
    after: str | None = None,
    limit: int | None = None,
    waiting: bool = False,
    tenant_id: int = DEFAULT_TENANT_ID,
) -> Page[Device]:
    """Phones that have contacted hotdesk (or an admin added), by MAC; `search` matches a MAC prefix
    (separators allowed); `waiting`: only those waiting to be admitted."""
    limit = page_size(limit)
    query = (
        select(Device)
        .options(joinedload(Device.mapping).joinedload(Mapping.extension))
        .where(Device.tenant_id == tenant_id)
        .order_by(Device.mac)
        .limit(limit + 1)
    )
    if waiting:
        query = query.where(Device.admitted_at.is_(None))
    prefix = search.strip().lower().replace(":", "").replace("-", "").replace(".", "")
    if prefix:
        query = query.where(Device.mac.startswith(prefix, autoescape=True))
    if after:
        query = query.where(Device.mac > after)
    return paged(list(session.scalars(query)), limit, lambda device: device.mac)


def tenant_of(session: Session, mac: str) -> int:
    """The tenant of the phone with this MAC, whichever it is (the default tenant if none has it): for
    the command line, a system admin's, where a MAC names one phone."""
    normalized = normalize_mac(mac)
    found = session.scalar(select(Device.tenant_id).where(Device.mac == normalized)) if normalized else None
    return found if found is not None else DEFAULT_TENANT_ID


def device(session: Session, mac: str, tenant_id: int = DEFAULT_TENANT_ID) -> Device:
    """The tenant's phone with this MAC; another tenant's is NotFound, as if absent."""
    normalized = normalize_mac(mac)
    if normalized is None:
        raise AdminError(f"mac: {mac!r} is not a MAC address (12 hex digits, separators allowed)")
    found = session.scalar(select(Device).where(Device.mac == normalized, Device.tenant_id == tenant_id))
    if found is None:
        raise NotFound(f"no phone with MAC {normalized} has contacted hotdesk")
    return found


@dataclass(frozen=True)
class ForcedLogout:
    """The phone, the extension that was logged in (None: nobody), the NOTIFY queued for when the
    caller commits (the future of its outcome, or None: nobody to tell)."""

    device: Device
    extension: Extension | None
    notified: Future[NotifyOutcome] | None


def force_logout(
    session: Session,
    registry: Settings,
    notifier: DeviceNotifier,
    mac: str,
    actor: str,
    *,
    tenant_id: int = DEFAULT_TENANT_ID,
) -> ForcedLogout:
    """Log the phone out and tell it by SIP NOTIFY once the caller commits."""
    phone = device(session, mac, tenant_id)
    extension = hotdesking.logout(session, phone, actor=actor)
    notified = None
    if extension is not None:
        notified = tell_reload(session, registry, notifier, phone, reason=f"logout by admin ({actor})")
    return ForcedLogout(phone, extension, notified)


@dataclass(frozen=True)
class AdminLogin:
    """An admin-made login: the phone, who it displaced, and the NOTIFYs queued (mac -> future or None)."""

    device: Device
    extension: Extension
    address: str
    logged_out: list[Device]
    notified: dict[str, Future[NotifyOutcome] | None]  # by MAC; None: no address to tell


def login(
    session: Session,
    registry: Settings,
    notifier: DeviceNotifier,
    mac: str,
    number: str,
    address: str,
    actor: str,
    *,
    tenant_id: int = DEFAULT_TENANT_ID,
) -> AdminLogin:
    """Log extension `number` in on the phone without its PIN — the only way for phones without a
    login app (Digium D) — under the multiple_login policy, and tell the phone and any phone it
    displaced to reload. The login's address is the one the device is known at: brands without
    credentials of their own get the line only there, as after a login made on the phone."""
    phone = device(session, mac, tenant_id)
    try:
        chosen = Address(address)
    except ValueError:
        raise AdminError(f"address: {address!r} is not one of external, internal") from None
    number = number.strip()
    if not number:
        raise AdminError("extension: required")
    if session.scalar(select(Extension.id).where(Extension.tenant_id == tenant_id, Extension.number == number)) is None:
        raise NotFound(f"no extension {number}")
    if not phone.last_ip:
        raise AdminError(f"{phone.mac}: its address is not known yet; it must fetch its file first")
    result = hotdesking.login(
        session, registry.values(session, phone.tenant_id), phone, number, "", chosen, phone.last_ip, by_admin=actor
    )
    match result:
        case Refused(LoginFailure.ADDRESS_NOT_CONFIGURED):
            raise AdminError(
                f"address: the {chosen.value} server address is not set up (setting {chosen.value}_address)"
            )
        case Refused(LoginFailure.UNKNOWN_EXTENSION):
            raise NotFound(f"no extension {number}")
        case Refused(failure):  # whatever else the core refuses (a phone not admitted, say)
            raise Conflict(f"{phone.mac}: login refused ({failure.value.replace('_', ' ')})")
        case CodeSent():  # never for an admin's login: only a phone's own PIN asks for an access code
            raise Conflict(f"{phone.mac}: login refused (an access code is required)")
        case LoggedInElsewhere(_, elsewhere):
            raise Conflict(
                f"{number} is logged in on {elsewhere.mac} and multiple_login is deny: log it out there first"
            )
        case LoggedIn(extension, logged_out):
            notified = {
                other.mac: tell_reload(
                    session, registry, notifier, other, reason=f"{number} logged in on {phone.mac} by admin ({actor})"
                )
                for other in logged_out
            }
            notified[phone.mac] = tell_reload(
                session, registry, notifier, phone, reason=f"login of {number} by admin ({actor})"
            )
            return AdminLogin(phone, extension, chosen.value, logged_out, notified)


def reset_credentials(session: Session, mac: str, actor: str, *, tenant_id: int = DEFAULT_TENANT_ID) -> Device:
    """Withdraw the phone's own provisioning credentials (a factory reset, a phone handed on): its
    next fetch with the global credentials from the address it was last seen at (by its own
    credentials) is issued new ones, and its fast path changes. `admit` with another address
    hands them elsewhere."""
    phone = device(session, mac, tenant_id)
    if phone.provisioning_username is not None:
        phone.admitted_address = phone.last_ip
    where = f" at its next fetch from {phone.admitted_address}" if phone.admitted_address else ""
    record_change(session, actor, f"provisioning credentials of {phone.mac} withdrawn: new ones{where}", device=phone)
    credentials.withdraw(session, phone)
    return phone


# Admission (setting device_admission, hotdesk.trust): admins say which phones are theirs.


def waiting(session: Session, limit: int = LIVE_LIMIT, *, tenant_id: int = DEFAULT_TENANT_ID) -> list[Device]:
    """The tenant's phones waiting to be admitted, the earliest first."""
    query = (
        select(Device)
        .where(Device.admitted_at.is_(None), Device.tenant_id == tenant_id)
        .order_by(Device.created_at, Device.mac)
        .limit(limit)
    )
    return list(session.scalars(query))


def waiting_count(session: Session, *, tenant_id: int = DEFAULT_TENANT_ID) -> int:
    query = select(func.count()).select_from(Device).where(Device.admitted_at.is_(None), Device.tenant_id == tenant_id)
    return session.scalar(query) or 0


def admit(
    session: Session, mac: str, actor: str, address: str | None = None, *, tenant_id: int = DEFAULT_TENANT_ID
) -> Device:
    """Admit a phone: logins on it are allowed, and its own credentials go to its next fetch with
    the shared ones from `address` — by default the address it was seen at, which the admin saw."""
    phone = device(session, mac, tenant_id)
    if phone.admitted and phone.provisioning_username is not None:
        raise Conflict(f"{phone.mac} is admitted already and has its own credentials")
    if not address and contested(phone):
        raise AdminError(_contested(phone))
    _admit(session, phone, actor, check_address(address) if address else phone.last_ip)
    session.flush()
    return phone


def contested(phone: Device) -> bool:
    """Was this waiting phone asked for from more than one address? Then only an admin can say
    which is the phone's: the first or the last to fetch it may be a neighbour."""
    return not phone.admitted and len(phone.addresses_while_waiting) > 1


def _contested(phone: Device) -> str:
    return (
        f"address: {phone.mac} was asked for from {', '.join(phone.addresses_while_waiting)} while it waited;"
        " give the address of the real phone"
    )


def admit_all_waiting(session: Session, actor: str, *, tenant_id: int = DEFAULT_TENANT_ID) -> list[Device]:
    """Admit every waiting phone asked for from one address only, each at that address; contested
    ones stay waiting for an admin to name their address."""
    waiting = session.scalars(
        select(Device).where(Device.admitted_at.is_(None), Device.tenant_id == tenant_id).order_by(Device.mac)
    )
    admitted = [phone for phone in waiting if not contested(phone)]
    for phone in admitted:
        _admit(session, phone, actor, phone.last_ip)
    session.flush()
    return admitted


def _admit(session: Session, phone: Device, actor: str, address: str | None) -> None:
    phone.admitted_at, phone.admitted_by, phone.admitted_address = utcnow(), actor[:64], address
    where = f"from {address}" if address else "from any address (none known yet)"
    record_change(
        session, actor, f"{phone.mac} admitted: its own credentials go to its next fetch {where}", device=phone
    )


def add_known(
    session: Session, mac: str, actor: str, address: str | None = None, *, tenant_id: int = DEFAULT_TENANT_ID
) -> Device:
    """Make a MAC known before its phone is plugged in (the only way in under `known`): admitted,
    its credentials to its first fetch from `address`, or from anywhere without one."""
    normalized = normalize_mac(mac)
    if normalized is None:
        raise AdminError(f"mac: {mac!r} is not a MAC address (12 hex digits, separators allowed)")
    address = check_address(address) if address else None
    phone = session.scalar(select(Device).where(Device.mac == normalized))
    if phone is not None and phone.tenant_id != tenant_id:
        raise Conflict(ANOTHER_TENANTS)
    if phone is not None:
        if phone.admitted:
            raise Conflict(f"{normalized} is known already")
        if not address and contested(phone):
            raise AdminError(_contested(phone))
        _admit(session, phone, actor, address or phone.last_ip)
    else:
        phone = _added(session, normalized, actor, address, tenant_id)
    session.flush()
    return phone


# MACs are unique across tenants: one another tenant has is refused with this, which names neither.
ANOTHER_TENANTS = "this MAC cannot be added: a system admin must hand its phone over (hotdesk devices hand-over)"


@dataclass(frozen=True)
class HandOver:
    device: Device
    logged_out: Extension | None
    notified: Future[NotifyOutcome] | None


def hand_over(
    session: Session,
    registry: Settings,
    notifier: DeviceNotifier,
    mac: str,
    to_tenant_id: int,
    actor: str,
    address: str | None = None,
) -> HandOver:
    """A system admin hands a phone to another tenant: the one whose credentials named it first was
    the wrong one (a customer may even claim a MAC printed on another's box), or the phone changes
    hands. It is logged out (and told), its own credentials are withdrawn — whoever holds them is
    no longer it — and it is admitted as a new phone of its new tenant: at `address` when given,
    else it waits for that tenant's admin (under `open`, its next fetch is)."""
    phone = device(session, mac, tenant_of(session, mac))
    if phone.tenant_id == to_tenant_id:
        raise Conflict(f"{phone.mac} is that tenant's already")
    address = check_address(address) if address else None
    extension = hotdesking.logout(session, phone, actor=actor)
    notified = None
    if extension is not None:
        notified = tell_reload(session, registry, notifier, phone, reason=f"handed over by admin ({actor})")
    credentials.withdraw(session, phone)
    record_change(session, actor, f"{phone.mac} handed over to another tenant", device=phone)
    phone.tenant_id = to_tenant_id
    phone.mismatch_at = phone.mismatch_detail = None
    phone.admitted_at = phone.admitted_by = phone.admitted_address = phone.waiting_addresses = None
    record_change(session, actor, f"{phone.mac} handed over from another tenant", device=phone)
    if address is not None:
        _admit(session, phone, actor, address)
    session.flush()
    return HandOver(phone, extension, notified)


def _added(session: Session, mac: str, actor: str, address: str | None, tenant_id: int) -> Device:
    # Brand and model are the first fetch's to say (hotdesking.record_device); until then, none.
    phone = Device(
        mac=mac, brand="", admitted_at=utcnow(), admitted_by=actor[:64], admitted_address=address, tenant_id=tenant_id
    )
    session.add(phone)
    where = f"from {address}" if address else "from any address"
    record_change(session, actor, f"{mac} added: its own credentials go to its first fetch {where}", device=phone)
    return phone


def check_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise AdminError(f"address: {text.strip()[:60]!r} is not an IP address") from None


IMPORT_COLUMNS = ("mac", "address")


@dataclass(frozen=True)
class KnownRow:
    line: int
    mac: str
    address: str | None
    action: str  # "add", "admit" (it waits), or "keep" (admitted already: left as it is)


@dataclass(frozen=True)
class KnownImport(ImportCheck[KnownRow]):
    @property
    def changed(self) -> list[KnownRow]:
        return [row for row in self.rows if row.action != "keep"]


def preview_known(session: Session, text: str, source: str, *, tenant_id: int = DEFAULT_TENANT_ID) -> KnownImport:
    """What importing a CSV of MACs (`mac[,address]`, an optional header line naming the columns)
    would do, and every line that stops it. Writes nothing."""
    parsed: list[tuple[int, str, str | None]] = []
    errors: list[tuple[int, str]] = []  # (line, message)
    seen: dict[str, int] = {}
    try:
        lines = list(enumerate(csv.reader(text.splitlines()), start=1))
    except csv.Error as error:
        return KnownImport([], [f"{source}: not CSV ({error})"])
    for number, row in lines:
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and cells[0].lower() == "mac":
            continue
        where = f"{source}, line {number}"
        if any("\x00" in cell for cell in cells):
            errors.append((number, f"{where}: a NUL character (is it a text file?)"))
            continue
        if len(cells) > len(IMPORT_COLUMNS):
            errors.append((number, f"{where}: at most {len(IMPORT_COLUMNS)} columns (mac,address)"))
            continue
        mac = normalize_mac(cells[0])
        if mac is None:
            errors.append((number, f"{where}, mac: {cells[0][:40]!r} is not a MAC address"))
            continue
        if mac in seen:
            errors.append((number, f"{where}, mac: {mac} is listed twice (line {seen[mac]})"))
            continue
        seen[mac] = number
        address = cells[1] if len(cells) > 1 and cells[1] else None
        if address is not None:
            try:
                address = check_address(address)
            except AdminError as error:
                errors.append((number, f"{where}, {error}"))
                continue
        parsed.append((number, mac, address))
    known: dict[str, Device] = {}
    macs = list(seen)
    for start in range(0, len(macs), 500):  # stay under every database's bound-parameter limit
        known.update(
            (d.mac, d) for d in session.scalars(select(Device).where(Device.mac.in_(macs[start : start + 500])))
        )
    rows = []
    for number, mac, address in parsed:
        phone = known.get(mac)
        if phone is not None and phone.tenant_id != tenant_id:
            errors.append((number, f"{source}, line {number}, mac: {ANOTHER_TENANTS}"))
            continue
        if phone is not None and not phone.admitted and not address and contested(phone):
            errors.append((number, f"{source}, line {number}, {_contested(phone)}"))
            continue
        action = "add" if phone is None else "keep" if phone.admitted else "admit"
        rows.append(KnownRow(number, mac, address, action))
    return KnownImport(rows, [message for _, message in sorted(errors)])


def import_known(
    session: Session, text: str, source: str, actor: str, *, tenant_id: int = DEFAULT_TENANT_ID
) -> KnownImport:
    """Add the MACs of a CSV file all or nothing: AdminError naming the first bad line (by line and
    field) if any is bad. MACs known already are admitted if they wait, and otherwise left as they are."""
    preview = preview_known(session, text, source, tenant_id=tenant_id)
    if not preview.ok:
        raise AdminError(preview.first_error())
    for row in preview.changed:
        if row.action == "add":
            _added(session, row.mac, actor, row.address, tenant_id)
        else:
            phone = device(session, row.mac, tenant_id)
            _admit(session, phone, actor, row.address or phone.last_ip)
    detail = f"devices imported from {source[:200]}: {len(preview.changed)} added or admitted"
    record_change(session, actor, detail, tenant_id=tenant_id)
    session.flush()
    return preview


def tell_reload(
    session: Session, registry: Settings, notifier: DeviceNotifier, phone: Device, *, reason: str
) -> Future[NotifyOutcome] | None:
    """Queue the brand's reload NOTIFY to the phone's known address once the caller commits; its
    outcome goes to the history. The future of that outcome, or None (no address or brand)."""
    host = hotdesking.reload_address(session, phone)
    return reload_after_commit(
        session, notifier, registry.values(session, phone.tenant_id), phone, reason=reason, host=host
    )
