"""Grandstream GXP/GRP desk phones.

Sources followed:
- User-Agents `Grandstream Model HW <model>[ V<hw>] SW <version> DevId <mac>` and the older
  `Grandstream GXP2000 (<app>.bin:<version>/...) DevId <mac>`; DevId is the MAC:
  wazo-provd-plugins wazo_grandstream/common/common.py.
- File `cfg<mac>.xml`, `<gs_provision version="1"><config version="1">` with P-values P271
  (account active), P270 (account name), P47 (SIP server, "URL or IP address, and port"),
  P35 (user ID), P36 (auth ID), P34 (password), P3 (display name): wazo base.tpl; the phone asks
  for cfg<mac>.xml first (GXP2130/2140/2160 user manual, "Provisioning").
- Keys: the multi-purpose key block wazo writes for the GXP2130 (common.py `_add_mpk`):
  P23000 + 5*(n-1) = mode, +1 account, +2 label, +3 value; mode "None" clears a key.
  UNCERTAIN: the mode that opens an XML application URL. The GXP21xx XML Application Guide
  1.0.0.2 documents one configured "XML application server path" that starts the application;
  no public source found gives a per-key URL mode, so "XMLApp" below is unconfirmed. It is a
  template variable (`xml_app_mode`) an admin can change to what the phone's firmware expects.
- Screens: the `<Screen><Page><Contents>...</Contents><SoftKeys>` format; soft-key actions
  `UseURL` (open commandArgs), `AppendInputURL` (open commandArgs with the page's inputs appended
  as name=value query parameters), `QuitApp`: GXP21xx XML Application Guide p.29
  (manualsdir.com / azmanual.top copies) and mrcnpdlk/grandstream-xmlapp (ModelConstant.php,
  SoftKey.php, ElemInput.php: `<input name value type><styles pos_x pos_y width/></input>`).
- Own provisioning credentials: P1360 / P1361, "Config HTTP/HTTPS User Name / Password" (a
  Grandstream phone web UI's own source names its fields P-1360 and P-1361; a public Laravel PBX
  template and a public provisioning server write them per device in cfg<mac>.xml). Like every
  P-value they are kept until a file sets them again, and the next fetch uses them.
- Reload: NOTIFY `check-sync`, what wazo's Grandstream plugin sends (standard_sip_synchronize);
  FusionPBX sends `resync` to Grandstream instead (prior-art.md, resync table).
- Numeric input: none documented. The GXP21xx XML Application Guide's `<input>` and
  mrcnpdlk/grandstream-xmlapp (Input.php: types text, password, hidden, radio, checkbox) give no
  numeric mode, so the PIN is a `password` input and the phone's keypad mode applies (not guessed).
"""

from __future__ import annotations

import re

from hotdesk.brands.base import Brand, FileKind, Headers, Identity, RequestedFile, identity_from, normalize_mac

# Every part below ends where the next one's first character begins, and no two quantifiers can
# take the same characters: a crafted User-Agent costs one pass, not a search over ways to split it.
_USER_AGENTS = (
    # "Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859", "... GXV3350  V1.3A SW ..."
    re.compile(r"^Grandstream Model HW (\w{1,32})(?: {1,4}V\S{1,16})? SW (\S{1,32}) DevId ([0-9a-fA-F]{12})$"),
)
# "Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/boot55e.bin:1.1.6.9) DevId 000b822726c8": the
# parenthesis first, then the firmware from its first "<image>.bin:<version>".
_OLD_USER_AGENT = re.compile(r"^Grandstream (\w{1,32}) \(([^)]{0,200})\) DevId ([0-9a-fA-F]{12})$")
_OLD_FIRMWARE = re.compile(r"\w{1,64}\.bin:([^/)\s]{1,32})")
_DEVICE_FILE = re.compile(r"^cfg(?!0{12})([0-9a-f]{12})\.xml$")


class Grandstream(Brand):
    key = "grandstream"
    label = "Grandstream"
    config_content_type = "text/xml; charset=utf-8"
    config_autoescape = True
    issues_device_credentials = True

    def parse_identity(self, user_agent: str, headers: Headers) -> Identity | None:
        identity = identity_from(_USER_AGENTS, user_agent)
        if identity is not None:
            return identity
        match = _OLD_USER_AGENT.match(user_agent.strip())
        if match is None:
            return None
        model, images, mac = match.groups()
        firmware = _OLD_FIRMWARE.match(images)
        return Identity(model=model, firmware=firmware.group(1) if firmware else None, mac=normalize_mac(mac))

    def requested_file(self, filename: str) -> RequestedFile | None:
        match = _DEVICE_FILE.match(filename)
        return RequestedFile(FileKind.DEVICE, match.group(1)) if match else None
