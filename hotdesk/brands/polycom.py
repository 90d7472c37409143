"""Polycom SoundPoint IP, SoundStation IP and VVX (UC Software).

Sources followed:
- User-Agent `FileTransport Polycom<family>-<model>-UA/<version>` and "no MAC in the User-Agent,
  it comes from the requested path": wazo-provd-plugins wazo_polycom/common/common.py.
- Files: the phone asks for `<mac>.cfg`, else `000000000000.cfg`; both are master files whose
  `<APPLICATION CONFIG_FILES="...">` lists the files to load, where `[PHONE_MAC_ADDRESS]` stands
  for the phone's MAC; the first file listed wins for a parameter set twice. wazo_polycom
  5.9.2/var/tftpboot/000000000000.cfg (`[PHONE_MAC_ADDRESS]-user.cfg, common.cfg`) and a
  published deployment's 000000000000.cfg (pastebin.com/VtZmk5nT) agree; phones.md §8.
  The device's own settings are in `<mac>-user.cfg` (wazo's name for it).
- Line `reg.1.*` and an idle soft key `softkey.N.enable/label/action/use.idle` whose action is
  the URL itself: wazo_polycom common/templates/base.tpl; the Polycom UC Software admin guide,
  "Macro Actions" (documents.polycom.com/bundle/ucs-ag-5-8/page/r-ucs-ag-macro-actions.html),
  lists a URL as an action (one per action string), and "action strings used in soft key
  definitions do not need to be prefixed by ^" (SIP 3.1 admin guide, manualsdump.com).
  Custom soft keys are enhanced feature keys: `feature.enhancedFeatureKeys.enabled="1"`
  (FusionPBX polycom 5.x template; ScanSource "Polycom EFK basics").
- Microbrowser: XHTML forms with method="get", served as text/html (wazo-phoned polycom
  templates and http.py). Its own User-Agent is UNCERTAIN: the device token identifies it.
- Own provisioning credentials: `device.set`, `device.prov.user(.set)`, `device.prov.password(.set)`
  (a BroadWorks DMS redirect file and a Laravel provisioning template, both public; passwords
  longer than 32 characters are not saved, per a public Polycom note).
- Reload: NOTIFY `check-sync` (Asterisk's [polycom-check-cfg]; wazo); with
  `voIpProt.SIP.specialEvent.checkSync.alwaysReboot="0"` the phone restarts only when its files
  changed (Gemeinschaft's sip_notify.conf note).
- Numeric input: `inputmode="numeric"` on the extension and PIN inputs, the HTML standard's hint
  for a numeric keyboard (WHATWG HTML, "Input modalities: the inputmode attribute"); a browser
  that does not know an attribute ignores it. UNCERTAIN: no Polycom document found says whether
  the microbrowser honours it; the Web Application Developer's Guide lists only text/password.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hotdesk.brands.base import Brand, FileKind, Headers, Identity, RequestedFile

_USER_AGENT = re.compile(r"^FileTransport Polycom\w+-(\w*?)-UA/([\d.]+)")
_COMMON_FILE = "000000000000.cfg"
_DEVICE_FILE = re.compile(r"^(?!0{12})([0-9a-f]{12})(?:-(user))?\.cfg$")

MASTER = "master"  # <mac>.cfg: names the files the phone loads next
SETTINGS = "user"  # <mac>-user.cfg: the device's line and keys, from its template


class Polycom(Brand):
    key = "polycom"
    label = "Polycom"
    screen_content_type = "text/html; charset=utf-8"
    config_content_type = "text/xml; charset=utf-8"
    config_autoescape = True
    common_template = "master.cfg"
    issues_device_credentials = True

    def parse_identity(self, user_agent: str, headers: Headers) -> Identity | None:
        match = _USER_AGENT.match(user_agent.strip())
        if match is None:
            return None
        model, firmware = match.groups()
        return Identity(model=model.replace("_", "") or None, firmware=firmware, mac=None)

    def requested_file(self, filename: str) -> RequestedFile | None:
        if filename == _COMMON_FILE:
            return RequestedFile(FileKind.COMMON)
        match = _DEVICE_FILE.match(filename)
        if match is None:
            return None
        return RequestedFile(FileKind.DEVICE, match.group(1), part=SETTINGS if match.group(2) else MASTER)

    def renders_template(self, part: str | None) -> bool:
        return part != MASTER

    def render_config(self, body: str, context: Mapping[str, Any]) -> bytes:
        if context.get("part") == MASTER:
            # The per-device master only names the device's files: it is the brand's, not a template's.
            return self.render_common(context)
        return super().render_config(body, context)
