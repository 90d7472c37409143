"""People's softphone apps as admins manage them: the QR code that signs an app in (shown, or
refreshed so every earlier one stops working), the per-user QR choices, and the apps signed in
(listed, revoked). The same functions serve the console, the API and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from hotdesk import events
from hotdesk.admin import AdminError, NotFound, record_change
from hotdesk.models import Address, AppDevice, EventKind, Tenant, User
from hotdesk.setting_store import Settings
from hotdesk.settings import PHONE_BASE_URL
from hotdesk.softphone import links
from hotdesk.softphone.account import NoServer, account_of
from hotdesk.softphone.options import Transport


@dataclass(frozen=True)
class SignInUrl:
    url: str
    expires_at: datetime


def sign_in_url(
    session: Session,
    registry: Settings,
    key: str,
    user: User,
    actor: str,
    *,
    refresh: bool = False,
    base_url: str | None = None,
) -> SignInUrl:
    """The URL the user's QR code holds: the current one (a new one if none is usable), or with
    `refresh` a new one, every earlier one dead at once. `base_url`: where apps reach hotdesk (the
    web faces pass the request's; else the tenant's phone_base_url)."""
    settings = registry.values(session, user.tenant_id)
    base_url = base_url or settings[PHONE_BASE_URL]
    if not base_url:
        raise AdminError("phone_base_url is not set: a QR code must name the address apps reach hotdesk at")
    try:
        account_of(user, session.get_one(Tenant, user.tenant_id), settings)  # refused before a QR names nothing
    except NoServer as error:
        raise AdminError(str(error)) from None
    if refresh:
        link = links.new_link(session, user, key, settings)
        events.record(
            session,
            EventKind.QR_REFRESHED,
            extension=user.extension.number,
            actor=actor[:64],
            detail=f"QR code of {user.username} refreshed: earlier ones stop working",
            tenant_id=user.tenant_id,
        )
    else:
        link = links.current_link(session, user, key, settings)
    return SignInUrl(links.link_url(base_url, link.token), link.expires_at)


def set_qr_choices(session: Session, user: User, actor: str, *, transport: str | None, address: str | None) -> None:
    """The user's own transport and address for their app ("" or None: the tenant's setting)."""
    try:
        chosen_transport = Transport(transport.lower()).value if transport else None
        chosen_address = Address(address.lower()).value if address else None
    except ValueError:
        raise AdminError(
            f"QR transport is one of {', '.join(Transport)} and QR address one of {', '.join(Address)} (or empty)"
        ) from None
    if (user.qr_transport, user.qr_address) == (chosen_transport, chosen_address):
        return
    user.qr_transport, user.qr_address = chosen_transport, chosen_address
    record_change(
        session,
        actor,
        f"QR choices of {user.username}: transport {chosen_transport or 'the tenant setting'},"
        f" address {chosen_address or 'the tenant setting'}",
        extension=user.extension.number,
        tenant_id=user.tenant_id,
    )


def apps(session: Session, user: User) -> list[AppDevice]:
    """The apps signed in to the user's account, revoked ones too (the oldest first)."""
    return links.devices_of(session, user)


def revoke_app(session: Session, user: User, app_id: int, actor: str) -> AppDevice:
    """Take the account away from one of the user's apps at its next start."""
    device = session.get(AppDevice, app_id)
    if device is None or device.user_id != user.id:
        raise NotFound(f"{user.username} has no app {app_id}")
    if links.revoke(device):
        events.record(
            session,
            EventKind.APP_REVOKED,
            extension=user.extension.number,
            actor=actor[:64],
            detail=f"app {device.id} ({device.label}) of {user.username} revoked",
            tenant_id=user.tenant_id,
        )
    return device
