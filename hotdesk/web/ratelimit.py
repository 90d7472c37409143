"""Rate limits on the phone-facing routes, keyed on the phone a request names, not its address.

After a power cut an office of hundreds of phones behind one NAT address boots at once; a limit
per address would refuse it — the self-inflicted ban Wazo and FusionPBX users report. So the phone
app (where PINs are typed) is limited per phone (its device token); provisioning requests that name
a phone (MAC in the User-Agent or file name) are not held back, and only requests that name no phone
count against their address.

Counters live in each worker's memory unless HOTDESK_RATELIMIT_STORAGE_URI points at a shared
store (e.g. memcached://host:11211 or redis://host:6379, as Flask-Limiter supports).
"""

from __future__ import annotations

import os

from flask import Flask, g, request
from flask_limiter import Limiter

from hotdesk import brands
from hotdesk.web import client_ip, settings
from hotdesk.web.links import device_from_token, read_device_token


def init_app(app: Flask, *, per_device, per_address) -> None:
    """Limit the `per_device` blueprints per phone, and the `per_address` ones only for requests
    that name no phone (an authenticated phone fetching its files is cheap and is not held back)."""
    limiter = Limiter(
        key_func=_key,
        storage_uri=os.environ.get("HOTDESK_RATELIMIT_STORAGE_URI", "memory://"),
        strategy="moving-window",
        headers_enabled=True,
    )
    for blueprint in per_device:
        limiter.limit(_limit, key_func=_key, exempt_when=_unlimited)(blueprint)
    for blueprint in per_address:
        limiter.limit(_limit, key_func=_key, exempt_when=_unlimited)(blueprint)
    names_phone = {blueprint.name for blueprint in per_address}

    @limiter.request_filter
    def _names_a_phone() -> bool:
        # A request filter runs before the limits are even resolved: a phone's fetch costs nothing here.
        return request.blueprint in names_phone and named_device() is not None

    limiter.init_app(app)


def named_device() -> str | None:
    """The MAC of the phone this request is about, if it names one (worked out once per request)."""
    if "named_device" not in g:
        g.named_device = _named_device()
    return g.named_device


def _named_device() -> str | None:
    args = request.view_args or {}
    if "token" in args:
        return device_from_token(args["token"])
    found = brands.recognise(request.headers.get("User-Agent", ""), request.headers)
    if found is None:
        return None
    brand, identity = found
    if identity.mac:
        return identity.mac
    requested = brand.requested_file(args.get("filename", ""))
    return requested.mac if requested else None


def _key() -> str:
    mac = named_device()
    if not mac:
        return f"address:{client_ip()}"
    args = request.view_args or {}
    token = read_device_token(args["token"]) if "token" in args else None
    if token is not None and token.binding:
        # A phone's own token counts apart: the shared one, which anyone can take from its guest
        # file, cannot use up the phone's own requests.
        return f"device:{mac}:{token.binding}"
    return f"device:{mac}"


def _per_minute() -> int:
    name = "device_requests_per_minute" if named_device() else "anonymous_requests_per_minute"
    return int(settings()[name])


def _limit() -> str:
    return f"{max(_per_minute(), 1)}/minute"


def _unlimited() -> bool:
    return _per_minute() == 0
