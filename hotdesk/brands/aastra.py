"""Aastra / Mitel: 5xi, 67xxi, 68xxi, 6739i, 9xxxi, Mitel 69xx (the Aastra XML API).

Sources: phones.md §1.1, §2, §4, §5.1, and through them
- TeleVoIPs/Aastra_Scripts 2.3.1 (aastra-xml-scripts), include/*.class.php: the object grammar
  tests/schemas/aastra.xsd follows (attributes, child order, `escape()` of & < > " '),
  ISO-8859-1 as the default encoding; asterisk/startup.php: the login answer is an Execute
  whose items fetch AastraIPPhoneConfiguration pages of at most 30 items (AASTRA_MAXCONFIGURATIONS),
  so the phone takes its new line without rebooting; phones without "dynamic SIP" (firmware before
  2.5.0, and the 8000i) are shown the welcome screen, then get `Command: FastReboot` (2.0.2 and
  later) or `Command: Reset` (include/AastraIPPhone.php: Aastra_is_dynamic_sip_supported,
  Aastra_is_fastreboot_supported); the 6867i wants Submit on soft key 2, so every model gets it there.
- wazo-platform/wazo-provd-plugins wazo_aastra: the User-Agent pattern (common.py), the
  `sip lineN …` parameter names (templates/base.tpl) and which key family each model has
  (prgkey, topsoftkey or softkey, `_MODELS` in common.py).
Not followed: startup.php requests every configuration page twice to work around a 3.2.1 firmware
bug; its comment is the only source for that bug, so hotdesk sends each page once.
UNCERTAIN: phones without soft keys (53i, 6730i, 6731i, 6863i) may not take a multi-field input
screen; startup.php asks them for the extension and the password on two single-field screens.
Numeric input: `InputField type="number"` (Aastra XML API, the `type` list `IP, string (default),
number, timeUS, timeInt, dateUS, dateInt`: rubydoc aastra_xml_api PhoneInputScreenEntry;
Aastra_Scripts' AastraIPPhoneInputScreen), with `password="yes"` masking the PIN.
No credentials of its own (issues_device_credentials stays False): the phone's HTTP client
credentials are `http digest username` / `http digest password` (Mitel 6800 admin guide 4.2.0,
"Authentication support for HTTP/HTTPS download methods", digest only, default aastra/aastra),
but its server configuration is the one "most recently downloaded" from aastra.cfg, <model>.cfg
and <mac>.cfg at each restart, and values set locally on the phone win over it (Aastra admin
guide 2.x-2.5 and Mitel 6800i guide, "Configuration File Precedence"). Written once, as hotdesk
issues them, the pair would be gone after the next download and the phone locked out, so the
device file would have to repeat it every time (with `^` to beat a local value).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hotdesk.brands.base import Brand, FileKind, Headers, Identity, RequestedFile, normalize_mac
from hotdesk.screens import Reload, Screen

# "Aastra57i MAC:00-08-5D-1A-98-70 V:2.4.1.37-SIP", "Mitel6920 MAC:14-00-E9-1F-03-EA V:6.4.0.140-SIP"
_USER_AGENT = re.compile(r"^(?:Aastra|Mitel)(\w+) MAC:([0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}) V:([0-9][\w.]*)-SIP$")
_COMMON_FILE = "aastra.cfg"
_MODEL_FILE = re.compile(r"^([0-9]{2,4}[A-Za-z]{0,4})\.cfg$")  # 57i.cfg, 6739i.cfg, 6920.cfg, 57iCT.cfg
_DEVICE_FILE = re.compile(r"^([0-9A-F]{12})\.cfg$")

DYNAMIC_SIP = (2, 5, 0)  # AastraIPPhoneConfiguration can change the SIP lines without a reboot
FAST_REBOOT = (2, 0, 2)

# Models whose XML keys are programmable keys or top soft keys rather than (context) soft keys.
_PRGKEY_MODELS = {"51i", "53i", "6730i", "6731i", "6753i", "6863i", "6865i", "6905", "6910", "9143i"}
_TOPSOFTKEY_MODELS = {"6915", "6915d", "6920", "6920w", "6930", "6930w", "6940", "6940w", "6970"}


def firmware_version(firmware: str | None) -> tuple[int, ...] | None:
    """'3.2.1.1013' -> (3, 2, 1, 1013); None when the firmware did not say."""
    numbers = re.match(r"\d+(?:\.\d+)*", firmware or "")
    return tuple(int(n) for n in numbers.group().split(".")) if numbers else None


def restart_command(model: str | None, firmware: str | None) -> str | None:
    """What makes this phone take its new configuration when it cannot apply it live; None if it can."""
    version = firmware_version(firmware)
    if version is not None and version >= DYNAMIC_SIP and model != "8000i":
        return None
    if version is not None and version < FAST_REBOOT:
        return "Command: Reset"
    return "Command: FastReboot"


def key_type(model: str | None) -> str:
    """The key family an XML key goes on for this model: `softkey`, `topsoftkey` or `prgkey`."""
    if model in _PRGKEY_MODELS:
        return "prgkey"
    if model in _TOPSOFTKEY_MODELS:
        return "topsoftkey"
    return "softkey"


def parse_config(body: bytes) -> list[tuple[str, str]]:
    """`parameter: value` lines of an Aastra configuration file, in order; comments and blanks skipped."""
    items = []
    for raw in body.decode("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parameter, separator, value = line.partition(":")
        if separator:
            items.append((parameter.strip(), value.strip()))
    return items


class Aastra(Brand):
    key = "aastra"
    label = "Aastra/Mitel"
    # The firmware's default; characters Latin-1 lacks go out as character references.
    screen_content_type = "text/xml; charset=ISO-8859-1"
    screen_encoding = "iso-8859-1"
    common_template = _COMMON_FILE
    reloads_by_notify = False
    configuration_page_size = 30  # AASTRA_MAXCONFIGURATIONS

    def parse_identity(self, user_agent: str, headers: Headers) -> Identity | None:
        match = _USER_AGENT.match(user_agent.strip())
        if match is None:
            return None
        model, mac, firmware = match.groups()
        return Identity(model=model, firmware=firmware, mac=normalize_mac(mac))

    def requested_file(self, filename: str) -> RequestedFile | None:
        if filename == _COMMON_FILE:
            return RequestedFile(FileKind.COMMON)
        match = _DEVICE_FILE.match(filename)
        if match:
            return RequestedFile(FileKind.DEVICE, match.group(1).lower())
        match = _MODEL_FILE.match(filename)
        if match:
            return RequestedFile(FileKind.COMMON, part=match.group(1))
        return None

    def config_value(self, value: Any) -> Any:
        # One `parameter: value` per line: a value must not be able to start another line.
        if value is None:
            return ""
        if isinstance(value, str):
            return "".join(ch for ch in value if ch.isprintable()).strip()
        return value

    def render_config(self, body: str, context: Mapping[str, Any]) -> bytes:
        device = context.get("device") or {}
        return super().render_config(body, {**context, "key_type": key_type(device.get("model"))})

    def configuration_items(self, device_file: bytes) -> list[tuple[str, str]]:
        return parse_config(device_file)

    def render_screen(self, screen: Screen, **context: Any) -> bytes:
        if isinstance(screen, Reload):
            phone = context.get("phone")
            context["restart"] = restart_command(phone.model, phone.firmware) if phone else "Command: FastReboot"
        return super().render_screen(screen, **context)
