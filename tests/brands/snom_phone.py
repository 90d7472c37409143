"""An emulated Snom phone: fetches snom<model>.htm and snom<model>-<MAC>.htm, follows the
<setting-files> list to <MAC>.xml, and runs its minibrowser.

The minibrowser submits a SnomIPPhoneInput the way the firmware does: every occurrence of each
InputItem's InputToken in the Url is replaced by what the user typed, nothing else. A `<fetch>` of
`snom://mb_exit#reboot` restarts the phone, which fetches its files again.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.phones import Phone, parse_xml

REBOOT = "snom://mb_exit#reboot"


def parse_snom_settings(body: bytes) -> dict[str, str]:
    """A <settings> file as `name` / `name[idx]` -> value; function keys as `fkey[idx]` and `fkey[idx].label`."""
    root = parse_xml(body)
    assert root.tag == "settings", root.tag
    config = {}
    for setting in root.iterfind("phone-settings/*"):
        name = f"{setting.tag}[{setting.get('idx')}]" if setting.get("idx") is not None else setting.tag
        config[name] = setting.text or ""
    for key in root.iterfind("functionKeys/fkey"):
        config[f"fkey[{key.get('idx')}]"] = key.text or ""
        config[f"fkey[{key.get('idx')}].label"] = key.get("label", "")
    return config


class SnomPhone(Phone):
    brand = "snom"
    reloads_by = "answer"
    notify_event = "check-sync;reboot=false"
    credential_settings = ("http_client_user", "http_client_pass")

    def __init__(self, client, mac: str, *, model="710", firmware="8.7.5.35", **kwargs):
        super().__init__(client, mac, **kwargs)
        self.model = model
        self.user_agent = f"Mozilla/4.0 (compatible; snom{model}-SIP {firmware} 1.1.5-IFX-05.01.12 {mac.upper()})"
        self.reboots = 0

    def provisioning_files(self):
        # Like the firmware: the model file, its own file, then (once fetched) the files that one lists.
        yield f"snom{self.model}.htm"
        setting_files = f"snom{self.model}-{self.mac.upper()}.htm"
        yield setting_files
        root = parse_xml(self.files[setting_files])
        assert root.tag == "setting-files", root.tag
        for url in (file.get("url") for file in root.iter("file")):
            path = urlsplit(url).path
            assert path.startswith("/provision/"), url
            yield path.removeprefix("/provision/")

    def read_config(self, files):
        config = {}
        for body in files.values():
            if parse_xml(body).tag == "settings":
                config |= parse_snom_settings(body)
        return config

    def keys(self):
        keys = {}
        for name, value in self.config.items():
            if name.startswith("fkey[") and not name.endswith(".label") and value.startswith("url "):
                keys[self.config[f"{name}.label"]] = value.removeprefix("url ")
        return keys

    def line(self):
        c = self.config
        if c.get("user_active[1]") != "on":
            return None
        outbound_host, _, rest = c["user_outbound[1]"].partition(":")
        assert outbound_host == c["user_host[1]"]
        return {
            "user_name": c["user_name[1]"],
            "auth_name": c["user_pname[1]"],
            "secret": c["user_pass[1]"],
            "display_name": c["user_realname[1]"],
            "registrar_host": c["user_host[1]"],
            "registrar_port": rest.partition(";")[0],
        }

    def is_form(self, screen):
        return screen.tag == "SnomIPPhoneInput"

    def fields(self, screen) -> dict[str, str]:
        """What the user types into each input, by what they read above it ('Extension:' ->
        'extension', 'PIN:' -> 'password': their PIN or password, 'Access code:' -> 'code') -> the
        item's InputToken."""
        assert self.is_form(screen)
        reads = {"pin": "password", "access code": "code"}
        return {
            reads.get(name, name): item.findtext("InputToken")
            for item in screen.iter("InputItem")
            if (name := item.findtext("DisplayName").rstrip(":").lower())
        }

    def form_parameters(self, screen):
        return list(self.fields(screen))

    def submit_url(self, screen, values):
        url = screen.findtext("Url")
        for name, token in self.fields(screen).items():
            url = url.replace(token, values[name])
        return url

    def menu_items(self, screen):
        assert screen.tag == "SnomIPPhoneMenu"
        return {item.findtext("Name"): item.findtext("URL") for item in screen.iter("MenuItem")}

    def apply_reload(self, screen):
        assert screen.findtext("fetch") == REBOOT, "the answer must reboot the phone"
        self.reboots += 1
        self.boot()


EMULATORS = {"snom": SnomPhone}
