"""/provision/<file>: authenticate, recognise the phone, choose its template, render its file."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from hotdesk import brands, credentials, hotdesking
from hotdesk.brands import FileKind
from hotdesk.models import Device
from hotdesk.web import client_ip, db, http_auth, snapshot
from hotdesk.web import settings as web_settings
from hotdesk.web.device_files import base_context, device_context

bp = Blueprint("provision", __name__, url_prefix="/provision")
log = logging.getLogger("hotdesk.provision")


@bp.route("/", defaults={"filename": ""})
@bp.route("/<path:filename>")
def provisioning_file(filename: str) -> Response:
    session = db()
    settings = web_settings()
    key = current_app.config["SECRET_KEY"]
    global_user = settings["provisioning_username"]
    by_device: Device | None = None  # the device whose own credentials the request carries

    def password_of(username: str) -> str | None:
        nonlocal by_device
        if username == global_user:
            return settings["provisioning_password"]
        by_device = hotdesking.find_device(session, provisioning_username=username)
        return by_device.provisioning_password if by_device else None

    user = http_auth.authenticate(request, password_of, key)
    if user is None:
        if request.authorization is not None:
            log.warning("provisioning auth failed ip=%s file=%r", client_ip(), filename[:200])
        return http_auth.challenge(key, stale=http_auth.nonce_is_stale(request, key))
    if user == global_user:
        by_device = None

    user_agent = request.headers.get("User-Agent", "")
    found = brands.recognise(user_agent, request.headers)
    requested = found[0].requested_file(filename) if found else None
    if found is None or requested is None:
        log.warning("provisioning: no brand serves %r to User-Agent %r (ip=%s)", filename[:200], user_agent[:200], client_ip())
        return _not_found()
    brand, identity = found

    if requested.kind is FileKind.COMMON:
        return _file(brand.render_common(base_context(brand, requested.part)), brand.config_content_type)

    mac = requested.mac
    if identity.mac and identity.mac != mac:
        # A phone asks for another phone's file: refuse rather than serve someone else's line.
        log.warning("provisioning: %s asked for %r (ip=%s)", identity.mac, filename[:200], client_ip())
        return _not_found()
    if by_device is not None and by_device.mac != mac:
        log.warning("provisioning: credentials of another device asked for %r (ip=%s)", filename[:200], client_ip())
        return _not_found()
    device = hotdesking.record_device(
        session, brand=brand.key, mac=mac, model=identity.model, firmware=identity.firmware, ip=client_ip(), known=by_device
    )
    config = hotdesking.device_config(session, device, snapshot())
    context = device_context(brand, device, config, line=config.line, part=requested.part)
    if brand.issues_device_credentials and by_device is None:
        if device.provisioning_username is None and _writes_credentials(brand, config.template.body, context):
            issued = credentials.issue(session, device)
            context = device_context(brand, device, config, line=None, part=requested.part) | {"provisioning": issued}
        elif device.provisioning_username is not None:
            # The global credentials are in every phone: once a device has its own, they get its guest file.
            context = device_context(brand, device, config, line=None, part=requested.part)
    body = brand.render_config(config.template.body, context)
    return _file(body, brand.config_content_type)


def _writes_credentials(brand, body: str, context: dict) -> bool:
    """Does this template hand a phone its credentials? Templates written before the feature do not:
    their phones keep using the global credentials (and a warning says so)."""
    probe = credentials.DeviceCredentials("hdprobe", "probe-4f1c2e9a7b")
    if probe.password.encode() in brand.render_config(body, context | {"line": None, "provisioning": probe, "guest_line": None}):
        return True
    log.warning("template %s/%s does not write device credentials (see docs): %s keeps the global ones", brand.key, context["template"], context["device"]["mac"])
    return False


def _file(body: bytes, content_type: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def _not_found() -> Response:
    return Response("No such provisioning file for this device\n", 404, content_type="text/plain; charset=utf-8")
