"""Who may have a user's SIP secret: the one rule, decided here and nowhere else.

The shared provisioning credentials are in every phone, and a file name or a User-Agent is
whatever the sender writes: none of them proves which device is asking. A user's line (the SIP
secret) goes only to a request that proves it is the device the user logged in on:

- its own provisioning credentials (or its fast path, which stands for them), or
- for a device that cannot hold credentials of its own (Aastra, Cisco enterprise, a template
  without the block): the brand it is pinned to *and* the address its login came from.

Everything else is `Proof.NONE`: the guest file, and a phone-app token that can do nothing
for a device that has credentials of its own.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac

from hotdesk.models import Device


class Proof(enum.Enum):
    """How well a request proves that it comes from the device it names."""

    OWN_CREDENTIALS = "own credentials"  # the device's own provisioning credentials, or its fast path
    LOGIN_ADDRESS = "login address"  # no credentials of its own: its pinned brand, from its login's address
    NONE = "none"  # the shared credentials, a file name, a User-Agent: anyone can have them

    @property
    def may_read_line(self) -> bool:
        return self is not Proof.NONE


# The phone app. Its URLs carry a token (hotdesk.web.links) written into the device's files, so a
# token proves what the request for that file proved: bound to the device's own credentials when
# they opened it, "shared" when anyone holding the shared credentials could have fetched it.


def credentials_binding(key: str, password: str) -> str:
    """What an own-credentials token carries of the credentials it was issued under: a short keyed
    digest of the device's own provisioning password. New credentials (a reset) change it, so every
    token issued before is dead; the token does not show the password."""
    digest = hmac.new(key.encode(), b"hotdesk.app-token\x00" + password.encode(), hashlib.sha256).digest()
    # 48 bits: the token is signed, so this only tells one issue of credentials from the next; and
    # short, for phones whose URL fields hold 256 characters.
    return base64.urlsafe_b64encode(digest[:6]).decode()


def app_token_proof(
    device: Device, binding: str | None, *, key: str, login_address: str | None, ip: str | None
) -> Proof | None:
    """What a phone-app request with this token proves about its device; None: the token is dead.

    `binding`: the credentials binding the token carries (None: a shared token). `login_address`:
    where the device's current login came from (hotdesking.login_address), `ip` the request's source.
    - A token bound to the device's current own credentials: OWN_CREDENTIALS, from anywhere.
    - A device with credentials of its own: any other token (shared, or bound to credentials it no
      longer has) is dead — anyone could have it.
    - A device without: its shared token is all there is. While someone is logged in, from the
      address that login came from (`known_address`) it proves LOGIN_ADDRESS, as provisioning's rule
      does; otherwise NONE.
    """
    own = device.provisioning_password
    if binding is not None:
        current = own is not None and hmac.compare_digest(binding, credentials_binding(key, own))
        return Proof.OWN_CREDENTIALS if current else None
    if own is not None:
        return None
    if device.mapping is not None and ip is not None and ip == known_address(device, login_address):
        return Proof.LOGIN_ADDRESS
    return Proof.NONE


def app_may_act(proof: Proof, *, logged_in: bool) -> bool:
    """May a phone-app request with this proof do anything on its device: see who is logged in, log
    in (replacing them), log out, fetch configuration pages? Whatever touches a logged-in user needs
    a proof; a guest phone carries nobody, so its shared token may log someone in."""
    return proof is not Proof.NONE or not logged_in


def known_address(device: Device, login_address: str | None) -> str | None:
    """The address a device is known at, which a request's source alone cannot move: for a device with
    credentials of its own, where it last fetched (`last_ip`, moved only by requests that prove it);
    for one without, the address its current login came from (`login_address`, None when nobody, or
    an admin, logged it in), else `last_ip`."""
    if device.provisioning_password is None and login_address is not None:
        return login_address
    return device.last_ip


def reload_address(device: Device, login_address: str | None) -> str | None:
    """Where a reload NOTIFY for this device goes: its known address, never whoever asked for the
    reload. `login_address`: where the login current when the reload was decided came from (for a
    logout, the login it ended)."""
    return known_address(device, login_address)
