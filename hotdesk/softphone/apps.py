"""A person's QR code, QR choices and signed-in apps, whoever acts on them: the person themself
(hotdesk.self_service, the portal) or an admin (hotdesk.admin.apps: console, API, CLI). The rules
are one: a QR code names a server and an address apps reach hotdesk at, a refresh kills every
earlier code, an app is revoked only through the person it belongs to. Functions flush; the caller
commits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from hotdesk import events
from hotdesk.models import Address, AppDevice, EventKind, Tenant, User
from hotdesk.settings import EXTERNAL_ADDRESS, INTERNAL_ADDRESS, PHONE_BASE_URL, SettingValues
from hotdesk.softphone import links
from hotdesk.softphone.account import NoServer, account_of
from hotdesk.softphone.options import ACCOUNT_SETTINGS, Transport


class AppsError(ValueError):
    """A request to tell the asker in one line; nothing was changed."""


class NoSuchApp(AppsError):
    """Not an app of this person (another's, or none): answered alike."""


@dataclass(frozen=True)
class SignInUrl:
    url: str
    expires_at: datetime
    warning: str | None = None  # what will keep apps from using it, for the admin to fix


IP_CERTIFICATE = (
    "{base} names an IP address over https: Linphone checks the server's certificate against a host"
    " name and refuses it for an IP address, so the app will not sign in. Give phone_base_url a host"
    " name with a certificate for it (or plain http on a trusted network)."
)


def address_warning(base_url: str) -> str | None:
    """Why apps will not reach `base_url`, if they will not: an https URL that names an IP address."""
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        return None
    return IP_CERTIFICATE.format(base=base_url)


def sign_in_url(
    session: Session,
    settings: SettingValues,
    key: str,
    user: User,
    actor: str,
    *,
    refresh: bool = False,
    base_url: str | None = None,
    ip: str | None = None,
) -> SignInUrl:
    """The URL the user's QR code holds: the current one (a new one if none is usable), or with
    `refresh` a new one, every earlier one dead at once. `settings`: the user's tenant's;
    `base_url`: where apps reach hotdesk (the web faces pass the request's; else phone_base_url)."""
    base_url = base_url or settings[PHONE_BASE_URL]
    if not base_url:
        raise AppsError("phone_base_url is not set: a QR code must name the address apps reach hotdesk at")
    try:
        account_of(user, session.get_one(Tenant, user.tenant_id), settings)  # refused before a QR names nothing
    except NoServer as error:
        raise AppsError(str(error)) from None
    if refresh:
        link = links.new_link(session, user, key, settings)
        _record(
            session,
            EventKind.QR_REFRESHED,
            user,
            actor,
            ip,
            f"QR code of {user.username} refreshed: earlier ones stop working",
        )
    else:
        link = links.current_link(session, user, key, settings)
    return SignInUrl(links.link_url(base_url, link.token), link.expires_at, address_warning(base_url))


def set_qr_choices(session: Session, user: User, *, transport: str | None, address: str | None) -> bool:
    """The user's own transport and address for their app ("" or None: the tenant's setting);
    False if they were the user's already."""
    try:
        chosen_transport = Transport(transport.strip().lower()).value if transport and transport.strip() else None
        chosen_address = Address(address.strip().lower()).value if address and address.strip() else None
    except ValueError:
        raise AppsError(
            f"QR transport is one of {', '.join(Transport)} and QR address one of {', '.join(Address)} (or empty)"
        ) from None
    if (user.qr_transport, user.qr_address) == (chosen_transport, chosen_address):
        return False
    user.qr_transport, user.qr_address = chosen_transport, chosen_address
    session.flush()
    return True


def revoke_app(session: Session, user: User, app_id: int, actor: str, ip: str | None = None) -> AppDevice:
    """Take the account away from one of the user's apps at its next start (NoSuchApp if it is not theirs)."""
    device = session.get(AppDevice, app_id) if 0 < app_id < 2**31 else None  # an id the column holds
    if device is None or device.user_id != user.id:
        raise NoSuchApp(f"{user.username} has no app {app_id}")
    if links.revoke(device):
        _record(
            session,
            EventKind.APP_REVOKED,
            user,
            actor,
            ip,
            f"app {device.id} ({device.label}) of {user.username} revoked",
        )
        session.flush()
    return device


def _record(session: Session, kind: EventKind, user: User, actor: str, ip: str | None, detail: str) -> None:
    events.record(
        session,
        kind,
        extension=user.extension.number,
        ip=ip,
        actor=actor[:64],
        detail=detail,
        tenant_id=user.tenant_id,
    )


# What an app's account is made of, besides the extension and the user's choices.
ACCOUNT_SETTING_NAMES = frozenset(spec.name for spec in (*ACCOUNT_SETTINGS, EXTERNAL_ADDRESS, INTERNAL_ADDRESS))


def account_change_note(changed: set[str]) -> str | None:
    """What an admin who changed these settings is told about apps, if any of them is an account's."""
    names = sorted(ACCOUNT_SETTING_NAMES & changed)
    if not names:
        return None
    return (
        f"Softphone apps ({', '.join(names)}): every app signed in gets the change at its next start (its"
        " configuration URL serves the account as it is now), and QR codes not yet scanned carry it too:"
        " no QR code needs a refresh."
    )
