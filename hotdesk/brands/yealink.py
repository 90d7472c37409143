"""Yealink T2x/T4x/T5x/CP/VP.

Sources: phones.md §1.2, §3, §4; the User-Agent forms are those wazo-provd-plugins'
wazo_yealink/common.py matches; `%NULL%` for "reset to default", type 27 for an XML-browser
key and `sip.notify_reboot_enable = 0` (obey the NOTIFY's reboot= flag) follow its base.tpl
and FusionPBX's yealink.php.
Numeric input (the login screen's extension and PIN): `InputField type="number"` (and the
screen's own `type="number"`), as the FreePBX-Swiss phoneprovision module's yealink/startup.php
and logout.php ask for an extension and a password; the type list `IP, string, number, timeUS,
…` is the Aastra XML API's (rubydoc aastra_xml_api PhoneInputScreenEntry), which Yealink's XML
browser follows. Without it the phone starts in text mode, and a user presses "abc/123" first.
"""

from __future__ import annotations

import re
from typing import Any

from hotdesk.brands.base import Brand, Headers, Identity, RequestedFile, file_from, identity_from
from hotdesk.settings import SettingSpec, SettingValues, check_bool, parse_bool

_USER_AGENTS = (
    # "Yealink SIP-T46G 28.72.0.25 00:15:65:5b:53:84", "Yealink SIP VP-T49G ...", "yealink SIP-T28P ..."
    re.compile(r"^[yY]ealink\s+SIP(?: VP)?-(\w+)\s+([\d.]+)\s+([\da-fA-F:]{17})$"),
    # "Yealink CP860 37.72.0.5 00:15:65:..", "Yealink W60B 77.83.0.10 ..", "Yealink T58 58.80.0.5 .."
    re.compile(r"^[yY]ealink\s+(\w+)\s+([\d.]+)\s+([\da-fA-F:]{17})$"),
    # "VP530P 23.70.0.40 00:15:65:31:4b:c0"
    re.compile(r"^(VP530P?)\s+([\d.]+)\s+([\da-fA-F:]{17})$"),
    # "Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0": no MAC, it comes from the file name
    re.compile(r"^[yY]ealink-(\w+)\s+([\d.]+)\s+[\d.]+$"),
)
_COMMON_FILE = re.compile(
    r"^y\d{12}\.cfg$"
)  # "y" + the firmware family, zero-padded: y000000000028.cfg, y000000000124.cfg
_DEVICE_FILE = re.compile(r"^([0-9a-f]{12})\.cfg$")

NOTIFY_REBOOT = SettingSpec(
    "yealink_notify_reboot",
    "Yealink check-sync NOTIFY with reboot=true (false: reload the configuration without rebooting)",
    lambda: "true",
    check_bool,
    parse=parse_bool,
)


class Yealink(Brand):
    key = "yealink"
    label = "Yealink"
    common_template = "common.cfg"
    settings = (NOTIFY_REBOOT,)
    issues_device_credentials = True

    def parse_identity(self, user_agent: str, headers: Headers) -> Identity | None:
        return identity_from(_USER_AGENTS, user_agent)

    def requested_file(self, filename: str) -> RequestedFile | None:
        return file_from(filename, _COMMON_FILE, _DEVICE_FILE)

    def notify_event(self, settings: SettingValues) -> str:
        return f"check-sync;reboot={'true' if settings[NOTIFY_REBOOT] else 'false'}"

    def config_value(self, value: Any) -> Any:
        # One setting per line: a value must not be able to start another line.
        if value is None:
            return "%NULL%"
        if isinstance(value, str) and not value.isprintable():
            return "".join(ch for ch in value if ch.isprintable())
        return value
