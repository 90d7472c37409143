"""An emulated Aastra/Mitel phone: fetches aastra.cfg, <model>.cfg and <MAC>.cfg, and runs its XML browser.

Every XML answer is checked against tests/schemas/aastra.xsd. An AastraIPPhoneExecute runs the
way the firmware runs it: each item in order, fetching URLs (a Configuration object is applied
at once, a screen is shown), a `Command: FastReboot`/`Reset` restarts the phone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from tests.phones import GetFormBrowser, parse_key_values, parse_xml

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "schemas" / "aastra.xsd")))
RESTARTS = ("Command: FastReboot", "Command: Reset")


def parse_aastra_config(body: bytes) -> dict[str, str]:
    return parse_key_values(body, ":")


@dataclass
class Run:
    """What one Execute object made the phone do."""

    pushed: list[tuple[str, str]] = field(default_factory=list)  # Configuration items applied, in order
    shown: list = field(default_factory=list)  # screens displayed
    restart: str | None = None


class AastraPhone(GetFormBrowser):
    form_tag, menu_tag = "AastraIPPhoneInputScreen", "AastraIPPhoneTextMenu"
    brand = "aastra"
    reloads_by = "answer"
    notify_event = "check-sync"
    screen_content_type = "text/xml; charset=ISO-8859-1"

    def __init__(self, client, mac: str, *, model="6739i", firmware="3.2.1.1013", vendor="Aastra", **kwargs):
        super().__init__(client, mac, **kwargs)
        self.model = model
        dashed = "-".join(mac[i : i + 2] for i in range(0, 12, 2)).upper()
        self.user_agent = f"{vendor}{model} MAC:{dashed} V:{firmware}-SIP"
        self.runs: dict[etree._Element, Run] = {}

    def provisioning_files(self):
        return ["aastra.cfg", f"{self.model}.cfg", f"{self.mac.upper()}.cfg"]

    def read_config(self, files):
        config = {}
        for body in files.values():
            config |= parse_aastra_config(body)
        return config

    def keys(self):
        keys = {}
        for name, value in self.config.items():
            if name.endswith(" type") and value == "xml":
                key = name[: -len(" type")]
                keys[self.config[f"{key} label"]] = self.config[f"{key} value"]
        return keys

    def line(self):
        c = self.config
        if not c.get("sip line1 user name"):
            return None
        assert (c["sip line1 proxy ip"], c["sip line1 proxy port"]) == (
            c["sip line1 registrar ip"],
            c["sip line1 registrar port"],
        )
        return {
            "user_name": c["sip line1 user name"],
            "auth_name": c["sip line1 auth name"],
            "secret": c["sip line1 password"],
            "display_name": c["sip line1 display name"],
            "registrar_host": c["sip line1 registrar ip"],
            "registrar_port": c["sip line1 registrar port"],
        }

    def parse_screen(self, body: bytes):
        screen = parse_xml(body)
        SCHEMA.assertValid(screen)
        return screen

    def text(self, screen):
        if screen.tag == "AastraIPPhoneExecute":
            return " ".join(super(AastraPhone, self).text(shown) for shown in self.execute(screen).shown)
        return super().text(screen)

    def execute(self, execute) -> Run:
        """Run an Execute object once, as the firmware does on receiving it."""
        if execute not in self.runs:
            run = self.runs[execute] = Run()
            for item in execute.iter("ExecuteItem"):
                uri = item.get("URI")
                if uri in RESTARTS:
                    run.restart = uri
                    break  # the phone is gone: nothing after this runs
                if not uri:
                    continue
                assert uri.startswith(("http://", "https://")), uri
                answer = self.open(uri)
                if answer.tag == "AastraIPPhoneConfiguration":
                    items = [
                        (i.findtext("Parameter"), i.findtext("Value") or "") for i in answer.iter("ConfigurationItem")
                    ]
                    run.pushed += items
                    self.config |= dict(items)
                elif answer.tag == "AastraIPPhoneExecute":
                    nested = self.execute(answer)
                    run.pushed += nested.pushed
                    run.shown += nested.shown
                else:
                    run.shown.append(answer)
        return self.runs[execute]

    def apply_reload(self, answer):
        """The answer to a login/logout: the phone takes its new configuration live, or restarts for it."""
        assert answer.tag == "AastraIPPhoneExecute", answer.tag
        run = self.execute(answer)
        if run.restart:
            assert not run.pushed
            self.boot()
            return
        device_file = self.fetch(f"{self.mac.upper()}.cfg")
        assert run.pushed == list(parse_aastra_config(device_file.data).items()), (
            "pushed settings differ from the device file"
        )
        if self.line():
            assert self.config["sip line1 password"] and list(self.keys()) == ["Logout"]
        else:
            assert self.config["sip line1 password"] == "" and list(self.keys()) == ["External", "Internal"]


EMULATORS = {"aastra": AastraPhone}
