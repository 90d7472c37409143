"""An emulated Grandstream GXP21xx: cfg<mac>.xml P-values; `<Screen>` XML application pages."""

from __future__ import annotations

from tests.phones import Phone, append_query, parse_xml

XML_APP_MODE = "XMLApp"  # what the stock template writes; UNCERTAIN, see hotdesk/brands/grandstream.py
MPK_BASE = 23000


class GrandstreamPhone(Phone):
    brand = "grandstream"
    notify_event = "check-sync"
    credential_settings = ("P1360", "P1361")  # Config HTTP/HTTPS User Name, Password

    def __init__(self, client, mac: str, *, model="GXP2170", firmware="1.0.11.3", **kwargs):
        super().__init__(client, mac, **kwargs)
        self.user_agent = f"Grandstream Model HW {model} SW {firmware} DevId {mac}"

    def provisioning_files(self):
        return [f"cfg{self.mac}.xml"]

    def read_config(self, files):
        root = parse_xml(files[f"cfg{self.mac}.xml"])
        assert root.tag == "gs_provision" and root.get("version") == "1"
        [config] = root.findall("config")
        return {element.tag: element.text or "" for element in config}

    def keys(self):
        c, keys = self.config, {}
        for index in range(10):
            p = MPK_BASE + 5 * index
            if c.get(f"P{p}") == XML_APP_MODE:
                keys[c[f"P{p + 2}"]] = c[f"P{p + 3}"]
        return keys

    def line(self):
        c = self.config
        if c.get("P271") != "1":
            return None
        host, _, port = c["P47"].rpartition(":")
        return {
            "user_name": c["P35"],
            "auth_name": c["P36"],
            "secret": c["P34"],
            "display_name": c["P3"],
            "registrar_host": host.strip("[]"),
            "registrar_port": port,
        }

    def parse_screen(self, body):
        screen = parse_xml(body)
        assert screen.tag == "Screen" and screen.find("Page/Contents") is not None
        return screen

    def _softkeys(self, screen, action):
        return [key for key in screen.iterfind("Page/SoftKeys/SoftKey") if key.get("action") == action]

    def is_form(self, screen):
        return screen.find("Page/Contents/input") is not None

    def form_parameters(self, screen):
        assert self.is_form(screen)
        return [field.get("name") for field in screen.iterfind("Page/Contents/input")]

    def submit_url(self, screen, values):
        # AppendInputURL: the key's commandArgs with every input appended as name=value.
        [submit] = self._softkeys(screen, "AppendInputURL")
        return append_query(submit.get("commandArgs"), values)

    def menu_items(self, screen):
        return {key.get("label"): key.get("commandArgs") for key in self._softkeys(screen, "UseURL")}

    def text(self, screen):
        return " ".join(s.text for s in screen.iterfind("Page/Contents/DisplayString/DisplayStr") if s.text)

    def input_types(self, screen):
        return {field.get("name"): field.get("type") for field in screen.iterfind("Page/Contents/input")}


EMULATORS = {"grandstream": GrandstreamPhone}
