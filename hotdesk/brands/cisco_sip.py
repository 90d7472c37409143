"""Cisco enterprise SIP firmware (78xx/88xx, the firmware CUCM runs) outside CUCM.

Sources:
- Files: `SEP<MAC>.cnf.xml` (upper-case MAC) for the device, `XMLDefault.cnf.xml` for phones
  without one (wazo-platform/wazo-provd-plugins plugins/wazo_cisco_sip/common/common.py,
  `_FILENAME_REGEXES`; usecallmanager.nz "HTTP Provisioning"). The layout of our cnf.xml
  follows wazo_cisco_sip/common/templates/base.tpl (line 1 = featureID 9 registering to
  `processNodeName`); a key is a line button with featureID 20 and a `serviceURI` (public
  SEPMAC.cnf.xml samples of phone-book and provisioning projects).
- User-Agents. The XML browser sends `Allegro-Software-WebClient/<v>` with the model in
  `x-CiscoIPPhoneModelName` and no MAC (phones.md §1.3, §4.3; chan-sccp `sccp_webservice.c`; a
  public client sending `Allegro-Software-WebClient/4.34` + `x-CiscoIPPhoneModelName: CP-7942G`).
  Allegro's client is also in DLNA TVs, so the model header is required. The phone is known by
  the device token in every app URL. UNCERTAIN: no public source shows the User-Agent of the
  cnf.xml download itself (wazo identifies these phones by file name only); we also accept the
  firmware's own `Cisco-CP8851/12.1.1` form, seen in these phones' SIP traffic.
- Reload: SIP NOTIFY `Event: service-control`, body `action=restart` (re-register and re-fetch
  the configuration; `reset` reboots) plus the zero version stamps, as wazo_cisco_sip's
  `synchronize()` sends it; the same body is in public Asterisk `sip_notify.conf` samples.
- Deployment: these phones fetch `/SEP<MAC>.cnf.xml` from port 6970 without HTTP credentials;
  a reverse proxy on 6970 maps it to their tenant's provisioning path, /provision/t/<path>/,
  which stands for the tenant's provisioning credentials (README: Tenants).
- Screens: the CiscoIPPhone objects of cisco_spa (numeric input: `InputFlags` N, `NP` for a PIN).
"""

from __future__ import annotations

import re

from hotdesk.brands.base import Brand, Headers, Identity, NotifyBody, RequestedFile, file_from, identity_from
from hotdesk.settings import SettingValues

_BROWSER = re.compile(r"^Allegro-Software-WebClient/(\S{1,32})")
_MODEL_HEADER = "x-CiscoIPPhoneModelName"
_MODEL = re.compile(r"^[\w-]{1,64}$")
_FIRMWARE_CLIENT = re.compile(r"^Cisco-(CP\d{4}\w{0,8})/(\S{1,32})$")  # "Cisco-CP8851/12.1.1"
_COMMON_FILE = re.compile(r"^XMLDefault\.cnf\.xml$")
_DEVICE_FILE = re.compile(r"^SEP([\dA-Fa-f]{12})\.cnf\.xml$")

# wazo_cisco_sip synchronize(): restart = unregister and re-download the configuration.
RESTART = NotifyBody(
    "text/plain",
    "action=restart\r\n"
    "RegisterCallId={}\r\n"
    "ConfigVersionStamp={0000000000000000}\r\n"
    "DialplanVersionStamp={0000000000000000}\r\n"
    "SoftkeyVersionStamp={0000000000000000}\r\n",
)


class CiscoSip(Brand):
    key = "cisco_sip"
    label = "Cisco enterprise SIP"
    config_content_type = "text/xml; charset=utf-8"
    config_autoescape = True
    common_template = "common.xml"

    def parse_identity(self, user_agent: str, headers: Headers) -> Identity | None:
        identity = identity_from((_FIRMWARE_CLIENT,), user_agent)
        model = (headers.get(_MODEL_HEADER) or "").strip()
        if identity is None and _BROWSER.match(user_agent.strip()) and _MODEL.match(model):
            identity = Identity(model=model, firmware=None, mac=None)
        return identity

    def requested_file(self, filename: str) -> RequestedFile | None:
        return file_from(filename, _COMMON_FILE, _DEVICE_FILE)

    def notify_event(self, settings: SettingValues) -> str:
        return "service-control"

    def notify_body(self) -> NotifyBody:
        return RESTART
