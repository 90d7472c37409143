"""The login/logout app phones open from their keys: request -> hot-desking rules -> screen -> dialect."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from flask import Blueprint, Response, abort, current_app, request

from hotdesk import brands, hotdesking, phone_codes, trust
from hotdesk.brands import Brand, Identity
from hotdesk.db import serialize_logins
from hotdesk.hotdesking import CodeSent, LoggedIn, LoggedInElsewhere, LoginFailure, LoginResult, Refused
from hotdesk.models import Address, Device
from hotdesk.notifications import reload_device
from hotdesk.screens import CodeForm, Configuration, Field, Form, Menu, MenuItem, Message, Reload, Screen
from hotdesk.trust import Proof
from hotdesk.web import act_for_tenant, client_ip, db, hotdesk, snapshot
from hotdesk.web import settings as web_settings
from hotdesk.web.device_files import device_context
from hotdesk.web.links import (
    app_url,
    login_url,
    read_device_token,
    screen_state,
    screen_state_ok,
)
from hotdesk.web.named_phone import named_phone

bp = Blueprint("phoneapp", __name__, url_prefix="/phone")
log = logging.getLogger("hotdesk.phoneapp")

FAILURE_TEXT = {
    LoginFailure.MISSING_FIELDS: "Enter both your extension and your password.",
    LoginFailure.UNKNOWN_EXTENSION: "There is no extension {number}.",
    LoginFailure.WRONG_PASSWORD: "Wrong password for extension {number}.",
    LoginFailure.ADDRESS_NOT_CONFIGURED: "The {address} server address is not set up yet. Ask your administrator.",
    LoginFailure.LOCKED_OUT: "Too many failed logins. Try again in {minutes} minute(s).",
    LoginFailure.NOT_ADMITTED: "This phone is not admitted yet. Ask your administrator to admit it on the Phones page.",
    LoginFailure.PINS_UNAVAILABLE: "PINs cannot be checked now (the PBX's voicemail file). Ask your administrator.",
    LoginFailure.ACCESS_CODE_UNAVAILABLE: (
        "Extension {number} needs an access code by e-mail, and none can be sent to it: ask your administrator."
    ),
    LoginFailure.ACCESS_CODE_EXPIRED: "This access code has expired or was used. Please log in again.",
    LoginFailure.ACCESS_CODE_NOT_RESENT: "No new code can be sent now. Please log in again.",
    LoginFailure.WRONG_ACCESS_CODE: "Wrong access code, and no attempts left: log in again.",
}
EXPIRED_TEXT = "This screen has expired. Please start again."
NOT_OWN_TEXT = "This key is not this phone's own: restart the phone to renew its keys."
IN_USE_TEXT = (
    "Someone is logged in on this phone from another address: only there, or by an administrator, can it change."
)


@dataclass(frozen=True)
class Caller:
    """The device a request's token names, its brand, the token, and what the request proves."""

    device: Device
    brand: Brand
    token: str
    binding: str | None
    proof: Proof


@bp.get("/<token>/login/<address>")
def login_form(token: str, address: str) -> Response:
    caller = _caller(token)
    chosen = _address(address, caller.brand)
    return _answer(caller.brand, _login_form(token, caller.device, chosen, step="login"))


@bp.get("/<token>/login/<address>/submit/<state>")
def login_submit(token: str, address: str, state: str) -> Response:
    return _login(token, address, state, step="login")


@bp.get("/<token>/login/<address>/override/<state>")
def login_override(token: str, address: str, state: str) -> Response:
    return _login(token, address, state, step="override")


def _login_form(token: str, device: Device, address: Address, *, step: str, number: str = "") -> Form:
    state = screen_state(device.mac, step, _login_marker(device))
    endpoint = "phoneapp.login_submit" if step == "login" else "phoneapp.login_override"
    title = f"Login ({address.value.capitalize()})" if step == "login" else "Log in here anyway"
    return Form(
        title=title,
        url=app_url(endpoint, token, address=address.value, state=state),
        fields=(
            Field("extension", "Extension:", numeric=True, default=number),
            Field("password", "PIN:", numeric=True, secret=True),  # the voicemail PIN, or a password of digits
        ),
    )


def _login(token: str, address: str, state: str, *, step: str) -> Response:
    # Under the login lock from the start: what the checks below read (who is logged in, from where)
    # cannot change before the login decides.
    serialize_logins(db())
    caller = _caller(token)
    device, brand = caller.device, caller.brand
    chosen = _address(address, brand)
    if not screen_state_ok(state, device.mac, step, _login_marker(device)):
        return _answer(brand, Message("Login", EXPIRED_TEXT, error=True, back_url=login_url(token, chosen)))
    session = db()
    number = request.args.get("extension", "")[:64]
    settings = web_settings()
    result = hotdesking.login(
        session,
        settings,
        device,
        number,
        request.args.get("password", "")[:128],
        chosen,
        client_ip(),
        override=step == "override",
        snapshot=snapshot(),
        second_factor=phone_codes.second_factor(settings),
    )
    session.commit()  # the decision, failures included, releases the login lock before anything else runs
    return _login_answer(caller, result, chosen, number.strip())


def _login_answer(
    caller: Caller, result: LoginResult, chosen: Address, number: str, challenge: str | None = None
) -> Response:
    """What the phone shows for the outcome of its PIN or of the access code (`challenge`'s), committed already."""
    token, device, brand = caller.token, caller.device, caller.brand
    session = db()
    match result:
        case CodeSent(_, sent):
            return _answer(brand, _code_form(token, chosen, sent.token, f"Access code sent to {sent.sent_to}"))
        case Refused(LoginFailure.WRONG_ACCESS_CODE, attempts_left=left) if left and challenge:
            text = f"Wrong access code. {left} attempt(s) left."
            retry = app_url("phoneapp.code_form", token, address=chosen.value, challenge=challenge)
            return _answer(brand, Message("Login failed", text, error=True, back_url=retry))
        case LoggedInElsewhere(extension, where):
            choice = Menu(
                title=f"{extension.number} is logged in at {where.model or where.brand} {where.mac}",
                items=(
                    MenuItem(
                        "Log in here anyway",
                        app_url("phoneapp.override_form", token, address=chosen.value, number=extension.number),
                    ),
                ),
            )
            return _answer(brand, choice)
        case Refused(failure, retry_after):
            minutes = -(-int(retry_after.total_seconds()) // 60) if retry_after else 0
            text = FAILURE_TEXT[failure].format(number=number, address=chosen.value, minutes=minutes)
            return _answer(brand, Message("Login failed", text, error=True, back_url=login_url(token, chosen)))
        case LoggedIn(extension, logged_out, login_ip):
            for other in logged_out:
                # Each displaced phone at its own known address (for one without credentials of its own,
                # where the login just ended came from).
                host = trust.reload_address(other, hotdesking.latest_login_address(session, other))
                _reload(other, reason=f"{extension.number} logged in on {device.mac}", host=host)
            welcome = f"Welcome, {extension.name} ({extension.number}). The phone now loads your settings."
            return _reload_answer(caller, Reload("Logged in", welcome), login_ip)


def _code_form(token: str, address: Address, challenge: str, title: str) -> CodeForm:
    """The access code screen (phone_two_factor). The challenge is in the path: single-use, this
    phone's at this address, and cut out of every log line (hotdesk.logs)."""
    return CodeForm(
        title=title,
        url=app_url("phoneapp.code_submit", token, address=address.value, challenge=challenge),
        field=Field("code", "Access code:", numeric=True),
        resend_url=app_url("phoneapp.code_resend", token, address=address.value, challenge=challenge),
    )


@bp.get("/<token>/login/<address>/access-code/<challenge>")
def code_form(token: str, address: str, challenge: str) -> Response:
    caller = _caller(token)
    chosen = _address(address, caller.brand)
    if phone_codes.code_pending(db(), caller.device, challenge, client_ip()) is None:
        return _answer(caller.brand, _code_expired(token, chosen))
    return _answer(caller.brand, _code_form(token, chosen, challenge, "Access code"))


@bp.get("/<token>/login/<address>/access-code/<challenge>/submit")
def code_submit(token: str, address: str, challenge: str) -> Response:
    serialize_logins(db())  # as for a PIN: the checks and the login see the same phone
    caller = _caller(token)
    chosen = _address(address, caller.brand)
    session = db()
    key = current_app.config["SECRET_KEY"]
    code = request.args.get("code", "")[:64]
    if not code.strip():  # OK pressed on an empty field: not a wrong code
        return _answer(caller.brand, _code_form(token, chosen, challenge, "Enter the access code from the e-mail"))
    result = phone_codes.login_with_code(
        session, web_settings(), caller.device, challenge, code, key, client_ip(), snapshot=snapshot()
    )
    session.commit()
    return _login_answer(caller, result, chosen, "", challenge)


@bp.get("/<token>/login/<address>/access-code/<challenge>/resend")
def code_resend(token: str, address: str, challenge: str) -> Response:
    caller = _caller(token)
    chosen = _address(address, caller.brand)
    result = phone_codes.resend_code(db(), web_settings(), caller.device, challenge, client_ip())
    db().commit()
    match result:
        case CodeSent(_, sent):
            return _answer(caller.brand, _code_form(token, chosen, challenge, f"New code sent to {sent.sent_to}"))
        case Refused(LoginFailure.ACCESS_CODE_NOT_RESENT, retry_after=wait) if wait:
            seconds = -(-int(wait.total_seconds()) // 1)
            text = f"A new code can be sent in {seconds} second(s). The code already sent still works."
            back = app_url("phoneapp.code_form", token, address=chosen.value, challenge=challenge)
            return _answer(caller.brand, Message("Access code", text, error=True, back_url=back))
        case Refused(LoginFailure.ACCESS_CODE_NOT_RESENT):
            text = "No more codes for this login: log in again."
            return _answer(caller.brand, Message("Access code", text, error=True, back_url=login_url(token, chosen)))
        case _:
            return _answer(caller.brand, _code_expired(token, chosen))


def _code_expired(token: str, address: Address) -> Message:
    text = FAILURE_TEXT[LoginFailure.ACCESS_CODE_EXPIRED]
    return Message("Login", text, error=True, back_url=login_url(token, address))


@bp.get("/<token>/login/<address>/override")
def override_form(token: str, address: str) -> Response:
    """deny policy: the user chose to log in here anyway, and confirms with the password again."""
    caller = _caller(token)
    chosen = _address(address, caller.brand)
    number = request.args.get("number", "")[:32]
    return _answer(caller.brand, _login_form(token, caller.device, chosen, step="override", number=number))


@bp.get("/<token>/menu")
def menu(token: str) -> Response:
    caller = _caller(token)
    device, brand = caller.device, caller.brand
    mapping = device.mapping
    address = mapping.address if mapping else Address.EXTERNAL
    user = f"{mapping.extension.number} {mapping.extension.name}" if mapping else "nobody"
    state = screen_state(device.mac, "logout", _login_marker(device))
    screen = Menu(
        title=f"Logged in: {user}",
        items=(
            MenuItem("Login", login_url(token, address)),
            MenuItem("Logout", app_url("phoneapp.logout", token, state=state)),
        ),
    )
    return _answer(brand, screen)


@bp.get("/<token>/logout/<state>")
def logout(token: str, state: str) -> Response:
    serialize_logins(db())  # as for a login: the checks and the logout see the same phone
    caller = _caller(token)
    device, brand = caller.device, caller.brand
    if not screen_state_ok(state, device.mac, "logout", _login_marker(device)):
        return _answer(brand, Message("Logout", EXPIRED_TEXT, error=True, back_url=app_url("phoneapp.menu", token)))
    login_address = hotdesking.login_address(db(), device)  # of the login this logout ends
    extension = hotdesking.logout(db(), device, ip=client_ip())
    db().commit()  # releases the login lock; the phone reloads (NOTIFY or answer) only after it
    if extension is None:
        return _answer(brand, Message("Logout", "Nobody is logged in on this phone."))
    screen = Reload("Logged out", f"Goodbye, {extension.name}. The phone returns to guest mode.")
    return _reload_answer(caller, screen, login_address)


@bp.get("/<token>/configuration/<state>/<int:page>")
def configuration(token: str, state: str, page: int) -> Response:
    """One page of the device's new configuration, for brands whose answer to a login reloads the phone.

    The state ties the page to the login that sent the phone here: it carries the user's secret.
    """
    caller = _caller(token)
    device, brand = caller.device, caller.brand
    if brand.reloads_by_notify:
        _refuse(brand, "This phone takes its configuration from the provisioning server.", status=404)
    if not screen_state_ok(state, device.mac, "configuration", _login_marker(device)):
        return _answer(brand, Message("Reload", EXPIRED_TEXT, error=True))
    pages = brand.configuration_pages(_device_file(device, brand, caller.proof))
    if not 1 <= page <= len(pages):
        _refuse(brand, "There is no such configuration page.", status=404)
    return _answer(brand, Configuration(tuple(pages[page - 1])))


@bp.get("/<token>/reloaded")
def reloaded(token: str) -> Response:
    """What a phone shows once it has applied the configuration its login/logout answer pointed to."""
    caller = _caller(token)
    device, brand = caller.device, caller.brand
    if device.mapping is None:
        return _answer(brand, Message("Logged out", "This phone is a guest phone again."))
    extension = device.mapping.extension
    return _answer(brand, Message("Logged in", f"Welcome, {extension.name} ({extension.number})."))


def _with_configuration(caller: Caller, screen: Reload) -> Reload:
    """The answer itself reloads the phone: point it at its new configuration, page by page."""
    device, brand, token = caller.device, caller.brand, caller.token
    state = screen_state(device.mac, "configuration", _login_marker(device))
    # What the token proves now that the login or logout is done: the pages are counted as they will be served.
    proof = _proof(device, caller.binding) or Proof.NONE
    count = len(brand.configuration_pages(_device_file(device, brand, proof)))
    pages = tuple(app_url("phoneapp.configuration", token, state=state, page=n) for n in range(1, count + 1))
    return replace(screen, pages=pages, done_url=app_url("phoneapp.reloaded", token))


def _device_file(device: Device, brand: Brand, proof: Proof) -> bytes:
    """The device's own file as /provision/ would render it for this proof (without credentials: it
    issues none here)."""
    config = hotdesking.device_config(db(), device, snapshot())
    line = config.line if proof.may_read_line else None
    context = device_context(brand, device, config, line=line, proof=proof)
    return brand.render_config(config.template.body, context)


def _login_marker(device: Device) -> str:
    """Changes whenever the phone's login does: its latest login or logout in the history."""
    return str(hotdesking.last_login_change(db(), device) or 0)


def too_many_requests(error) -> Response:
    """429, in the phone's own dialect when the request names a phone we know."""
    text = "Too many requests from this phone. Wait a minute and try again."
    mac = named_phone().mac
    device = hotdesking.find_device(db(), mac=mac) if mac else None
    brand = brands.BRANDS.get(device.brand) if device else None
    response = (
        _answer(brand, Message("Please wait", text, error=True), status=429)
        if brand
        else Response(text + "\n", 429, content_type="text/plain; charset=utf-8")
    )
    # The limiter's own response is an HTML page: of it, only the headers about the limit, so the
    # answer keeps one Content-Type and one Content-Length, those of the body it carries.
    limiter_headers = error.get_response().headers if hasattr(error, "get_response") else {}
    for name, value in limiter_headers.items():
        if name.lower() == "retry-after" or name.lower().startswith("x-ratelimit-"):
            response.headers[name] = value
    return response


def _caller(token: str) -> Caller:
    """The device a token was issued to; refused if forged, unknown, presented by another phone, or
    not proving enough to act on the device as it is now (hotdesk.trust)."""
    read = read_device_token(token)
    device = hotdesking.find_device(db(), mac=read.mac) if read else None
    brand = brands.BRANDS.get(device.brand) if device else None
    if read is None or device is None or brand is None:
        _refuse(None, "This key does not belong to a known phone. Restart the phone to renew its keys.")
    act_for_tenant(device.tenant_id)  # its tenant's settings, extensions and addresses from here on
    identity = brand.identify(request.headers.get("User-Agent", ""), request.headers)
    if identity is not None and identity.mac and identity.mac != device.mac:
        log.warning("phone app: token of %s presented by %s (ip=%s)", device.mac, identity.mac, client_ip())
        _refuse(brand, "This key belongs to another phone.")
    proof = _proof(device, read.binding)
    if proof is None:
        log.warning("phone app: a key that is not %s's own refused (ip=%s)", device.mac, client_ip())
        _refuse(brand, NOT_OWN_TEXT)
    if not trust.app_may_act(proof, logged_in=device.mapping is not None):
        log.warning("phone app: %s is logged in from another address: refused (ip=%s)", device.mac, client_ip())
        _refuse(brand, IN_USE_TEXT)
    return Caller(device, brand, token, read.binding, proof)


def _proof(device: Device, binding: str | None) -> Proof | None:
    """What a request with a token of this binding proves about the device now (trust.app_token_proof)."""
    login_address = (
        hotdesking.login_address(db(), device)
        if device.provisioning_password is None and device.mapping is not None
        else None
    )
    key = current_app.config["SECRET_KEY"]
    return trust.app_token_proof(device, binding, key=key, login_address=login_address, ip=client_ip())


def _address(value: str, brand: Brand) -> Address:
    try:
        return Address(value)
    except ValueError:
        _refuse(brand, "Unknown server choice: use the External or Internal key.", status=404)


def _refuse(brand: Brand | None, text: str, status: int = 403) -> NoReturn:
    brand = brand or named_phone().brand
    if brand is None:
        abort(Response(text + "\n", status, content_type="text/plain; charset=utf-8"))
    abort(_answer(brand, Message("Not allowed", text, error=True), status=status))


def _answer(brand: Brand, screen: Screen, status: int = 200, **context: Any) -> Response:
    response = Response(brand.render_screen(screen, **context), status, content_type=brand.screen_content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def _reload_answer(caller: Caller, screen: Reload, login_address: str | None) -> Response:
    """The caller's phone must reload, by this answer or by a NOTIFY to its known address
    (trust.reload_address: never the request's source as such); `login_address`: where the login
    current when the reload was decided came from."""
    device, brand = caller.device, caller.brand
    if not brand.reloads_by_notify:
        phone = Identity(model=device.model, firmware=device.firmware, mac=device.mac)
        return _answer(brand, _with_configuration(caller, screen), phone=phone)
    response = _answer(brand, screen)
    _reload(device, reason=screen.title.lower(), host=trust.reload_address(device, login_address))
    return response


def _reload(device: Device, *, reason: str, host: str | None) -> None:
    reload_device(hotdesk().notifier, web_settings(), device, reason=reason, host=host)
