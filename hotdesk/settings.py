"""Runtime settings: the names an admin may set, their checks, defaults and types.

Pure (no database, no brand): brands declare their own settings with these specs. The registry that
stores values in the database is hotdesk.setting_store. A setting is stored and shown as text (the
console, the API and `settings get` show it as it is stored); code reads it typed, parsed once when
the values are read (`SettingValues`, one per snapshot): `values[LOCKOUT_ATTEMPTS]` is an int,
`values[MULTIPLE_LOGIN]` a `MultipleLogin`.
"""

from __future__ import annotations

import enum
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any, Generic, NamedTuple, TypeVar, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

T = TypeVar("T")
log = logging.getLogger("hotdesk.settings")


class SettingError(ValueError):
    """A setting name or value an admin should be told about in one line."""


@dataclass(frozen=True)
class SettingSpec(Generic[T]):
    name: str
    help: str
    default: Callable[[], str] = lambda: ""
    check: Callable[[str], str] = lambda value: value  # returns the normalised value or raises SettingError
    secret: bool = False  # never shown in lists; `settings get` still prints it to the admin who asks
    parse: Callable[[str], T] = field(kw_only=True)  # a checked value to its type


class Admission(enum.StrEnum):
    """The setting `device_admission`: which phones hotdesk serves, and when it trusts a new one."""

    OPEN = "open"  # any new MAC is served, and issued credentials by its first fetch
    APPROVE = "approve"  # a new MAC gets the guest file and waits until an admin admits it
    KNOWN = "known"  # only MACs an admin added (or admitted) are served at all


class MultipleLogin(enum.StrEnum):
    """The setting `multiple_login`: an extension logging in on a second phone."""

    AUTO_LOGOUT = "auto_logout"  # the first phone is logged out
    DENY = "deny"
    ALLOW = "allow"


class SecretPolicy(enum.StrEnum):
    """The setting `secret_policy`: which SIP secrets a person may type (hotdesk.policy)."""

    STRONG = "strong"  # seed 003's rules: refused unless it meets every one
    ANY = "any"  # any secret the SIP account takes


class DirectorySource(enum.StrEnum):
    """The setting `directory_source`: who owns the voicemail PINs (hotdesk.pbx)."""

    HOTDESK = "hotdesk"  # hotdesk's database (CSV import, console, API, CLI, portal)
    ASTERISK = "asterisk"  # voicemail.conf under asterisk_config_dir, read live


class NotifyVia(enum.StrEnum):
    """The setting `notify_via`: who sends a phone its reload NOTIFY."""

    UDP = "udp"  # hotdesk, straight to the phone
    AMI = "ami"  # Asterisk, asked over its Manager Interface (PJSIPNotify)


class PinLength(NamedTuple):
    """The setting `pin_length`: how many digits a PIN typed by a person has, inclusive."""

    shortest: int
    longest: int

    def __str__(self) -> str:
        return str(self.shortest) if self.shortest == self.longest else f"{self.shortest}-{self.longest}"


class SipAddress(NamedTuple):
    host: str
    port: int
    port_written: bool = False  # the address named its port (else `port` is the default)


_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(?::(\d{1,5}))?$")


def check_address(value: str) -> str:
    """Host or IP, optionally with :port; empty means "not configured"."""
    value = value.strip()
    if not value:
        return value
    match = _HOST.match(value)
    if not match or (match.group(1) and not 0 < int(match.group(1)) < 65536):
        raise SettingError(f"{value!r} is not a host name or IP address with an optional :port")
    return value


def parse_address(value: str, default_port: int = 5060) -> SipAddress | None:
    """'pbx.example.com:5080' -> ('pbx.example.com', 5080); '[2001:db8::1]' -> ('2001:db8::1', 5060); '' -> None."""
    if not value:
        return None
    host, port, written = value, default_port, False
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest.startswith(":"):
            port, written = int(rest[1:]), True
    elif value.count(":") == 1:
        host, port_text = value.split(":")
        port, written = int(port_text), True
    return SipAddress(host, port, written)


def check_port(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[0-9]{1,5}", value) or not 0 < int(value) < 65536:
        raise SettingError(f"{value!r} is not a port number (1-65535)")
    return str(int(value))


def check_host(value: str) -> str:
    """A host name or IP address without a port; empty means "not configured"."""
    value = value.strip()
    match = _HOST.match(value)
    if value and (match is None or match.group(1) or value.startswith("[")):
        raise SettingError(f"{value!r} is not a host name or IP address (the port is a setting of its own)")
    return value


def check_config_dir(value: str) -> str:
    value = value.strip().rstrip("/") or "/"
    if not value.startswith("/") or len(value) > 400 or not value.isprintable():
        raise SettingError(f"{value!r} is not an absolute directory path, such as /etc/asterisk")
    return value


def check_voicemail_context(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", value) or value.lower() in ("general", "zonemessages"):
        raise SettingError(f"{value!r} is not a voicemail context of voicemail.conf, such as default")
    return value


def check_password(value: str) -> str:
    if len(value) < 4 or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise SettingError("a password needs at least 4 printable characters and no spaces")
    return value


def check_keypad_password(value: str) -> str:
    # The phones' login screens ask for it in their numeric mode (some, as Cisco's, take nothing else).
    if not re.fullmatch(r"[0-9]{4,128}", value):
        raise SettingError("a password typed on a phone's keypad: 4 to 128 digits, digits only")
    return value


def check_username(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._@-]{1,64}", value):
        raise SettingError(f"{value!r} is not a user name (letters, digits, . _ @ -; at most 64)")
    return value


def check_optional_username(value: str) -> str:
    return check_username(value) if value.strip() else ""


def check_optional_secret(value: str) -> str:
    if value and (len(value) > 128 or any(ch.isspace() or not ch.isprintable() for ch in value)):
        raise SettingError("a SIP secret needs printable characters without spaces (at most 128)")
    return value


def check_display_name(value: str) -> str:
    value = value.strip()
    if len(value) > 64 or not value.isprintable():
        raise SettingError("a display name needs at most 64 printable characters")
    return value


LONGEST_PIN = 32  # the longest PIN an extension holds (hotdesk.directory)


def check_pin_length(value: str) -> str:
    """'4-12' (from 4 to 12 digits) or '4' (exactly four)."""
    value = value.strip()
    match = re.fullmatch(r"([0-9]{1,2})(?:-([0-9]{1,2}))?", value)
    shortest, longest = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
    if not 4 <= shortest <= longest <= LONGEST_PIN:
        raise SettingError(
            f"{value!r} is not a PIN length: N (exactly N digits) or N-M (from N to M), from 4 to {LONGEST_PIN}"
        )
    return str(PinLength(shortest, longest))


def parse_pin_length(value: str) -> PinLength:
    shortest, _, longest = value.partition("-")
    return PinLength(int(shortest), int(longest or shortest))


def check_bool(value: str) -> str:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return "true"
    if lowered in {"0", "false", "no", "off"}:
        return "false"
    raise SettingError(f"{value!r} is not true or false")


def parse_bool(value: str) -> bool:
    return value == "true"


def check_choice(choices: type[enum.StrEnum]) -> Callable[[str], str]:
    def check(value: str) -> str:
        value = value.strip().lower()
        if value not in {choice.value for choice in choices}:
            raise SettingError(f"{value!r} is not one of: {', '.join(choices)}")
        return value

    return check


def check_count(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[0-9]{1,6}", value) or int(value) > 100_000:
        raise SettingError(f"{value!r} is not a whole number from 0 to 100000")
    return str(int(value))


def check_time_of_day(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise SettingError(f"{value!r} is not a time of day HH:MM (24 h), or empty for none")
    return value


def parse_time_of_day(value: str) -> time | None:
    return time.fromisoformat(value) if value else None


def check_timezone(value: str) -> str:
    value = value.strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingError(f"{value!r} is not a time zone name such as Europe/Paris or UTC") from None
    return value


def check_base_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not value:
        return ""
    problem = (
        f"{value!r} is not an address such as https://hotdesk.example.com or http://10.0.0.5:8080 (no path), or empty"
    )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise SettingError(problem) from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise SettingError(problem)
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise SettingError(problem)
    return value


def _random_password() -> str:
    # Long and random: short defaults are what got FreePBX Phone Apps brute-forced (GHSA-426v-c5p7-cp29).
    return secrets.token_urlsafe(18)


def _random_path() -> str:
    # A URL path segment as hard to guess as the provisioning password.
    return secrets.token_urlsafe(24)


def check_provisioning_path(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"[A-Za-z0-9_-]{20,128}", value):
        raise SettingError(
            "provisioning_path: 20 to 128 letters, digits, '-' or '_' (it is a secret: hotdesk generates one)"
        )
    return value


def _random_digits() -> str:
    # Typed on a phone keypad, so digits only; 16 digits is FreePBX's post-advisory default.
    return "".join(secrets.choice("0123456789") for _ in range(16))


EXTERNAL_ADDRESS = SettingSpec(
    "external_address",
    "host[:port] remote phones register to (the External login key)",
    check=check_address,
    parse=parse_address,
)
INTERNAL_ADDRESS = SettingSpec(
    "internal_address",
    "host[:port] LAN phones register to (the Internal login key)",
    check=check_address,
    parse=parse_address,
)
USER_PASSWORD = SettingSpec(
    "user_password",
    "password (digits) for an extension without a voicemail PIN",
    _random_digits,
    check_keypad_password,
    secret=True,
    parse=str,
)
ADMIN_PASSWORD = SettingSpec(
    "admin_password",
    "password (digits) that logs any extension into any phone",
    _random_digits,
    check_keypad_password,
    secret=True,
    parse=str,
)
PROVISIONING_USERNAME = SettingSpec(
    "provisioning_username",
    "HTTP user name phones fetch provisioning files with",
    lambda: "hotdesk",
    check_username,
    parse=str,
)
PROVISIONING_PASSWORD = SettingSpec(
    "provisioning_password",
    "HTTP password phones fetch provisioning files with",
    _random_password,
    check_password,
    secret=True,
    parse=str,
)
PROVISIONING_PATH = SettingSpec(
    "provisioning_path",
    "secret path phones without HTTP credentials (Cisco enterprise) fetch their files under,"
    " /provision/t/<provisioning_path>/; it proves the tenant as the provisioning credentials do (empty: none)",
    _random_path,
    check_provisioning_path,
    secret=True,
    parse=str,
)
PHONE_SIP_PORT = SettingSpec(
    "phone_sip_port", "UDP port on the phone that receives SIP NOTIFY", lambda: "5060", check_port, parse=int
)
PHONE_BASE_URL = SettingSpec(
    "phone_base_url",
    "address phones reach hotdesk at, written into their files and login keys, e.g. https://hotdesk.example.com"
    " (empty: the address each request came to; set it when some phones come in another way, as Cisco's port 6970)",
    check=check_base_url,
    parse=str,
)
MULTIPLE_LOGIN = SettingSpec(
    "multiple_login",
    "an extension logging in on a second phone: auto_logout (the first phone is logged out), deny, allow",
    lambda: "auto_logout",
    check_choice(MultipleLogin),
    parse=MultipleLogin,
)
LOCKOUT_ATTEMPTS = SettingSpec(
    "lockout_attempts",
    "failed logins of one extension (or on one phone) that lock it; 0 = never",
    lambda: "5",
    check_count,
    parse=int,
)
LOCKOUT_MINUTES = SettingSpec(
    "lockout_minutes",
    "how long the first lockout lasts; each further one (lockout_attempts more failures) lasts twice as long",
    lambda: "15",
    check_count,
    parse=int,
)
LOCKOUT_MAX_MINUTES = SettingSpec(
    "lockout_max_minutes",
    "the longest a lockout lasts however many failures follow (failures are forgotten after seven times this)",
    lambda: "1440",
    check_count,
    parse=int,
)
MAX_LOGIN_MINUTES = SettingSpec(
    "max_login_minutes",
    "automatic logout after this long (0 = never); extensions may override",
    lambda: "0",
    check_count,
    parse=int,
)
DAILY_LOGOUT_TIME = SettingSpec(
    "daily_logout_time",
    "automatic logout of every phone each day at HH:MM local time (empty = never)",
    check=check_time_of_day,
    parse=parse_time_of_day,
)
TIMEZONE = SettingSpec("timezone", "time zone of daily_logout_time", lambda: "UTC", check_timezone, parse=ZoneInfo)
GUEST_LINE_USERNAME = SettingSpec(
    "guest_line_username",
    "SIP account a logged-out phone registers to, so it can still dial emergency numbers (empty = none);"
    " restrict it to emergency calls on the PBX",
    check=check_optional_username,
    parse=str,
)
GUEST_LINE_SECRET = SettingSpec(
    "guest_line_secret", "SIP secret of the guest line", check=check_optional_secret, secret=True, parse=str
)
GUEST_LINE_ADDRESS = SettingSpec(
    "guest_line_address",
    "host[:port] the guest line registers to (empty: the internal address)",
    check=check_address,
    parse=parse_address,
)
GUEST_LINE_DISPLAY_NAME = SettingSpec(
    "guest_line_display_name",
    "name the guest line shows",
    lambda: "Emergency calls only",
    check_display_name,
    parse=str,
)
DEVICE_REQUESTS_PER_MINUTE = SettingSpec(
    "device_requests_per_minute",
    "requests one phone may make per minute (0 = no limit)",
    lambda: "120",
    check_count,
    parse=int,
)
DEVICE_ADMISSION = SettingSpec(
    "device_admission",
    "which phones are served: open (any new MAC is issued credentials at its first fetch), approve (a new MAC"
    " waits for an admin to admit it), known (only MACs an admin added); see docs/architecture.md",
    lambda: "approve",
    check_choice(Admission),
    parse=Admission,
)
NEW_DEVICES_PER_MINUTE = SettingSpec(
    "new_devices_per_minute",
    "phones one address may make known with the shared credentials per minute (0 = no limit)",
    lambda: "600",
    check_count,
    parse=int,
)
SECRET_POLICY = SettingSpec(
    "secret_policy",
    "SIP secrets typed in the console, API or `extensions add`: strong (at least 8 characters with an upper-case"
    " and a lower-case letter, a digit and one of ! % * _ -, nothing else) or any; imported ones are only reported",
    lambda: "strong",
    check_choice(SecretPolicy),
    parse=SecretPolicy,
)
PIN_LENGTH = SettingSpec(
    "pin_length",
    "digits of a voicemail/login PIN typed in the console, API or CLI: N-M (from N to M) or N (exactly N);"
    " imported ones outside it are only reported",
    lambda: "4-12",
    check_pin_length,
    parse=parse_pin_length,
)
ANONYMOUS_REQUESTS_PER_MINUTE = SettingSpec(
    "anonymous_requests_per_minute",
    "requests per minute from one address that name no phone (0 = no limit)",
    lambda: "1200",
    check_count,
    parse=int,
)

DIRECTORY_SOURCE = SettingSpec(
    "directory_source",
    "where voicemail PINs live: hotdesk (its database) or asterisk (voicemail.conf under asterisk_config_dir,"
    " read live: a PIN changed from the voicemail menu works at the next login); see README, FreePBX",
    lambda: "hotdesk",
    check_choice(DirectorySource),
    parse=DirectorySource,
)
ASTERISK_CONFIG_DIR = SettingSpec(
    "asterisk_config_dir",
    "Asterisk's configuration directory (voicemail.conf, pjsip.conf and what they include), readable by hotdesk",
    lambda: "/etc/asterisk",
    check_config_dir,
    parse=str,
)
VOICEMAIL_CONTEXT = SettingSpec(
    "voicemail_context",
    "the voicemail.conf context holding the tenant's mailboxes (FreePBX: default)",
    lambda: "default",
    check_voicemail_context,
    parse=str,
)
ASTERISK_SYNC_MINUTES = SettingSpec(
    "asterisk_sync_minutes",
    "`hotdesk scheduler` runs `hotdesk sync asterisk` for the tenant this often (0 = never)",
    lambda: "0",
    check_count,
    parse=int,
)
NOTIFY_VIA = SettingSpec(
    "notify_via",
    "who sends a phone its reload NOTIFY: udp (hotdesk itself) or ami (Asterisk, over the Manager Interface:"
    " ami_host, ami_port, ami_username, ami_secret)",
    lambda: "udp",
    check_choice(NotifyVia),
    parse=NotifyVia,
)
AMI_HOST = SettingSpec("ami_host", "host of Asterisk's Manager Interface", lambda: "127.0.0.1", check_host, parse=str)
AMI_PORT = SettingSpec("ami_port", "TCP port of Asterisk's Manager Interface", lambda: "5038", check_port, parse=int)
AMI_USERNAME = SettingSpec(
    "ami_username", "AMI user (manager_custom.conf, write = system)", check=check_optional_username, parse=str
)
AMI_SECRET = SettingSpec("ami_secret", "the AMI user's secret", check=check_optional_secret, secret=True, parse=str)
NOTIFY_FALLBACK = SettingSpec(
    "notify_fallback",
    "with notify_via ami: when Asterisk refuses or cannot be reached, hotdesk sends the NOTIFY itself",
    lambda: "true",
    check_bool,
    parse=parse_bool,
)

CORE_SETTINGS: tuple[SettingSpec[Any], ...] = (
    EXTERNAL_ADDRESS,
    INTERNAL_ADDRESS,
    USER_PASSWORD,
    ADMIN_PASSWORD,
    PROVISIONING_USERNAME,
    PROVISIONING_PASSWORD,
    PROVISIONING_PATH,
    PHONE_SIP_PORT,
    PHONE_BASE_URL,
    MULTIPLE_LOGIN,
    LOCKOUT_ATTEMPTS,
    LOCKOUT_MINUTES,
    LOCKOUT_MAX_MINUTES,
    MAX_LOGIN_MINUTES,
    DAILY_LOGOUT_TIME,
    TIMEZONE,
    GUEST_LINE_USERNAME,
    GUEST_LINE_SECRET,
    GUEST_LINE_ADDRESS,
    GUEST_LINE_DISPLAY_NAME,
    DEVICE_REQUESTS_PER_MINUTE,
    DEVICE_ADMISSION,
    NEW_DEVICES_PER_MINUTE,
    ANONYMOUS_REQUESTS_PER_MINUTE,
    SECRET_POLICY,
    PIN_LENGTH,
    DIRECTORY_SOURCE,
    ASTERISK_CONFIG_DIR,
    VOICEMAIL_CONTEXT,
    ASTERISK_SYNC_MINUTES,
    NOTIFY_VIA,
    AMI_HOST,
    AMI_PORT,
    AMI_USERNAME,
    AMI_SECRET,
    NOTIFY_FALLBACK,
)


class SettingValues:
    """Every setting's value, parsed once to its type when read (one per snapshot, shared by the
    requests of a process: it cannot change). `values[LOCKOUT_ATTEMPTS]` is an int."""

    __slots__ = ("_typed",)

    def __init__(self, specs: Iterable[SettingSpec[Any]], stored: Mapping[str, str]):
        self._typed: Mapping[str, Any] = {spec.name: _parsed(spec, stored[spec.name]) for spec in specs}

    def __getitem__(self, spec: SettingSpec[T]) -> T:
        return cast(T, self._typed[spec.name])


def _parsed(spec: SettingSpec[T], stored: str) -> T:
    # Values are checked when set; one stored otherwise (by hand in the database, or before a check
    # was tightened) must not take every request down: it is logged and the default applies.
    try:
        return spec.parse(stored)
    except (ValueError, KeyError):  # ZoneInfo's "not found" is a KeyError
        log.warning("setting %s: the stored value is not valid, the default applies", spec.name)
        return spec.parse(spec.default())
