"""Fanvil X, i, H, V and W series.

Sources:
- User-Agents and file names: wazo-platform/wazo-provd-plugins plugins/wazo_fanvil/common/common.py
  (`Fanvil <model> <version> <mac>`, model e.g. `X6U Pro`, `H2U-V2`; the device file is `<mac>.cfg`,
  lower-case, the same name Yealink uses: the User-Agent decides which brand answers).
- Configuration: the XML form `<VOIP_CONFIG_FILE><version>2.0002</version>…` of wazo_fanvil's
  templates/base.tpl: line 1 is the `SIP_Line_List_Entry` with ID `SIP1` (Phone_Number,
  Display_Name, Register_Addr, Register_Port, Register_User, Register_Pswd, Enable_Reg); keys are
  `Function_Key_Entry` (ID FkeyN, Type, Value, Title); key 1 stays the line key (Type 2, `SIP1`).
  The text form (`<<VOIP CONFIG FILE>>Version:…`) is the older one; not used.
- XML key type 7: wazo_fanvil base.tpl puts its XML directory URL (served by wazo-phoned as
  FanvilIPPhone objects) on a DSS key of Type 7. UNCERTAIN: that is the only public source found
  for the type code; newer `<sysConf>` files use type 21 for the same key. Admins can change it in
  the template.
- Dialect: FanvilIPPhoneMenu (MenuItem Prompt/URI), FanvilIPPhoneInputScreen (URL + Cisco-style
  InputItem DisplayName/QueryStringParam/DefaultValue/InputFlags: the phone appends
  `name=value` pairs to the URL as a query), FanvilIPPhoneText; soft keys `<SoftKey><Name/><URI/>`
  with `SoftKey:Exit` (wazo-platform/wazo-phoned plugins/fanvil templates, served as text/xml).
- Numeric input: Cisco's InputFlags, N numeric with P appended to mask (`NP` for the PIN).
  wazo-phoned's Fanvil input screen writes Cisco's flags (`<InputFlags>A</InputFlags>` for its
  directory search, in its integration tests). UNCERTAIN: no Fanvil document found spells N and P
  out; they are Cisco's meaning, which the rest of this dialect follows.
- Own provisioning credentials: `<AUTOUPDATE_CONFIG_MODULE>` `Download_Username` and
  `Download_Password` (FusionPBX's fanvil/x4 template writes its HTTP auth credentials there;
  wazo_fanvil base.tpl has the same two elements). A file sets only the settings it holds, so
  the phone keeps them for its next fetches.
- Reload: SIP NOTIFY `Event: check-sync` (wazo_fanvil `synchronize()` = standard check-sync).
"""

from __future__ import annotations

import re
from typing import Any

from hotdesk.brands.base import Brand, FileKind, Headers, Identity, RequestedFile, normalize_mac, single_line

# "Fanvil X4 2.10.2.6887 0c383e07e16c", "Fanvil X6U Pro 0.0.10 0c383e2cd782", "Fanvil H2U-V2 2.12.0 0c383e32342e"
_USER_AGENT = re.compile(r"^Fanvil ([\w-]{1,16}(?: Pro)?) ([\d.]{1,32}) ([\da-fA-F]{12})$")
_DEVICE_FILE = re.compile(r"^([\da-f]{12})\.cfg$")


class Fanvil(Brand):
    key = "fanvil"
    label = "Fanvil"
    config_content_type = "application/xml; charset=utf-8"
    config_autoescape = True
    issues_device_credentials = True

    def parse_identity(self, user_agent: str, headers: Headers) -> Identity | None:
        match = _USER_AGENT.match(user_agent.strip())
        if match is None:
            return None
        model, firmware, mac = match.groups()
        return Identity(model=model.replace(" ", "-"), firmware=firmware, mac=normalize_mac(mac))

    def requested_file(self, filename: str) -> RequestedFile | None:
        match = _DEVICE_FILE.match(filename)
        return RequestedFile(FileKind.DEVICE, match.group(1)) if match else None

    def config_value(self, value: Any) -> Any:
        return single_line(value)
