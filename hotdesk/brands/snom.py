"""Snom 3xx/7xx/8xx and D-series desk phones.

Sources:
- User-Agents and file names: wazo-platform/wazo-provd-plugins plugins/wazo_snom/common/common.py
  (`\\bsnom(\\w+)-SIP ([\\d.]+)`, the MAC as the last 12-hex-digit field when the firmware sends it;
  device files `snom<model>-<MAC>.htm` -> `<MAC>.xml`, upper-case MAC). The phone fetches the
  model file `snom<model>.htm` and its own `snom<model>-<MAC>.htm`; the latter is a
  `<setting-files>` list naming `<MAC>.xml`, which holds the settings (wazo_snom
  templates/other/base.htm.tpl; Snom wiki "Setting Files"). One admin template renders `<MAC>.xml`;
  the `<setting-files>` list is the brand's own (epm_templates/snom/setting-files.htm).
- Line 1: `user_active`, `user_name`, `user_pname` (auth name), `user_pass`, `user_realname`,
  `user_host`, `user_outbound` = host:port;transport=udp (wazo_snom templates/base.tpl). A settings
  file only changes what it names, so the guest file writes every one of them empty.
- Keys: `<fkey idx context label perm>url <URL></fkey>` opens the URL in the minibrowser ("Action URL"
  key). Followed: wazo_snom's model templates (`<fkey … perm="R">url http://…</fkey>` for the
  directory) and the Snom wiki (`<functionKeys>` tag: the value is the key type, a space, its argument;
  "How to display custom text…": `<dkey_transfer>url file:///…</dkey_transfer>`). An unused key goes
  back to `line`, the documented default (Snom D7 manual, "XML provisioning of settings").
- Dialect: SnomIPPhoneMenu (MenuItem Name/URL), SnomIPPhoneInput (Url + InputItem with DisplayName,
  InputToken, DefaultValue, InputFlags n/p/pn/a: the phone replaces every occurrence of each token in
  the Url with what was typed), SnomIPPhoneText with SoftKeyItem Name/Label/URL (Snom wiki
  "SnomIPPhoneInput", "Xmlobjects"; wazo-phoned plugins/snom, served as text/xml). UNCERTAIN: the
  wiki describes one InputItem; two on one screen (extension, password) follow from each item having
  its own token, not from an example.
- Numeric input: InputFlags `n` (numeric), `p` (password), `pn` (a masked number, the PIN), `a`
  (text): Snom wiki "SnomIPPhoneInput" (InputFlags).
- The access code screen's Resend key: a SoftKeyItem (Name F4, Label, URL) on the SnomIPPhoneInput,
  as public XML-menu code for Snom writes one on an input screen (an F2 "Exit"). UNCERTAIN: no Snom
  document shows a SoftKeyItem on an input screen.
- Reload: the login/logout answer carries `<fetch mil="…">snom://mb_exit#reboot</fetch>`: the Snom
  wiki "Fragments" page (fragments run from any minibrowser URL; `reboot`), and `<fetch>` of a
  `phone://mb_exit#…` fragment as Snom documents for pushed objects (also public code, repository
  not named, for click-to-dial). `reboot` rather than `reloadset`: no source says `reloadset`
  fetches the provisioning files again; a booting Snom always does. A phone logged out from
  elsewhere gets NOTIFY `check-sync;reboot=false` (Asterisk's `[snom-check-cfg]`, wazo_snom
  `synchronize()`).
- Own provisioning credentials: `http_client_user` / `http_client_pass`, the HTTP user name and
  password the phone sends when fetching its settings (FusionPBX snom templates, e.g.
  resources/templates/provision/snom/D785/{$mac}.xml, write its provisioning HTTP-auth credentials
  there; Tine 2.0 Voipmanager, tine20/Voipmanager/Controller/Snom/Phone.php and
  Frontend/Snom/Abstract.php, issues each phone a random pair once, `http_client_info_sent`, then
  authenticates its settings requests against them). A settings file only changes what it names,
  so the phone keeps them when later files omit them. UNCERTAIN: Tine keeps the password to 20
  characters "because of Snom phone limitations" without saying which; hotdesk's are 24.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hotdesk.brands.base import Brand, FileKind, Headers, Identity, RequestedFile, normalize_mac, single_line
from hotdesk.settings import SettingValues

_USER_AGENT = re.compile(r"\bsnom(\w{1,16})-SIP ([\d.]{1,32})([^)]{0,200})")
_MAC_FIELD = re.compile(r"(?:^|\s)([0-9A-Fa-f]{12})(?=[\s;)]|$)")
_COMMON_FILE = re.compile(r"^snom\w{1,16}\.htm$")
_SETTING_FILES = re.compile(r"^snom\w{1,16}-([0-9A-Fa-f]{12})\.htm$")
_SETTINGS = re.compile(r"^([0-9A-Fa-f]{12})\.xml$")

SETTING_FILES_PART = "setting-files"
SETTING_FILES_TEMPLATE = "setting-files.htm"


class Snom(Brand):
    key = "snom"
    label = "Snom"
    config_content_type = "application/xml; charset=utf-8"
    config_autoescape = True
    common_template = "common.htm"
    reloads_by_notify = False
    issues_device_credentials = True

    def parse_identity(self, user_agent: str, headers: Headers) -> Identity | None:
        # "Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 000413741767)"
        match = _USER_AGENT.search(user_agent)
        if match is None:
            return None
        mac = _MAC_FIELD.search(match.group(3))
        return Identity(model=match.group(1), firmware=match.group(2), mac=normalize_mac(mac.group(1)) if mac else None)

    def requested_file(self, filename: str) -> RequestedFile | None:
        if _COMMON_FILE.match(filename):
            return RequestedFile(FileKind.COMMON)
        match = _SETTING_FILES.match(filename)
        if match:
            return RequestedFile(FileKind.DEVICE, normalize_mac(match.group(1)), part=SETTING_FILES_PART)
        match = _SETTINGS.match(filename)
        if match:
            return RequestedFile(FileKind.DEVICE, normalize_mac(match.group(1)))
        return None

    def notify_event(self, settings: SettingValues) -> str:
        return "check-sync;reboot=false"

    def config_value(self, value: Any) -> Any:
        return single_line(value)

    def renders_template(self, part: str | None) -> bool:
        return part != SETTING_FILES_PART

    def render_config(self, body: str, context: Mapping[str, Any]) -> bytes:
        if context.get("part") == SETTING_FILES_PART:
            # The list naming the device's settings file is the brand's, not an admin template.
            return (
                self._environment.get_template(f"{self.key}/{SETTING_FILES_TEMPLATE}").render(context).encode("utf-8")
            )
        return super().render_config(body, context)

    def stock_templates(self) -> dict[str, str]:
        templates = super().stock_templates()
        templates.pop(SETTING_FILES_TEMPLATE.rsplit(".", 1)[0], None)
        return templates

    def configuration_items(self, device_file: bytes) -> list[tuple[str, str]]:
        # The answer reboots the phone, which then fetches its files from /provision/: nothing to page.
        return []
