"""MAC addresses as hotdesk stores them: twelve lower-case hex digits. Pure: brands and core both use it."""

from __future__ import annotations

import re

_MAC = re.compile(r"[0-9a-f]{12}")


def normalize_mac(text: str | None) -> str | None:
    """'00:15:65:AA:BB:CC', '00-15-65-aa-bb-cc', '001565aabbcc' -> '001565aabbcc'; anything else -> None."""
    if not text:
        return None
    mac = re.sub(r"[:\-.]", "", text).lower()
    return mac if _MAC.fullmatch(mac) else None
