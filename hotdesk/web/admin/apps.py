"""The softphone panel of an extension's page: the user's QR code (clicking it refreshes it), their
QR choices, and the apps signed in to their account, each with Revoke."""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for
from markupsafe import Markup

from hotdesk.admin import AdminError, apps, users
from hotdesk.admin import extensions as admin_extensions
from hotdesk.models import User
from hotdesk.softphone.options import QR_ADDRESS, QR_TRANSPORT
from hotdesk.softphone.qr import svg_element
from hotdesk.web import app_base_url, db, hotdesk, settings, tenant_id
from hotdesk.web.admin.base import bp, refusals_flashed


def softphone_panel(user: User) -> dict:
    """What the panel shows: the QR code of the current sign-in URL (or why there is none), the
    tenant's defaults the user's choices fall back to, the apps."""
    panel: dict = {
        "apps": apps.apps(db(), user),
        "default_transport": settings()[QR_TRANSPORT].value,
        "default_address": settings()[QR_ADDRESS].value,
    }
    try:
        made = apps.sign_in_url(
            db(), hotdesk().settings, hotdesk().config.secret_key, user, g.actor, base_url=app_base_url()
        )
    except AdminError as error:
        return panel | {"qr_problem": str(error)}
    return panel | {
        "qr_url": made.url,
        "qr_expires_at": made.expires_at,
        "qr_svg": Markup(svg_element(made.url)),
        "qr_warning": made.warning,
    }


def _user(number: str) -> User:
    return users.of_extension(admin_extensions.get(db(), number, tenant_id=tenant_id()))


def _back(number: str):
    return redirect(url_for("admin.extension_edit", number=number, _anchor="softphone"))


@bp.post("/extensions/<number>/qr")
@refusals_flashed
def extension_qr_refresh(number: str):
    """The QR code clicked: a new one, every earlier one dead at once."""
    user = _user(number)
    apps.sign_in_url(
        db(), hotdesk().settings, hotdesk().config.secret_key, user, g.actor, refresh=True, base_url=app_base_url()
    )
    flash(f"New QR code for {user.username}: the earlier one no longer signs an app in.", "info")
    return _back(number)


@bp.post("/extensions/<number>/qr-choices")
@refusals_flashed
def extension_qr_choices(number: str):
    user = _user(number)
    form = request.form
    apps.set_qr_choices(db(), user, g.actor, transport=form.get("qr_transport", ""), address=form.get("qr_address", ""))
    flash(
        f"QR choices of {user.username} saved: apps signed in get them at their next start, the QR code when it is"
        " scanned.",
        "info",
    )
    return _back(number)


@bp.post("/extensions/<number>/apps/<int:app_id>/revoke")
@refusals_flashed
def extension_app_revoke(number: str, app_id: int):
    user = _user(number)
    app = apps.revoke_app(db(), user, app_id, g.actor)
    flash(f"App {app.id} ({app.label}) of {user.username} revoked: it stops registering at its next start.", "info")
    return _back(number)
