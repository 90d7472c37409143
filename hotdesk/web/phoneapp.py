"""The login/logout app phones open from their keys: request -> hot-desking rules -> screen -> dialect."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, request
from sqlalchemy import select

from hotdesk import brands, hotdesking
from hotdesk.brands import Brand
from hotdesk.hotdesking import LoginFailure
from hotdesk.models import Address, Device
from hotdesk.notifications import tell_device
from hotdesk.screens import Field, Form, Menu, MenuItem, Message, Reload, Screen
from hotdesk.web import client_ip, db, hotdesk
from hotdesk.web.links import app_url, device_from_token, login_url

bp = Blueprint("phoneapp", __name__, url_prefix="/phone")
log = logging.getLogger("hotdesk.phoneapp")

FAILURE_TEXT = {
    LoginFailure.MISSING_FIELDS: "Enter both your extension and your password.",
    LoginFailure.UNKNOWN_EXTENSION: "There is no extension {number}.",
    LoginFailure.WRONG_PASSWORD: "Wrong password for extension {number}.",
    LoginFailure.ADDRESS_NOT_CONFIGURED: "The {address} server address is not set up yet. Ask your administrator.",
}


@bp.get("/<token>/login/<address>")
def login_form(token: str, address: str) -> Response:
    device, brand = _device(token)
    chosen = _address(address, brand)
    screen = Form(
        title=f"Login ({chosen.value.capitalize()})",
        url=app_url("phoneapp.login_submit", token, address=chosen.value),
        fields=(
            Field("extension", "Extension:", numeric=True),
            Field("password", "Password:", secret=True),
        ),
    )
    return _answer(brand, screen)


@bp.get("/<token>/login/<address>/submit")
def login_submit(token: str, address: str) -> Response:
    device, brand = _device(token)
    chosen = _address(address, brand)
    session = db()
    number = request.args.get("extension", "")[:64]
    result = hotdesking.login(
        session, hotdesk().settings, device, number, request.args.get("password", "")[:128], chosen, client_ip()
    )
    if not result.ok:
        text = FAILURE_TEXT[result.failure].format(number=number.strip(), address=chosen.value)
        if result.failure is LoginFailure.WRONG_PASSWORD:
            log.warning("login failed: wrong password extension=%s mac=%s ip=%s", number.strip(), device.mac, client_ip())
        return _answer(brand, Message("Login failed", text, error=True, back_url=login_url(token, chosen)))

    extension = result.extension
    for other in result.logged_out:
        _reload(other, reason=f"{extension.number} logged in on {device.mac}", host=other.last_ip)
    screen = Reload("Logged in", f"Welcome, {extension.name} ({extension.number}). The phone now loads your settings.")
    return _answer(brand, screen, reload=device)


@bp.get("/<token>/menu")
def menu(token: str) -> Response:
    device, brand = _device(token)
    mapping = device.mapping
    address = mapping.address if mapping else Address.EXTERNAL
    user = f"{mapping.extension.number} {mapping.extension.name}" if mapping else "nobody"
    screen = Menu(
        title=f"Logged in: {user}",
        items=(MenuItem("Login", login_url(token, address)), MenuItem("Logout", app_url("phoneapp.logout", token))),
    )
    return _answer(brand, screen)


@bp.get("/<token>/logout")
def logout(token: str) -> Response:
    device, brand = _device(token)
    extension = hotdesking.logout(db(), device, ip=client_ip())
    if extension is None:
        return _answer(brand, Message("Logout", "Nobody is logged in on this phone."))
    screen = Reload("Logged out", f"Goodbye, {extension.name}. The phone returns to guest mode.")
    return _answer(brand, screen, reload=device)


def _device(token: str) -> tuple[Device, Brand]:
    """The device a token was issued to; refused if forged, unknown, or presented by another phone."""
    mac = device_from_token(token)
    device = db().scalar(select(Device).where(Device.mac == mac)) if mac else None
    brand = brands.BRANDS.get(device.brand) if device else None
    if device is None or brand is None:
        _refuse(None, "This key does not belong to a known phone. Restart the phone to renew its keys.")
    identity = brand.identify(request.headers.get("User-Agent", ""), request.headers)
    if identity is not None and identity.mac and identity.mac != device.mac:
        log.warning("phone app: token of %s presented by %s (ip=%s)", device.mac, identity.mac, client_ip())
        _refuse(brand, "This key belongs to another phone.")
    return device, brand


def _address(value: str, brand: Brand) -> Address:
    try:
        return Address(value)
    except ValueError:
        _refuse(brand, "Unknown server choice: use the External or Internal key.", status=404)


def _refuse(brand: Brand | None, text: str, status: int = 403):
    if brand is None:
        found = brands.recognise(request.headers.get("User-Agent", ""), request.headers)
        brand = found[0] if found else None
    if brand is None:
        abort(Response(text + "\n", status, content_type="text/plain; charset=utf-8"))
    abort(_answer(brand, Message("Not allowed", text, error=True), status=status))


def _answer(brand: Brand, screen: Screen, status: int = 200, reload: Device | None = None) -> Response:
    response = Response(brand.render_screen(screen), status, content_type=brand.screen_content_type)
    response.headers["Cache-Control"] = "no-store"
    if reload is not None and brand.reloads_by_notify:
        _reload(reload, reason=screen.title.lower(), host=client_ip())
    return response


def _reload(device: Device, *, reason: str, host: str | None) -> None:
    state = hotdesk()
    settings = state.settings.all(db())
    brand = brands.BRANDS.get(device.brand)
    if brand is None:
        return
    tell_device(
        state.notifier,
        host=host,
        port=int(settings["phone_sip_port"]),
        event=brand.notify_event(settings),
        mac=device.mac,
        brand=device.brand,
        reason=reason,
    )
