"""People's softphone apps as admins manage them: the QR code that signs an app in (shown, or
refreshed so every earlier one stops working), the per-user QR choices, and the apps signed in
(listed, revoked). The same functions serve the console, the API and the CLI; the rules are
hotdesk.softphone.apps, which the person's own portal uses too.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from hotdesk.admin import AdminError, NotFound, record_change
from hotdesk.models import AppDevice, User
from hotdesk.setting_store import Settings
from hotdesk.softphone import apps as softphone_apps
from hotdesk.softphone import links
from hotdesk.softphone.apps import SignInUrl

__all__ = ["SignInUrl", "apps", "revoke_app", "set_qr_choices", "sign_in_url"]


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
    try:
        return softphone_apps.sign_in_url(session, settings, key, user, actor, refresh=refresh, base_url=base_url)
    except softphone_apps.AppsError as error:
        raise AdminError(str(error)) from None


def set_qr_choices(session: Session, user: User, actor: str, *, transport: str | None, address: str | None) -> None:
    """The user's own transport and address for their app ("" or None: the tenant's setting)."""
    try:
        changed = softphone_apps.set_qr_choices(session, user, transport=transport, address=address)
    except softphone_apps.AppsError as error:
        raise AdminError(str(error)) from None
    if changed:
        record_change(
            session,
            actor,
            f"QR choices of {user.username}: transport {user.qr_transport or 'the tenant setting'},"
            f" address {user.qr_address or 'the tenant setting'}",
            extension=user.extension.number,
            tenant_id=user.tenant_id,
        )


def apps(session: Session, user: User) -> list[AppDevice]:
    """The apps signed in to the user's account, revoked ones too (the oldest first)."""
    return links.devices_of(session, user)


def revoke_app(session: Session, user: User, app_id: int, actor: str) -> AppDevice:
    """Take the account away from one of the user's apps at its next start."""
    try:
        return softphone_apps.revoke_app(session, user, app_id, actor)
    except softphone_apps.NoSuchApp as error:
        raise NotFound(str(error)) from None
