"""Digium D-series and Sangoma D/P-series: provisioning only.

These phones run JavaScript apps (DPMA / EPM Phone Apps), not an XML browser, so hotdesk cannot
put External/Internal/Logout keys on them: a guest config switches the line off, and logins are
made by an admin (CLI or console) through the same core rules; the phone is then told to reload.

Sources followed:
- User-Agent `Digium D60 2_7_0` (phones.md §4.3) and the DHCP vendor-class form
  `digium_D40_1_0_5_46476` (wazo-provd-plugins wazo_digium/common/common.py, _VDI_REGEX).
  There is no MAC in either: it comes from the file name, `Digium/<mac>.cfg` (wazo's
  _PATH_REGEX; phones.md §4.1), also accepted without the folder.
- Config: `<config><setting id=... value=.../>` and `<accounts><account index status register
  account_id username authname password line_label><host_primary server port transport/>`:
  wazo_digium common/templates/base.tpl; setting ids from phones.md §1.8 (Sangoma "XML
  Configuration 4.9.0").
- Reload: NOTIFY `check-sync` (Asterisk's [digium-check-cfg]; wazo standard_sip_synchronize).
- Own provisioning credentials: there is no user name/password setting; they go in the URL of
  `<setting id="config_server_url">`, as the Asterisk wiki's Digium "Provisioning" page shows
  (`value="https://user:pass@server.example.com:443"`). The phone keeps that URL and fetches from
  it on every later boot until it is pointed elsewhere (same page, "Initial Boot Process"; Sangoma
  KB "How Digium phones prioritize boot configuration options"), so later files need not repeat it.
  UNCERTAIN: what the phone appends to that URL (`<mac>.cfg` or `Digium/<mac>.cfg`); hotdesk
  gives it `<server>/provision/` and serves both names.
- Sangoma P-series User-Agent: no public source found, so not recognised here (not guessed).
  Sangoma S-series: phones.md says they "may be Fanvil-derived"; no source confirms their
  format, so no brand module claims them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from hotdesk.brands.base import Brand, FileKind, Headers, Identity, RequestedFile

_USER_AGENTS = (
    re.compile(r"^Digium (D\d\d\w{0,16}) ([\d_.]{1,32})$"),  # "Digium D60 2_7_0"
    # "digium_D40_1_0_5_46476": the model holds no "_", so where it ends is never in doubt (a model
    # that could take the "_" the firmware also takes cost a quadratic search on a crafted string).
    re.compile(r"^digium_(D\d\d[^\W_]{0,16})_([\d_]{1,32})$"),
)
_DEVICE_FILE = re.compile(r"^(?:Digium/)?(?!0{12})([0-9a-fA-F]{12})\.cfg$")


class Digium(Brand):
    key = "digium"
    label = "Digium / Sangoma D and P"
    screen_content_type = "text/plain; charset=utf-8"
    config_content_type = "text/xml; charset=utf-8"
    config_autoescape = True
    has_login_app = False
    issues_device_credentials = True

    def parse_identity(self, user_agent: str, headers: Headers) -> Identity | None:
        for pattern in _USER_AGENTS:
            match = pattern.match(user_agent.strip())
            if match:
                model, firmware = match.groups()
                return Identity(model=model, firmware=firmware.replace("_", "."), mac=None)
        return None

    def requested_file(self, filename: str) -> RequestedFile | None:
        match = _DEVICE_FILE.match(filename)
        return RequestedFile(FileKind.DEVICE, match.group(1).lower()) if match else None

    def render_config(self, body: str, context: Mapping[str, Any]) -> bytes:
        issued = context.get("provisioning")
        url = config_server_url(context["server"], issued.username, issued.password) if issued else None
        return super().render_config(body, {**context, "config_server_url": url})


def config_server_url(server: str, username: str, password: str) -> str:
    """hotdesk's provisioning URL with the phone's own credentials in it: 'http://u:p@host/provision/'."""
    scheme, _, host = server.partition("://")
    return f"{scheme}://{quote(username, safe='')}:{quote(password, safe='')}@{host}/provision/"
