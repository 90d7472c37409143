"""/provision/<file>: authenticate, recognise the phone, choose its template, render its file.
/provision/t/<provisioning_path>/<file>: the same for phones that send no HTTP credentials (Cisco
enterprise): the tenant's secret path stands for its provisioning credentials, and means exactly
what they mean (the tenant, never a device).
/provision/fast/<mac>/<sig>/<file>: the same, for nginx's fast path (hotdesk.published)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from functools import partial

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.exc import IntegrityError

from hotdesk import credentials, hotdesking, published, trust
from hotdesk.brands import FileKind, normalize_mac
from hotdesk.db import commit_if_written
from hotdesk.models import Device, utcnow
from hotdesk.settings import DEVICE_ADMISSION, NEW_DEVICES_PER_MINUTE
from hotdesk.snapshot import SharedCredentials
from hotdesk.trust import Proof
from hotdesk.web import act_for_tenant, client_ip, db, hotdesk, http_auth, ratelimit, snapshot, tenant_id
from hotdesk.web import settings as web_settings
from hotdesk.web.device_files import base_context, device_context, fast_path
from hotdesk.web.named_phone import named_phone
from hotdesk.web.operations import FILE_KIND

bp = Blueprint("provision", __name__, url_prefix="/provision")
log = logging.getLogger("hotdesk.provision")


@bp.route("/", defaults={"filename": ""})
@bp.route("/<path:filename>")
def provisioning_file(filename: str) -> Response:
    session = db()
    nonces = current_app.extensions["hotdesk.digest_nonces"]
    shared_credentials = snapshot().shared_credentials  # each tenant's pair, from the cache: no query
    shared: SharedCredentials | None = None
    by_device: Device | None = None  # the device whose own credentials the request carries

    def password_of(username: str) -> str | None:
        nonlocal by_device, shared
        shared = shared_credentials.get(username)
        if shared is not None:
            return shared.password
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
    if shared is not None:
        act_for_tenant(shared.tenant_id)
        return _answer(filename, None)
    assert by_device is not None  # authenticated, by a device's own credentials
    act_for_tenant(by_device.tenant_id)
    return _answer(filename, by_device)


@bp.route("/t/<secret>/", defaults={"filename": ""})
@bp.route("/t/<secret>/<path:filename>")
def tenant_path_file(secret: str, filename: str) -> Response:
    """A file asked for under a tenant's provisioning path: as if with its provisioning credentials.
    A wrong path is an unknown file, and counts as a failed authentication."""
    if ratelimit.provisioning_auth_throttled():
        return ratelimit.too_many_failures()
    tenant = snapshot().provisioning_paths.get(secret)
    if tenant is None:
        ratelimit.provisioning_auth_failed(None)
        log.warning("provisioning: unknown provisioning path (ip=%s)", client_ip())  # the path itself stays out
        return _not_found()
    act_for_tenant(tenant)
    return _answer(filename, None)


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
    act_for_tenant(device.tenant_id)
    return _answer(filename, device)


def _answer(filename: str, by_device: Device | None) -> Response:
    """The file for the phone this request comes from. `by_device`: the device whose own
    credentials (or fast path) the request carries; None for the shared credentials."""
    session = db()
    user_agent = request.headers.get("User-Agent", "")
    phone = named_phone()
    brand, identity, requested = phone.brand, phone.identity, phone.requested
    if brand is None or identity is None or requested is None:
        log.warning(
            "provisioning: no brand serves %r to User-Agent %r (ip=%s)", filename[:200], user_agent[:200], client_ip()
        )
        return _not_found()

    if requested.kind is FileKind.COMMON:
        request.environ[FILE_KIND] = "common"
        render = partial(_common_file, brand, requested.part)
    else:
        mac = phone.mac
        if phone.names_two:
            # A phone asks for another phone's file: refuse rather than serve someone else's line.
            log.warning("provisioning: %s asked for %r (ip=%s)", identity.mac, filename[:200], client_ip())
            return _not_found()
        if mac is None:  # a device file's name that holds no valid MAC
            return _not_found()
        if by_device is None:
            return _for_shared_credentials(brand, identity, mac, requested.part)
        if by_device.mac != mac:
            log.warning("provisioning: credentials of another device asked for %r (ip=%s)", filename[:200], client_ip())
            return _not_found()
        hotdesking.record_device(
            session,
            brand=brand.key,
            mac=mac,
            model=identity.model,
            firmware=identity.firmware,
            ip=client_ip(),
            known=by_device,
            sightings=hotdesk().sightings,
            proven=True,
        )
        commit_if_written(session)  # before rendering (hotdesk.published reads again in a fresh transaction)
        render = partial(_own_file, brand, requested.part)
    body = _published(by_device, filename, render, user_agent) if by_device is not None else render(None)
    return _file(body, brand.config_content_type) if body is not None else _not_found()


def _common_file(brand, part: str | None, _device: Device | None) -> bytes:
    return brand.render_common(base_context(brand, part))


def _own_file(brand, part: str | None, device: Device) -> bytes:
    """The device's file as its own credentials open it: its user's line, if someone is logged in."""
    config = hotdesking.device_config(db(), device, snapshot())
    proof = trust.provisioning_proof(device, own_credentials=True, brand=brand.key, ip=client_ip(), login_address=None)
    context = device_context(brand, device, config, line=_line(device, config, proof), proof=proof, part=part) | {
        "fast_path": fast_path(device)
    }
    return brand.render_config(config.template.body, context)


def _line(device: Device, config: hotdesking.DeviceConfig, proof: Proof) -> hotdesking.Line | None:
    """The one place a device file is given its user's line (the SIP secret): when the request
    proves it is the device (hotdesk.trust)."""
    request.environ[FILE_KIND] = "user" if proof.may_read_line and config.line is not None else "guest"
    if proof.may_read_line:
        return config.line
    if config.line is not None:
        log.warning(
            "provisioning: %s's line withheld from %s, which does not prove the device", device.mac, client_ip()
        )
    return None


def _for_shared_credentials(brand, identity, mac: str, part: str | None) -> Response:
    """A device's file asked for with the shared credentials, which every phone holds: they name a
    device, they do not prove it (hotdesk.trust). Who is served at all (device_admission), and
    nothing such a request claims re-describes a device hotdesk knows."""
    session, settings, ip, tenant = db(), web_settings(), client_ip(), tenant_id()
    admission = settings[DEVICE_ADMISSION]
    device = hotdesking.find_device(session, mac=mac)
    if device is not None and device.tenant_id != tenant:
        # Another tenant's credentials name this phone: they prove that tenant, not the phone. An
        # admin who moves a phone deletes it from its tenant; its next fetch makes it the new one's.
        hotdesking.record_mismatch(
            session,
            device,
            claim="fetched with another tenant's provisioning credentials",
            brand=brand.key,
            model=identity.model,
            ip=ip,
        )
        session.commit()  # kept although the answer is a refusal
        _refused("tenant", mac, brand.key, ip)
        return _not_found()
    if not trust.serves(device, admission):
        _refused("unknown_device" if device is None else "not_admitted", mac, brand.key, ip)
        return _not_found()
    if device is None:
        limit = settings[NEW_DEVICES_PER_MINUTE]
        if limit and hotdesking.devices_made_known_from(session, ip, utcnow() - timedelta(minutes=1)) >= limit:
            _refused("too_many_new_devices", mac, brand.key, ip)
            return Response(
                "Too many new phones from this address: try again in a minute\n",
                429,
                {"Retry-After": "60", "Cache-Control": "no-store"},
                content_type="text/plain; charset=utf-8",
            )
        try:
            device = hotdesking.new_device(
                session,
                brand=brand.key,
                mac=mac,
                model=identity.model,
                firmware=identity.firmware,
                ip=ip,
                admitted=admission is trust.Admission.OPEN,
                tenant_id=tenant,
            )
            session.commit()
        except IntegrityError:  # another request made its row meanwhile: answer as for a device hotdesk knows
            session.rollback()
            return _for_shared_credentials(brand, identity, mac, part)
        if not device.admitted:
            log.warning("provisioning: new device waits for admission mac=%s brand=%s ip=%s", mac, brand.key, ip)
    elif not device.brand and device.admitted_address not in (None, ip):
        # Added by an admin for the phone at that address: another one's first fetch must not say what it is.
        _refused("other_address", mac, brand.key, ip)
        return _not_found()
    else:
        claim = trust.claimed_otherwise(device, brand=brand.key, model=hotdesking.bounded(identity.model))
        if claim is not None:
            hotdesking.record_mismatch(session, device, claim=claim, brand=brand.key, model=identity.model, ip=ip)
            session.commit()  # kept although the answer is a refusal
            _refused("mismatch", mac, brand.key, ip)
            return _not_found()
        hotdesking.record_device(
            session,
            brand=brand.key,
            mac=mac,
            model=identity.model,
            firmware=identity.firmware,
            ip=ip,
            known=device,
            sightings=hotdesk().sightings,
        )
        hotdesking.note_waiting_address(session, device, ip)
        if device.provisioning_username is not None and hotdesking.record_shared_fetch(session, device, ip):
            log.warning(
                "provisioning: device with its own credentials fetched with the shared ones mac=%s ip=%s", mac, ip
            )
        commit_if_written(session)  # before rendering (hotdesk.published reads again in a fresh transaction)
    return _file(_unproven_file(brand, device, part, admission, ip), brand.config_content_type)


def _refused(reason: str, mac: str, brand: str, ip: str | None) -> None:
    # One fixed format, values without spaces, the address last (as for failed logins).
    log.warning("hotdesk provisioning refused: reason=%s mac=%s brand=%s ip=%s", reason, mac, brand, ip or "-")


def _unproven_file(brand, device: Device, part: str | None, admission: trust.Admission, ip: str | None) -> bytes:
    """The device's file for a request that did not bring its own credentials: the user's line only
    to the proof hotdesk.trust asks for; the device's own credentials if it may be issued them."""
    session = db()
    config = hotdesking.device_config(session, device, snapshot())
    proof = trust.provisioning_proof(
        device,
        own_credentials=False,
        brand=brand.key,
        ip=ip,
        login_address=hotdesking.login_address(session, device) if device.provisioning_username is None else None,
    )
    context = device_context(brand, device, config, line=_line(device, config, proof), proof=proof, part=part)
    if (
        brand.issues_device_credentials
        and trust.may_issue_credentials(device, admission=admission, ip=ip)
        and brand.renders_template(part)
        and _writes_credentials(brand, config.template.body, context)
    ):
        issued = credentials.issue(session, device)
        session.commit()  # the credentials are the device's before this answer hands them out
        if issued is not None:
            # This very answer hands the device its own credentials: it is written for them, but
            # carries no line (the request proved nothing before it was answered).
            context = device_context(brand, device, config, line=None, proof=Proof.OWN_CREDENTIALS, part=part) | {
                "provisioning": issued,
                "fast_path": fast_path(device),
            }
        else:  # another request was issued them a moment ago
            context = device_context(brand, device, config, line=None, proof=Proof.NONE, part=part)
    return brand.render_config(config.template.body, context)


def _published(device: Device, filename: str, render, user_agent: str) -> bytes | None:
    """`render(device)`, published under the device's fast path when publishing is on (and so
    answered from there to its next fetch with the same User-Agent). None: the device's
    credentials changed since the request was authenticated."""
    files = hotdesk().published
    mac, username, password = device.mac, device.provisioning_username, device.provisioning_password
    credentials = (username, password)
    if files is None or username is None or password is None:  # copies are for a device's own credentials
        return render(device)
    try:
        with files.publishing(mac):
            if files.generation() != g.get("published_generation"):
                # Something was withdrawn since this request began reading: read again, in a fresh
                # transaction begun while holding the lock (hotdesk.published says why), and nothing
                # from before it (rollback() expires nothing when record_device just committed).
                db().rollback()
                db().expire_all()
                g.pop("snapshot", None)
                current = hotdesking.find_device(db(), mac=mac)
                if current is None or (current.provisioning_username, current.provisioning_password) != credentials:
                    return None
                device = current
            body = render(device)
            files.write(mac, password, filename, body)
            files.admit(
                mac,
                published.Reader(
                    device_id=device.id,
                    brand=device.brand,
                    username=username,
                    ha1=http_auth.ha1(username, password),
                    sig=published.signature(files.secret_key, mac, password),
                    user_agent=user_agent,
                    user=device.mapping is not None,
                ),
            )
            return body
    except OSError as error:
        # A full or unwritable directory costs the copy, never the phone its file.
        _warn_unpublished(files, error)
        return render(device)


_last_warning = 0.0


def _warn_unpublished(files, error: OSError) -> None:
    global _last_warning  # noqa: PLW0603 -- one throttle for the process is the point
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
