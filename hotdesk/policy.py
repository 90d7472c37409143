"""The secret and PIN policy (seed 003): which SIP secrets and PINs a person may type, and the one
generator of secrets that meet it.

Pure rules over the settings' values: what a person types (console, API, `extensions add`) is
refused when it breaks them (hotdesk.directory.check_typed); what arrives in bulk from an existing
PBX (CSV import) is accepted and reported (`extensions weak-secrets`, `extensions weak-pins`).
"""

from __future__ import annotations

import re
import secrets
import string
from itertools import pairwise

from hotdesk.settings import PinLength

SPECIALS = "!%*_-"
_CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, SPECIALS)
_ALLOWED = re.compile(r"[A-Za-z0-9!%*_-]*")
SHORTEST_SECRET = 8
GENERATED_LENGTH = 16  # 16 of 67 characters: about 97 bits


def secret_problems(secret: str) -> list[str]:
    """Every rule of the strong policy the secret breaks, in the seed's order; [] if it meets them all."""
    problems = []
    if len(secret) < SHORTEST_SECRET:
        problems.append(f"at least {SHORTEST_SECRET} characters")
    for needed, name in zip(_CLASSES, ("an upper-case letter", "a lower-case letter", "a digit"), strict=False):
        if not any(ch in needed for ch in secret):
            problems.append(name)
    if not any(ch in SPECIALS for ch in secret):
        problems.append(f"one of {' '.join(SPECIALS)}")
    if not _ALLOWED.fullmatch(secret):
        problems.append(f"only letters a-z A-Z, digits and {' '.join(SPECIALS)}")
    return problems


def generate_secret(length: int = GENERATED_LENGTH) -> str:
    """A random secret that meets the strong policy: one character of each class, the rest from all."""
    chosen = [secrets.choice(kind) for kind in _CLASSES]
    everything = "".join(_CLASSES)
    chosen += [secrets.choice(everything) for _ in range(length - len(chosen))]
    secrets.SystemRandom().shuffle(chosen)
    return "".join(chosen)


def pin_length_problem(pin: str, lengths: PinLength) -> str | None:
    """Why a PIN's length is outside the policy (`pin_length`), or None."""
    if lengths.shortest == lengths.longest and len(pin) != lengths.shortest:
        return f"not {lengths.shortest} digits"
    if len(pin) < lengths.shortest:
        return f"shorter than {lengths.shortest} digits"
    if len(pin) > lengths.longest:
        return f"longer than {lengths.longest} digits"
    return None


_KEYPAD_LINES = {"2580", "0852", "1470", "0741", "3690", "0963", "1590", "9510", "3570", "0753", "1236", "3214"}


def weak_pin(pin: str, number: str, lengths: PinLength) -> str | None:
    """Why a voicemail PIN breaks the policy or is trivial to guess (repeats, sequences, the
    extension), or None."""
    if not pin.isdigit():
        return "not digits only"
    outside = pin_length_problem(pin, lengths)
    if outside is not None:
        return outside
    if len(set(pin)) == 1:
        return "one digit repeated"
    if pin in number or number.endswith(pin) or pin == number[::-1]:
        return "the extension number"
    steps = {(int(b) - int(a)) % 10 for a, b in pairwise(pin)}
    if steps in ({1}, {9}):
        return "a sequence"
    if len(pin) % 2 == 0 and pin == pin[:2] * (len(pin) // 2):
        return "a repeated pair"
    if pin in _KEYPAD_LINES:
        return "a straight line on the keypad"
    return None
