"""Who may have a user's SIP secret: the one rule, decided here and nowhere else.

The shared provisioning credentials are in every phone, and a file name or a User-Agent is
whatever the sender writes: none of them proves which device is asking. A user's line (the SIP
secret) goes only to a request that proves it is the device the user logged in on:

- its own provisioning credentials (or its fast path, which stands for them), or
- for a device that cannot hold credentials of its own (Aastra, Cisco enterprise, a template
  without the block): the brand it is pinned to *and* the address its login came from.

Everything else is `Proof.NONE`: the guest file, and a phone-app token that can do nothing
for a device that has credentials of its own.

Enforced in one place, hotdesk/web/provision.py, which asks `provisioning_proof` before it puts a
line into any device file; the copies hotdesk/web/published_answers.py answers from were all
rendered for the device's own credentials. The same unproven requests cannot re-describe a known
device (`claimed_otherwise`), and which devices are served and handed credentials at all is
`device_admission` (`Admission`).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hotdesk.models import Device


class Proof(enum.Enum):
    """How well a request proves that it comes from the device it names."""

    OWN_CREDENTIALS = "own credentials"  # the device's own provisioning credentials, or its fast path
    LOGIN_ADDRESS = "login address"  # no credentials of its own: its pinned brand, from its login's address
    NONE = "none"  # the shared credentials, a file name, a User-Agent: anyone can have them

    @property
    def may_read_line(self) -> bool:
        return self is not Proof.NONE


class Admission(enum.StrEnum):
    """The setting `device_admission`: which phones hotdesk serves, and when it trusts a new one."""

    OPEN = "open"  # any new MAC is served, and issued credentials by its first fetch
    APPROVE = "approve"  # a new MAC gets the guest file and waits until an admin admits it
    KNOWN = "known"  # only MACs an admin added (or admitted) are served at all


def provisioning_proof(
    device: Device, *, own_credentials: bool, brand: str, ip: str | None, login_address: str | None
) -> Proof:
    """How a provisioning request for `device`'s own file proves it is that device.

    `own_credentials`: the request carried the device's own credentials, or its fast path.
    `brand`: the brand the request was recognised as. `login_address`: the address the device's
    current login came from; None when nobody is logged in or an admin made the login, which
    proves nothing (an admin's login names no phone address)."""
    if own_credentials:
        return Proof.OWN_CREDENTIALS
    if (
        device.provisioning_username is None
        and device.brand == brand
        and login_address is not None
        and ip is not None
        and ip == login_address
    ):
        return Proof.LOGIN_ADDRESS
    return Proof.NONE


def claimed_otherwise(device: Device, *, brand: str, model: str | None) -> str | None:
    """What an unproven request claims that the device is not ("brand cisco_sip, not yealink"),
    or None when it matches. A device an admin added and no phone has fetched for yet has no
    brand to contradict."""
    if not device.brand:
        return None
    if brand != device.brand:
        return f"brand {brand}, not {device.brand}"
    if model and device.model and model != device.model:
        return f"model {model}, not {device.model}"
    return None


def serves(device: Device | None, admission: Admission) -> bool:
    """Is a request naming this device (None: a MAC hotdesk does not know) answered at all?"""
    if admission is Admission.KNOWN:
        return device is not None and device.admitted
    return True


def may_issue_credentials(device: Device, *, admission: Admission, ip: str | None) -> bool:
    """May a fetch with the shared credentials from `ip` be handed the device's own credentials?

    Whoever is handed them becomes the device for hotdesk: so only an admitted device (or any
    under `open`), and only to the address recorded at admission, when one was."""
    if device.provisioning_username is not None:
        return False
    if admission is not Admission.OPEN and not device.admitted:
        return False
    return device.admitted_address is None or device.admitted_address == ip


def may_log_in(device: Device, admission: Admission) -> bool:
    """Logins on a phone an admin has not admitted are refused (except under `open`)."""
    return admission is Admission.OPEN or device.admitted


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
