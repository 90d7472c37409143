"""Rate limits on the phone-facing routes, keyed on the phone a request names, not its address.

After a power cut an office of hundreds of phones behind one NAT address boots at once; a limit
per address would refuse it — the self-inflicted ban Wazo and FusionPBX users report. So the phone
app (where PINs are typed) is limited per phone (its device token); provisioning requests that name
a phone (MAC in the User-Agent or file name) are not held back, and only requests that name no phone
count against their address.

Failed provisioning authentication is throttled apart from that (`provisioning_auth_failed`):
after FAILURES_PER_ADDRESS failures within FAILURE_WINDOW from one address, or
FAILURES_PER_DEVICE failures from one address for the phone the request names, that address (or
that address for that phone) is answered 429 without its credentials being checked, so guessing
stops there. Only failures count: an office of phones behind one NAT address that boots with the
right credentials never comes near the limit, and stale Digest nonces (a boot after ten minutes)
are not failures. The phone's own key is per address too: an outsider who fails in a phone's name
throttles himself, not the phone (whose own address has not failed). Each failure is logged in a
fixed format for fail2ban (deploy/fail2ban/filter.d/hotdesk.conf).

The softphone apps' sign-in (/app/v1/, hotdesk.web.app_api) is limited per address at the
anonymous rate, each route on its own: the access code's /sign-in/code and /sign-in/resend too. What
a guesser can do with the requests the limit leaves is bounded elsewhere: five wrong codes end a
challenge and lock the account (hotdesk.self_service), and a resend waits 30 seconds, five per
challenge (hotdesk.access_codes).

Counters live in each worker's memory (`SweptMemoryStorage`) unless HOTDESK_RATELIMIT_STORAGE_URI
points at a shared store (e.g. memcached://host:11211 or redis://host:6379, as Flask-Limiter supports).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from limits import RateLimitItem, RateLimitItemPerMinute, storage, strategies
from limits.storage import MemoryStorage

from hotdesk.settings import ANONYMOUS_REQUESTS_PER_MINUTE, DEVICE_REQUESTS_PER_MINUTE
from hotdesk.web import client_ip, settings
from hotdesk.web.links import read_device_token
from hotdesk.web.named_phone import named_phone


class SweptMemoryStorage(MemoryStorage):
    """limits' memory storage, its expired counters swept once a second by one thread of its own.

    MemoryStorage starts a new Timer thread 10 ms after a counted request whenever the last one has
    ended, to sweep what expired: at a paced login storm's rate, a thread for about every phone-app
    request, 0.53 ms of CPU each against 0.006 ms for a count with the timer alive (2026-12-06, 1,000
    phones counted): some 5 % of a login's server CPU, and a thread holding the interpreter lock
    while it walks every counter. A counter is expired where it is read (MemoryStorage.get), so the
    sweep only gives memory back, and once a second gives it back soon enough."""

    STORAGE_SCHEME = ["hotdesk-memory"]  # noqa: RUF012 (as limits declares it: its registry reads it)
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        self._sweeper: threading.Thread | None = None
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    # MemoryStorage calls this (its private `__schedule_expiry`, name-mangled) at every count.
    def _MemoryStorage__schedule_expiry(self) -> None:
        if self._sweeper is None or not self._sweeper.is_alive():  # none yet, or a forked process's
            self._sweeper = threading.Thread(target=self._sweep, name="hotdesk-ratelimit-sweep", daemon=True)
            self._sweeper.start()

    def _sweep(self) -> None:
        while True:
            time.sleep(self.SWEEP_SECONDS)
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


DEFAULT_STORAGE = "hotdesk-memory://"


def init_app(app: Flask, *, per_device, per_address, apps=()) -> None:
    """Limit the `per_device` blueprints per phone, and the `per_address` ones only for requests
    that name no phone (an authenticated phone fetching its files is cheap and is not held back).
    The `apps` blueprints (softphone apps signing in) always per address, at the anonymous rate:
    no phone is ever what they are about, whatever a User-Agent says."""
    limiter = Limiter(
        key_func=_key,
        storage_uri=os.environ.get("HOTDESK_RATELIMIT_STORAGE_URI", DEFAULT_STORAGE),
        # A counter per phone for this minute and the last, the last weighted by how much of it is
        # still in the past 60 s. Not "moving-window": its in-memory storage keeps every request's
        # time and, 10 ms after each counted request, walks every phone's list (in the login storm
        # of bench/, 2.3 ms of CPU per login with 1,000 phones counted, runs of up to 63 ms holding
        # the interpreter lock); this one walks only the counters' expiry times (0.3 ms, at most 1.2).
        strategy="sliding-window-counter",
        headers_enabled=True,
    )
    for blueprint in per_device:
        limiter.limit(_limit, key_func=_key, exempt_when=_unlimited)(blueprint)
    for blueprint in per_address:
        limiter.limit(_limit, key_func=_key, exempt_when=_unlimited)(blueprint)
    for blueprint in apps:
        limiter.limit(_anonymous_limit, key_func=_app_key, exempt_when=_anonymous_unlimited)(blueprint)
    names_phone = {blueprint.name for blueprint in per_address}

    @limiter.request_filter
    def _names_a_phone() -> bool:
        # A request filter runs before the limits are even resolved: a phone's fetch costs nothing here.
        return request.blueprint in names_phone and named_phone().mac is not None

    limiter.init_app(app)
    uri = os.environ.get("HOTDESK_RATELIMIT_STORAGE_URI", DEFAULT_STORAGE)
    app.extensions["provisioning_auth_failures"] = strategies.MovingWindowRateLimiter(storage.storage_from_string(uri))


FAILURE_WINDOW = 10  # minutes
FAILURES_PER_ADDRESS = 100  # 300 phones behind one NAT address fail only if misconfigured
FAILURES_PER_DEVICE = 10  # per address and named phone
_per_address = RateLimitItemPerMinute(FAILURES_PER_ADDRESS, FAILURE_WINDOW)
_per_device = RateLimitItemPerMinute(FAILURES_PER_DEVICE, FAILURE_WINDOW)
auth_log = logging.getLogger("hotdesk.provision.auth")
_NOT_A_FIELD = re.compile(r"[^A-Za-z0-9._@+-]")


def provisioning_auth_throttled() -> bool:
    """Has this address failed provisioning authentication too often (in general, or for the phone
    this request names)? Then its credentials are not even checked."""
    failures = current_app.extensions["provisioning_auth_failures"]
    return not all(failures.test(limit, *key) for limit, key in _failure_keys())


def provisioning_auth_failed(username: str | None) -> None:
    """Count a failed provisioning authentication, and log it in the fail2ban filter's format."""
    failures = current_app.extensions["provisioning_auth_failures"]
    for limit, key in _failure_keys():
        failures.hit(limit, *key)
    # Fixed fields, none with a space (the user name is the client's), the address last.
    user = _NOT_A_FIELD.sub("?", username or "")[:64] or "-"
    auth_log.warning(
        "hotdesk provisioning auth failed: user=%s mac=%s ip=%s", user, named_phone().mac or "-", client_ip()
    )


def too_many_failures() -> Response:
    response = Response(
        "Too many failed authentications from this address. Try again later.\n",
        429,
        content_type="text/plain; charset=utf-8",
    )
    response.headers["Retry-After"] = str(FAILURE_WINDOW * 60)
    return response


def _failure_keys() -> list[tuple[RateLimitItem, tuple[str, ...]]]:
    address = client_ip() or "-"
    keys: list[tuple[RateLimitItem, tuple[str, ...]]] = [(_per_address, ("provisioning-auth", address))]
    mac = named_phone().mac
    if mac:
        keys.append((_per_device, ("provisioning-auth", address, mac)))
    return keys


def _key() -> str:
    mac = named_phone().mac
    if not mac:
        return f"address:{client_ip()}"
    args = request.view_args or {}
    token = read_device_token(args["token"]) if "token" in args else None
    if token is not None and token.binding:
        # A phone's own token counts apart: the shared one, which anyone can take from its guest
        # file, cannot use up the phone's own requests.
        return f"device:{mac}:{token.binding}"
    if token is not None:
        # A shared token (a phone without credentials of its own) is in a file anyone with the shared
        # credentials can fetch: counted per address too, so a neighbour spends only his own budget.
        # An office behind one NAT address is unaffected: each phone has its own MAC.
        return f"device:{mac}:{client_ip()}"
    return f"device:{mac}"


def _app_key() -> str:
    return f"app:{client_ip()}"


def _anonymous_limit() -> str:
    return f"{max(settings()[ANONYMOUS_REQUESTS_PER_MINUTE], 1)}/minute"


def _anonymous_unlimited() -> bool:
    return settings()[ANONYMOUS_REQUESTS_PER_MINUTE] == 0


def _per_minute() -> int:
    return settings()[DEVICE_REQUESTS_PER_MINUTE if named_phone().mac else ANONYMOUS_REQUESTS_PER_MINUTE]


def _limit() -> str:
    return f"{max(_per_minute(), 1)}/minute"


def _unlimited() -> bool:
    return _per_minute() == 0
