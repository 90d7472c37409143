"""An emulated Polycom VVX: master file first, then the files it lists; XHTML microbrowser."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from lxml import etree

from tests.phones import Phone, parse_xml

XHTML = "{http://www.w3.org/1999/xhtml}"


def parse_xhtml(body: bytes) -> etree._Element:
    """The microbrowser page must be well-formed XHTML: strict XML parse, XHTML root."""
    page = parse_xml(body)
    assert page.tag == f"{XHTML}html", page.tag
    return page


class PolycomPhone(Phone):
    brand = "polycom"
    screen_content_type = "text/html; charset=utf-8"
    notify_event = "check-sync"
    # UNCERTAIN what the microbrowser sends; deliberately not the provisioning client's string,
    # so the tests show the app relies on the device token alone.
    browser_user_agent = "Mozilla/4.0 (compatible; Polycom microbrowser stand-in)"

    credential_settings = ("device.prov.user", "device.prov.password")

    def __init__(self, client, mac: str, *, model="VVX_400", family="VVX", firmware="4.1.4.7430", **kwargs):
        super().__init__(client, mac, **kwargs)
        self.user_agent = f"FileTransport Polycom{family}-{model}-UA/{firmware} Type/Application"

    def provisioning_files(self):
        # Like the firmware: the master first, then (once it is fetched) the files it lists, in order.
        master = f"{self.mac}.cfg"
        yield master
        application = parse_xml(self.files[master])
        assert application.tag == "APPLICATION"
        for name in application.get("CONFIG_FILES", "").split(","):
            if name.strip():
                yield name.strip().replace("[PHONE_MAC_ADDRESS]", self.mac)

    def read_config(self, files):
        config = {}
        for name, body in list(files.items())[1:]:
            root = parse_xml(body)
            assert root.tag == "polycomConfig", name
            for element in root.iter():
                for parameter, value in element.attrib.items():
                    config.setdefault(parameter, value)  # the first file listed wins
        return config

    def keys(self):
        c, keys = self.config, {}
        for index in range(1, 10):
            prefix = f"softkey.{index}"
            if c.get(f"{prefix}.enable") == "1" and c.get(f"{prefix}.use.idle") == "1":
                keys[c[f"{prefix}.label"]] = c[f"{prefix}.action"]
        return keys

    def line(self):
        c = self.config
        if not c.get("reg.1.address"):
            return None
        return {
            "user_name": c["reg.1.address"],
            "auth_name": c["reg.1.auth.userId"],
            "secret": c["reg.1.auth.password"],
            "display_name": c["reg.1.displayName"],
            "registrar_host": c["reg.1.server.1.address"],
            "registrar_port": c["reg.1.server.1.port"],
        }

    def parse_screen(self, body):
        return parse_xhtml(body)

    def is_form(self, screen):
        return screen.find(f".//{XHTML}form") is not None

    def _inputs(self, screen):
        return [i for i in screen.iter(f"{XHTML}input") if i.get("type") != "submit"]

    def form_parameters(self, screen):
        assert self.is_form(screen)
        return [i.get("name") for i in self._inputs(screen)]

    def submit_url(self, screen, values):
        form = screen.find(f".//{XHTML}form")
        assert form.get("method") == "get"
        # HTML GET submission: the form's fields replace the action's query.
        scheme, netloc, path, _, _ = urlsplit(form.get("action"))
        return urlunsplit((scheme, netloc, path, urlencode(values), ""))

    def menu_items(self, screen):
        return {a.text: a.get("href") for a in screen.iter(f"{XHTML}a")}

    def input_types(self, screen):
        return {i.get("name"): i.get("type") for i in self._inputs(screen)}


EMULATORS = {"polycom": PolycomPhone}
