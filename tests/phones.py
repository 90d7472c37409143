"""Emulated desk phones: they fetch what a real one fetches and follow the URLs the server wrote.

`Phone` holds what every brand's emulator shares; a brand's emulator (YealinkPhone here, the
others in tests/brands/) says which files its firmware fetches, how to read its configuration,
and how its XML browser shows and submits screens. tests/test_every_brand.py runs the same
login -> reload -> logout story on each.
"""

from __future__ import annotations

from urllib.parse import urlencode, urljoin, urlsplit

from lxml import etree


class RecordingNotifier:
    """Stands in for the NOTIFY sender where a test only needs to know what would be sent."""

    def __init__(self):
        self.sent = []

    def submit(self, request):
        self.sent.append(request)

    def shutdown(self, wait=True):
        pass


def parse_xml(body: bytes) -> etree._Element:
    """Strict parse: malformed XML fails the test."""
    return etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True, recover=False))


def parse_key_values(body: bytes, separator: str = "=") -> dict[str, str]:
    """A `key = value` (or `key: value`) file; comments and blank lines skipped."""
    settings = {}
    for raw in body.decode("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(separator)
        assert sep, f"not a key{separator}value line: {line!r}"
        settings[key.strip()] = value.strip()
    return settings


parse_cfg = parse_key_values


class Phone:
    """One emulated phone of some brand, talking to the app through a Flask test client."""

    brand: str
    screen_content_type = "text/xml; charset=utf-8"
    max_screen_bytes: int | None = None

    def __init__(self, client, mac: str, *, ip="10.20.0.31", credentials=None, provisioning_path=None):
        """`provisioning_path`: fetch under /provision/t/<path>/ without HTTP credentials, as a reverse
        proxy hands a Cisco enterprise phone's fetches from port 6970 to its tenant's path."""
        from tests.conftest import PROVISIONING

        self.client, self.mac, self.ip = client, mac, ip
        self.credentials = credentials or PROVISIONING
        self.provisioning_path = provisioning_path
        self.config: dict[str, str] = {}
        self.files: dict[str, bytes] = {}

    # What a brand's emulator provides.

    user_agent: str
    browser_user_agent: str | None = None  # the XML browser's, if it differs from the provisioning client's

    credential_settings: tuple[str, str] | None = None  # config settings that hand the phone its own credentials

    def provisioning_files(self) -> list[str]:
        raise NotImplementedError

    def read_config(self, files: dict[str, bytes]) -> dict[str, str]:
        """Flatten the fetched files into one setting -> value dict."""
        raise NotImplementedError

    def keys(self) -> dict[str, str]:
        """Label -> URL of the keys that open the XML app."""
        raise NotImplementedError

    def line(self) -> dict[str, str] | None:
        """The first SIP line as the phone would register it, or None when the line is off."""
        raise NotImplementedError

    def form_parameters(self, screen) -> list[str]:
        raise NotImplementedError

    def submit_url(self, screen, values: dict[str, str]) -> str:
        raise NotImplementedError

    def menu_items(self, screen) -> dict[str, str]:
        raise NotImplementedError

    def text(self, screen) -> str:
        """Everything a user reads on the screen."""
        return " ".join(t.strip() for t in screen.itertext() if t.strip())

    def is_form(self, screen) -> bool:
        raise NotImplementedError

    def apply_reload(self, screen) -> None:
        """Do what the answer to a login/logout tells the phone to do (follow chains, etc.)."""

    # Shared behaviour.

    def get(self, url: str, *, browser: bool = False, **kwargs):
        agent = (self.browser_user_agent or self.user_agent) if browser else self.user_agent
        return self.client.get(url, headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": self.ip}, **kwargs)

    def fetch(self, filename: str):
        if self.provisioning_path is not None:
            return self.get(f"/provision/t/{self.provisioning_path}/{filename}")
        return self.get(f"/provision/{filename}", auth=self.credentials)

    def boot(self) -> dict[str, str]:
        """Fetch the files the firmware fetches at start, in its order."""
        self.files = {}
        for name in self.provisioning_files():
            response = self.fetch(name)
            assert response.status_code == 200, (name, response.status_code, response.data[:300])
            self.files[name] = response.data
        self.config = self.read_config(self.files)
        if self.credential_settings and self.credential_settings[0] in self.config:
            # Like the firmware: keep the credentials the server issued and use them from now on.
            user, password = (self.config[name] for name in self.credential_settings)
            self.credentials = (user, password)
        return self.config

    def open(self, url: str):
        response = self.get(url, browser=True)
        assert response.content_type == self.screen_content_type, response.content_type
        if self.max_screen_bytes:
            assert len(response.data) <= self.max_screen_bytes, (
                f"{self.brand} objects are limited to {self.max_screen_bytes} bytes"
            )
        self.last_response = response
        return self.parse_screen(response.data)

    def parse_screen(self, body: bytes):
        return parse_xml(body)

    def press(self, label: str):
        return self.open(self.keys()[label])

    def submit(self, screen, **values: str):
        parameters = self.form_parameters(screen)
        assert set(values) <= set(parameters), (values, parameters)
        return self.open(self.submit_url(screen, {name: values.get(name, "") for name in parameters}))

    def choose(self, menu, label: str):
        return self.open(self.menu_items(menu)[label])

    def login(self, extension: str, password: str, key: str = "External"):
        self.boot()
        return self.submit(self.press(key), extension=extension, password=password)


def append_query(url: str, values: dict[str, str]) -> str:
    """How Aastra-family browsers submit: the parameters appended to the URL as a GET query."""
    return url + ("&" if urlsplit(url).query else "?") + urlencode(values)


class GetFormBrowser(Phone):
    """The XML browsers that submit a form as `URL?name=value&...` (Aastra family, Cisco, Fanvil):
    a brand names its elements and inherits the rest."""

    form_tag: str
    field_tag = "InputField"
    parameter_tag = "Parameter"
    menu_tag: str
    item_label = "Prompt"
    item_url = "URI"

    def is_form(self, screen):
        return screen.tag == self.form_tag

    def form_parameters(self, screen):
        assert self.is_form(screen)
        return [field.findtext(self.parameter_tag) for field in screen.iter(self.field_tag)]

    def submit_url(self, screen, values):
        return append_query(screen.findtext("URL"), values)

    def menu_items(self, screen):
        assert screen.tag == self.menu_tag
        return {item.findtext(self.item_label): item.findtext(self.item_url) for item in screen.iter("MenuItem")}


class YealinkPhone(GetFormBrowser):
    brand = "yealink"
    form_tag, menu_tag = "YealinkIPPhoneInputScreen", "YealinkIPPhoneTextMenu"
    max_screen_bytes = 10_000
    credential_settings = ("static.auto_provision.server.username", "static.auto_provision.server.password")
    notify_event = "check-sync;reboot=true"

    def __init__(self, client, mac: str, *, model="T46S", firmware="66.86.0.15", **kwargs):
        super().__init__(client, mac, **kwargs)
        self.user_agent = f"Yealink SIP-{model} {firmware} {':'.join(mac[i : i + 2] for i in range(0, 12, 2))}"
        self.family = firmware.split(".")[0]
        self.server_url = "/provision/"

    def provisioning_files(self):
        return [f"y{int(self.family):012d}.cfg", f"{self.mac}.cfg"]

    def fetch(self, filename):
        return self.get(urljoin(self.server_url, filename), auth=self.credentials)

    def boot(self):
        config = super().boot()
        # Like the firmware: the next provisioning goes to the server URL the files named.
        self.server_url = config.get("static.auto_provision.server.url", self.server_url)
        return config

    def read_config(self, files):
        config = {}
        for name, body in files.items():
            assert body.startswith(b"#!version:1.0.0.1\n"), name
            config |= parse_key_values(body)
        return config

    def keys(self):
        keys = {}
        for name, value in self.config.items():
            if name.startswith("programablekey.") and name.endswith(".type") and value == "27":
                prefix = name[: -len(".type")]
                keys[self.config[f"{prefix}.label"]] = self.config[f"{prefix}.value"]
        return keys

    def line(self):
        c = self.config
        if c.get("account.1.enable") != "1":
            return None
        return {
            "user_name": c["account.1.user_name"],
            "auth_name": c["account.1.auth_name"],
            "secret": c["account.1.password"],
            "display_name": c["account.1.display_name"],
            "registrar_host": c["account.1.sip_server.1.address"],
            "registrar_port": c["account.1.sip_server.1.port"],
        }
