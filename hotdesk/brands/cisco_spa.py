"""Cisco SPA5xx / Linksys SPA9xx and the CP-68xx/78xx/88xx 3PCC (multiplatform) phones.

Sources:
- User-Agents: wazo-platform/wazo-provd-plugins plugins/wazo_cisco_spa/common/common.py
  (`Cisco/<model>-<fw> [(<MAC>)](<serial>)`: the first parenthesis, when there are two, is the
  MAC; a single one is the serial number; `Linksys/<model>-<fw> (<serial>)` carries only the
  serial, e.g. `(4MM00F903042)`).
- 3PCC `Cisco-CP-8841-3PCC/11.0 (00562b043615)`: Cisco's 8800 MPP admin guide calls the value a
  "serial number", but wazo_cisco_sip/v12_0_1/common.py reads it as the MAC, as does a second
  public MPP provisioning server (User-Agent parsing "Cisco-CP-8841-3PCC/11.0 (00562b043615)"
  -> MAC), and 00:56:2B is a Cisco OUI while Cisco serials look like CBT141900G7. We take it as
  the MAC when it is 12 hex digits; otherwise the MAC comes from the file name.
- Files: `spa<PSN>.cfg` (SPA default profile rule `/spa$PSN.cfg`) and `<PSN>.xml` (3PCC default
  `/$PSN.xml`, e.g. `8851-3PCC.xml`) are the common file; `<mac>.xml` the device's own
  flat-profile (phones.md §4.1; wazo_cisco_spa `_PATH_REGEX`).
- Line 1: `Line_Enable_1_`, `User_ID_1_`, `Auth_ID_1_` (+ `Use_Auth_ID_1_`), `Password_1_`,
  `Display_Name_1_`, `Proxy_1_` = host:port (wazo_cisco_spa templates, phones.md §4.2).
- Keys: programmable softkeys `PSK_<n>` = `fnc=xml;url=…;nme=…`, shown by listing `psk<n>` in
  `Idle_Key_List` with `Programmable_Softkey_Enable` (Cisco 6800/7800/8800 MPP admin guides,
  "Programmable Softkeys"; a Webex XML-app README sets the same PSK string). PSKs rather than
  `Extended_Function_<n>_` line keys: every model has softkeys, the SPA502G/512G have no line key.
- Own provisioning credentials: a profile rule's `uid` and `pwd` options,
  `[--uid "U" --pwd "P"]URL` (6800 MPP provisioning guide, "Optional Resync Arguments: key, uid
  and pwd"; FusionPBX's cisco/8851 template writes its HTTP credentials into Profile_Rule that
  way); they take precedence over the phone's "profile account" (8800 MPP admin guide, "Profile
  Authentication"). So the device file rewrites Profile_Rule_B, the rule that fetches it (see
  common.xml), URL included; quoted, as the guides quote option arguments. A profile updates only
  the parameters it holds (8800 MPP admin guide, "Profile Rules"): the rule stays until rewritten,
  and the next resync uses it. Profile_Rule, which fetches the common file, keeps the global ones.
- Reload: SIP NOTIFY `Event: resync` ("Resync From SIP", default Yes; 6800 MPP admin guide;
  Asterisk's `[sipura-check-cfg]`).
- Numeric input: CiscoIPPhoneInput `InputFlags` N (numeric), P appended to mask (`NP` for a PIN),
  A for text (Cisco IP Phone Services XML objects, tests/schemas/CiscoIpPhoneServices.xsd; public
  CiscoIPPhoneInput services ask for a user id with `N` and a PIN with `NP`).
"""

from __future__ import annotations

import re

from hotdesk.brands.base import Brand, Headers, Identity, RequestedFile, file_from, identity_from
from hotdesk.settings import SettingValues

_USER_AGENTS = (
    # "Cisco/SPA501G-7.4.4 (8843E157DDCC)(CBT141100HR)", "Cisco/SPA525G-7.4.4 (CBT141900G7)"
    re.compile(r"^Cisco/(\w{1,32})-(\S{1,32}) (?:\(([\dA-Fa-f]{12})\))?\(\w{1,32}\)$"),
    # "Linksys/SPA-942-6.1.5(a) (88019FA42805)": the parenthesis is the serial number
    re.compile(r"^Linksys/([\w-]{1,32})-([^\s-]{1,32}) \(\w{1,32}\)$"),
    # "Cisco-CP-8841-3PCC/11.0 (00562b043615)"
    re.compile(r"^Cisco-(CP-\d{4}-3PCC)/(\S{1,32}) \(([\dA-Fa-f]{12})\)$"),
)
_COMMON_FILE = re.compile(r"^(?:spa\w{3,8}\.cfg|\d{4}(?:-3PCC)?\.xml)$", re.IGNORECASE)
_DEVICE_FILE = re.compile(r"^([\da-fA-F]{12})\.xml$")


class CiscoSpa(Brand):
    key = "cisco_spa"
    label = "Cisco SPA / 3PCC"
    config_content_type = "text/xml; charset=utf-8"
    config_autoescape = True
    common_template = "common.xml"
    issues_device_credentials = True

    def parse_identity(self, user_agent: str, headers: Headers) -> Identity | None:
        return identity_from(_USER_AGENTS, user_agent)

    def requested_file(self, filename: str) -> RequestedFile | None:
        return file_from(filename, _COMMON_FILE, _DEVICE_FILE)

    def notify_event(self, settings: SettingValues) -> str:
        return "resync"
