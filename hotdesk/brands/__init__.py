"""The brand registry: the one place that lists the brands hotdesk speaks."""

from __future__ import annotations

from hotdesk.brands.aastra import Aastra
from hotdesk.brands.base import Brand, FileKind, Headers, Identity, RequestedFile, normalize_mac
from hotdesk.brands.cisco_sip import CiscoSip
from hotdesk.brands.cisco_spa import CiscoSpa
from hotdesk.brands.digium import Digium
from hotdesk.brands.fanvil import Fanvil
from hotdesk.brands.grandstream import Grandstream
from hotdesk.brands.polycom import Polycom
from hotdesk.brands.snom import Snom
from hotdesk.brands.yealink import Yealink

BRANDS: dict[str, Brand] = {
    brand.key: brand
    for brand in (Yealink(), CiscoSpa(), CiscoSip(), Aastra(), Polycom(), Grandstream(), Digium(), Snom(), Fanvil())
}

__all__ = ["BRANDS", "Brand", "FileKind", "Headers", "Identity", "RequestedFile", "normalize_mac", "recognise"]


def recognise(user_agent: str, headers: Headers) -> tuple[Brand, Identity] | None:
    """The brand and identity a request's User-Agent (and headers) declare, or None."""
    for brand in BRANDS.values():
        identity = brand.identify(user_agent, headers)
        if identity is not None:
            return brand, identity
    return None


def setting_specs():
    return [spec for brand in BRANDS.values() for spec in brand.settings]
