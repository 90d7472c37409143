"""Absolute, device-bound URLs of the phone app, as written into configs and screens.

A phone's XML browser does not reliably send HTTP credentials, so each URL carries a token
signed with the app's key and bound to the device's MAC: one phone cannot act for another.
A token written into a file that the device's own credentials opened is also bound to those
credentials (an "own" token); one written into a file anyone with the shared credentials could
fetch is a "shared" token. What each may do is hotdesk.trust's rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from hotdesk.models import Address
from hotdesk.trust import credentials_binding
from hotdesk.web import phone_base_url

_SALT = "hotdesk.device-token"
_STATE_SALT = "hotdesk.screen-state"
STATE_MAX_AGE = 300  # seconds a screen may wait for its answer


@lru_cache(maxsize=8)
def _serializer(key: str, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(key, salt=salt)


@lru_cache(maxsize=8)
def _timed_serializer(key: str, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=salt)


@dataclass(frozen=True)
class DeviceToken:
    mac: str
    binding: str | None  # own token: trust.credentials_binding of the credentials it was issued under; None: shared


def device_token(mac: str, own_password: str | None = None) -> str:
    """The token of a device's app URLs. `own_password`: the device's own provisioning password, when
    the file this token goes into answers a request those credentials made (an own token); None: a
    shared token. A shared token is the bare MAC, as every token was before own tokens existed."""
    key = current_app.config["SECRET_KEY"]
    payload = mac if own_password is None else f"{mac}.{credentials_binding(key, own_password)}"
    return _serializer(key, _SALT).dumps(payload)


def read_device_token(token: str) -> DeviceToken | None:
    """What a token was issued for, or None for a forged or damaged token."""
    try:
        payload = _serializer(current_app.config["SECRET_KEY"], _SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(payload, str):
        return None
    mac, _, binding = payload.partition(".")
    return DeviceToken(mac, binding or None)


def device_from_token(token: str) -> str | None:
    """The MAC a token was issued to, or None for a forged or damaged token."""
    read = read_device_token(token)
    return read.mac if read else None


def screen_state(mac: str, step: str, marker: str) -> str:
    """A short-lived token tying a screen's answer to the phone, the step, and the phone's login state.

    `marker` changes whenever the phone's login changes, so a captured answer URL cannot be
    replayed after the login it belonged to has happened or ended.
    """
    return _timed_serializer(current_app.config["SECRET_KEY"], _STATE_SALT).dumps([mac, step, marker])


def screen_state_ok(state: str, mac: str, step: str, marker: str) -> bool:
    try:
        value = _timed_serializer(current_app.config["SECRET_KEY"], _STATE_SALT).loads(state, max_age=STATE_MAX_AGE)
    except BadSignature:  # also SignatureExpired
        return False
    return value == [mac, step, marker]


@dataclass(frozen=True)
class Key:
    """A programmable key in a provisioning file: its label and the XML-app URL it opens."""

    label: str
    url: str


def app_url(endpoint: str, token: str, **values: str | int) -> str:
    # The route's own values only, never url_for's options (_external and the like).
    route_values: dict[str, Any] = {"token": token, **values}
    return phone_base_url() + url_for(endpoint, **route_values)


def login_url(token: str, address: Address) -> str:
    return app_url("phoneapp.login_form", token, address=address.value)


def guest_keys(token: str) -> list[Key]:
    return [Key("External", login_url(token, Address.EXTERNAL)), Key("Internal", login_url(token, Address.INTERNAL))]


def user_keys(token: str) -> list[Key]:
    return [Key("Logout", app_url("phoneapp.menu", token))]
