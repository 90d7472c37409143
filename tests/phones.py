"""Emulated desk phones: they fetch what a real one fetches and follow the URLs the server wrote."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

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


def parse_cfg(body: bytes) -> dict[str, str]:
    """A Yealink key = value file; comments and blank lines skipped."""
    settings = {}
    for line in body.decode("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a key = value line: {line!r}"
        settings[key.strip()] = value.strip()
    return settings


class YealinkPhone:
    def __init__(self, client, mac: str, *, model="T46S", firmware="66.86.0.15", ip="10.20.0.31", credentials=None):
        from tests.conftest import PROVISIONING

        self.client, self.mac, self.ip = client, mac, ip
        self.user_agent = f"Yealink SIP-{model} {firmware} {':'.join(mac[i:i + 2] for i in range(0, 12, 2))}"
        self.credentials = credentials or PROVISIONING
        self.config: dict[str, str] = {}

    def get(self, url: str, **kwargs):
        return self.client.get(url, headers={"User-Agent": self.user_agent}, environ_base={"REMOTE_ADDR": self.ip}, **kwargs)

    def fetch(self, filename: str):
        return self.get(f"/provision/{filename}", auth=self.credentials)

    def boot(self) -> dict[str, str]:
        """Fetch the common file and the phone's own file, as the firmware does at start."""
        common = self.fetch("y000000000066.cfg")
        assert common.status_code == 200, common.data
        response = self.fetch(f"{self.mac}.cfg")
        assert response.status_code == 200, response.data
        assert response.content_type.startswith("text/plain")
        assert response.data.startswith(b"#!version:1.0.0.1\n")
        self.config = parse_cfg(response.data)
        return self.config

    def keys(self) -> dict[str, str]:
        """Label -> URL of the XML-browser (type 27) soft keys in the current config."""
        keys = {}
        for name, value in self.config.items():
            if name.startswith("programablekey.") and name.endswith(".type") and value == "27":
                prefix = name[: -len(".type")]
                keys[self.config[f"{prefix}.label"]] = self.config[f"{prefix}.value"]
        return keys

    def open(self, url: str) -> etree._Element:
        response = self.get(url)
        assert response.content_type == "text/xml; charset=utf-8", response.content_type
        assert len(response.data) <= 10_000, "Yealink XML objects are limited to 10,000 bytes"
        self.last_response = response
        return parse_xml(response.data)

    def press(self, label: str) -> etree._Element:
        return self.open(self.keys()[label])

    def submit(self, screen: etree._Element, **values: str) -> etree._Element:
        """Fill an input screen and submit it the way the firmware does: GET URL?param=value&..."""
        assert screen.tag == "YealinkIPPhoneInputScreen"
        parameters = [field.findtext("Parameter") for field in screen.iter("InputField")]
        assert set(values) <= set(parameters), (values, parameters)
        url = screen.findtext("URL")
        separator = "&" if urlsplit(url).query else "?"
        return self.open(url + separator + urlencode({name: values.get(name, "") for name in parameters}))

    def choose(self, menu: etree._Element, prompt: str) -> etree._Element:
        assert menu.tag == "YealinkIPPhoneTextMenu"
        for item in menu.iter("MenuItem"):
            if item.findtext("Prompt") == prompt:
                return self.open(item.findtext("URI"))
        raise AssertionError(f"no menu item {prompt!r}")

    def login(self, extension: str, password: str, key: str = "External") -> etree._Element:
        self.boot()
        return self.submit(self.press(key), extension=extension, password=password)
