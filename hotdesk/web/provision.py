"""/provision/<file>: authenticate, recognise the phone, choose its template, render its file.
/provision/fast/<mac>/<sig>/<file>: the same, for nginx's fast path (hotdesk.published)."""

from __future__ import annotations

import logging
import time
from functools import partial

from flask import Blueprint, Response, current_app, g, request

from hotdesk import brands, credentials, hotdesking, published
from hotdesk.brands import FileKind, normalize_mac
from hotdesk.models import Device
from hotdesk.web import client_ip, db, hotdesk, http_auth, ratelimit, snapshot
from hotdesk.web import settings as web_settings
from hotdesk.trust import Proof
from hotdesk.web.device_files import base_context, device_context, fast_path

bp = Blueprint("provision", __name__, url_prefix="/provision")
log = logging.getLogger("hotdesk.provision")


@bp.route("/", defaults={"filename": ""})
@bp.route("/<path:filename>")
def provisioning_file(filename: str) -> Response:
    session = db()
    settings = web_settings()
    nonces = hotdesk().digest_nonces
    global_user = settings["provisioning_username"]
    by_device: Device | None = None  # the device whose own credentials the request carries

    def password_of(username: str) -> str | None:
        nonlocal by_device
        if username == global_user:
            return settings["provisioning_password"]
        by_device = hotdesking.find_device(session, provisioning_username=username)
        return by_device.provisioning_password if by_device else None

    if request.authorization is not None and ratelimit.provisioning_auth_throttled():
        return ratelimit.too_many_failures()
    user = http_auth.authenticate(request, password_of, nonces)
    if user is None:
        stale = http_auth.nonce_is_stale(request, nonces)
        if request.authorization is not None and not stale:
            ratelimit.provisioning_auth_failed(request.authorization.username)
        return http_auth.challenge(nonces, client_ip(), stale=stale)
    if user == global_user:
        by_device = None
    return _answer(filename, by_device)


@bp.route("/fast/<mac>/<sig>/<path:filename>")
def fast_file(mac: str, sig: str, filename: str) -> Response:
    """What nginx asks for when a file under /fast/ is not published (yet): the secret path
    stands for the device's own credentials (hotdesk.published)."""
    device = hotdesking.find_device(db(), mac=mac) if normalize_mac(mac) == mac else None
    if device is None or not published.signed(
        current_app.config["SECRET_KEY"], device.mac, device.provisioning_password, sig
    ):
        # A path that is not (or no longer) the device's — after a new secret key, say. The phone's
        # own credentials, which it sends with every fetch, still open its file, and that file names
        # its new path; without them this is a refusal like any other.
        log.warning("provisioning: wrong fast path for %r (ip=%s): only credentials open it", mac[:20], client_ip())
        return provisioning_file(filename)
    return _answer(filename, device)


def _answer(filename: str, by_device: Device | None) -> Response:
    """The file for the phone this request comes from. `by_device`: the device whose own
    credentials (or fast path) the request carries; None for the global credentials."""
    session = db()
    user_agent = request.headers.get("User-Agent", "")
    found = brands.recognise(user_agent, request.headers)
    requested = found[0].requested_file(filename) if found else None
    if found is None or requested is None:
        log.warning(
            "provisioning: no brand serves %r to User-Agent %r (ip=%s)", filename[:200], user_agent[:200], client_ip()
        )
        return _not_found()
    brand, identity = found

    if requested.kind is FileKind.COMMON:
        render = partial(_common_file, brand, requested.part)
    else:
        mac = requested.mac
        if identity.mac and identity.mac != mac:
            # A phone asks for another phone's file: refuse rather than serve someone else's line.
            log.warning("provisioning: %s asked for %r (ip=%s)", identity.mac, filename[:200], client_ip())
            return _not_found()
        if by_device is not None and by_device.mac != mac:
            log.warning("provisioning: credentials of another device asked for %r (ip=%s)", filename[:200], client_ip())
            return _not_found()
        device = hotdesking.record_device(
            session,
            brand=brand.key,
            mac=mac,
            model=identity.model,
            firmware=identity.firmware,
            ip=client_ip(),
            known=by_device,
            sightings=hotdesk().sightings,
        )
        if by_device is None:
            return _file(_for_global_credentials(brand, device, requested.part), brand.config_content_type)
        render = partial(_own_file, brand, requested.part)
    body = _published(by_device, filename, render, user_agent) if by_device is not None else render(None)
    return _file(body, brand.config_content_type) if body is not None else _not_found()


def _common_file(brand, part: str | None, _device: Device | None) -> bytes:
    return brand.render_common(base_context(brand, part))


def _own_file(brand, part: str | None, device: Device) -> bytes:
    """The device's file as its own credentials open it: its user's line, if someone is logged in."""
    config = hotdesking.device_config(db(), device, snapshot())
    context = device_context(brand, device, config, line=config.line, proof=Proof.OWN_CREDENTIALS, part=part) | {
        "fast_path": fast_path(device)
    }
    return brand.render_config(config.template.body, context)


def _for_global_credentials(brand, device: Device, part: str | None) -> bytes:
    session = db()
    config = hotdesking.device_config(session, device, snapshot())
    line = config.line
    if line is not None and device.provisioning_username is None and not _from_login_address(session, device):
        line = None
    context = device_context(brand, device, config, line=line, proof=Proof.NONE, part=part)
    if brand.issues_device_credentials:
        if (
            device.provisioning_username is None
            and brand.renders_template(part)
            and _writes_credentials(brand, config.template.body, context)
        ):
            issued = credentials.issue(session, device)
            context = device_context(brand, device, config, line=None, proof=Proof.OWN_CREDENTIALS, part=part) | {
                "provisioning": issued,
                "fast_path": fast_path(device) if issued else None,
            }
        elif device.provisioning_username is not None:
            # The global credentials are in every phone: once a device has its own, they get its guest file.
            context = device_context(brand, device, config, line=None, proof=Proof.NONE, part=part)
    return brand.render_config(config.template.body, context)


def _from_login_address(session, device: Device) -> bool:
    """Global credentials and a User-Agent can be had by anyone; for a phone without credentials of
    its own (Aastra, Cisco enterprise, templates without the block), a user's line goes only to the
    address that phone logged in from: the phone app is bound to the phone by its token."""
    address = hotdesking.login_address(session, device)
    if address is None or address == client_ip():
        return True
    log.warning("provisioning: %s's line withheld from %s, not the address it logged in from", device.mac, client_ip())
    return False


def _published(device: Device, filename: str, render, user_agent: str) -> bytes | None:
    """`render(device)`, published under the device's fast path when publishing is on (and so
    answered from there to its next fetch with the same User-Agent). None: the device's
    credentials changed since the request was authenticated."""
    files = hotdesk().published
    if files is None:
        return render(device)
    mac, password = device.mac, device.provisioning_password
    try:
        with files.publishing(mac):
            if files.generation() != g.get("published_generation"):
                # Something was withdrawn since this request began reading: read again, in a fresh
                # transaction begun while holding the lock (hotdesk.published says why), and nothing
                # from before it (rollback() expires nothing when record_device just committed).
                db().rollback()
                db().expire_all()
                g.pop("snapshot", None)
                device = hotdesking.find_device(db(), mac=mac)
                if device is None or device.provisioning_password != password:
                    return None
            body = render(device)
            files.write(mac, password, filename, body)
            username = device.provisioning_username
            files.admit(
                mac,
                published.Reader(
                    device_id=device.id,
                    brand=device.brand,
                    username=username,
                    ha1=http_auth.ha1(username, password),
                    sig=published.signature(files.secret_key, mac, password),
                    user_agent=user_agent,
                ),
            )
            return body
    except OSError as error:
        # A full or unwritable directory costs the copy, never the phone its file.
        _warn_unpublished(files, error)
        return render(device)


_last_warning = 0.0


def _warn_unpublished(files, error: OSError) -> None:
    global _last_warning
    if time.monotonic() - _last_warning > 60:  # once a minute, not once a fetch
        _last_warning = time.monotonic()
        log.warning("provisioning files are answered but not published: %s (in %s)", error, files.directory)


def _writes_credentials(brand, body: str, context: dict) -> bool:
    """Does this template hand a phone its credentials? Templates written before the feature do not:
    their phones keep using the global credentials (and a warning says so)."""
    probe = credentials.DeviceCredentials("hdprobe", "probe-4f1c2e9a7b")
    if probe.password.encode() in brand.render_config(
        body, context | {"line": None, "provisioning": probe, "guest_line": None}
    ):
        return True
    log.warning(
        "template %s/%s does not write device credentials (see docs): %s keeps the global ones",
        brand.key,
        context["template"],
        context["device"]["mac"],
    )
    return False


def _file(body: bytes, content_type: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def _not_found() -> Response:
    return Response("No such provisioning file for this device\n", 404, content_type="text/plain; charset=utf-8")
