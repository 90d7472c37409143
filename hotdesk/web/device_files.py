"""The rendering context of a device's own provisioning file, shared by /provision/ and the
phone app (which pushes the same settings to phones that reload by their answer)."""

from __future__ import annotations

from hotdesk import hotdesking
from hotdesk.brands import Brand
from hotdesk.hotdesking import DeviceConfig, Line
from hotdesk.models import Device
from hotdesk.trust import Proof
from hotdesk.web import hotdesk, phone_base_url, settings
from hotdesk.web.links import device_token, guest_keys, user_keys


def base_context(brand: Brand, part: str | None = None) -> dict:
    return {
        "server": _server(),
        "brand": brand.key,
        "part": part,
        "provisioning": None,
        "guest_line": None,
        "fast_path": None,
    }


def device_context(
    brand: Brand, device: Device, config: DeviceConfig, *, line: Line | None, proof: Proof, part: str | None = None
) -> dict:
    """`line` is the line to write (None: the guest file, with the guest line if one is set up).
    `proof`: how the request this file answers proved the device (hotdesk.trust); it decides what
    the phone-app keys written into the file may do: bound to the device's own credentials when the
    request proved them, else a shared token (which can do nothing for a device that has its own)."""
    token = device_token(device.mac, device.provisioning_password if proof is Proof.OWN_CREDENTIALS else None)
    return base_context(brand, part) | {
        "device": {
            "mac": device.mac,
            "mac_upper": device.mac.upper(),
            "model": device.model,
            "firmware": device.firmware,
        },
        "template": config.template.name,
        "line": line,
        "keys": user_keys(token) if line else guest_keys(token),
        "guest_line": None if line else hotdesking.guest_line(settings()),
    }


def fast_path(device: Device) -> str | None:
    """The URL of the device's published files (hotdesk.published) when publishing is on and the
    device has its own credentials. Only for a file those credentials (or that URL) opened."""
    files = hotdesk().published
    if files is None or device.provisioning_password is None:
        return None
    return f"{_server()}/fast/{files.path(device.mac, device.provisioning_password)}"


def _server() -> str:
    return phone_base_url()
