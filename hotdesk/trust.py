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

import enum


class Proof(enum.Enum):
    """How well a request proves that it comes from the device it names."""

    OWN_CREDENTIALS = "own credentials"  # the device's own provisioning credentials, or its fast path
    LOGIN_ADDRESS = "login address"  # no credentials of its own: its pinned brand, from its login's address
    NONE = "none"  # the shared credentials, a file name, a User-Agent: anyone can have them

    @property
    def may_read_line(self) -> bool:
        return self is not Proof.NONE
