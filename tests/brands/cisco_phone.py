"""Emulated Cisco phones: SPA/3PCC (flat profile, programmable softkeys) and enterprise SIP firmware
(SEP<MAC>.cnf.xml, service-URL line buttons).

Both XML browsers speak the CiscoIPPhone objects and submit a CiscoIPPhoneInput as a GET of
`URL?param=value&...`. Every screen they receive is parsed strictly and validated against Cisco's
schema (tests/schemas/CiscoIpPhoneServices.xsd), with the one difference its README documents.
"""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path

from lxml import etree

from tests.phones import GetFormBrowser, parse_xml

XSD = Path(__file__).parent.parent / "schemas" / "CiscoIpPhoneServices.xsd"
_XS = {"xsd": "http://www.w3.org/2001/XMLSchema"}


@cache
def cisco_schema(strict: bool = False) -> etree.XMLSchema:
    """The CUAE schema. It is an older revision that orders InputItem children DisplayName,
    QueryStringParam, InputFlags, DefaultValue; Cisco's own samples and the phones put DefaultValue
    before InputFlags (phones.md §1.3), so unless `strict` the lint expects that order."""
    document = etree.parse(str(XSD))
    if not strict:
        [sequence] = document.xpath("//xsd:complexType[@name='CiscoIPPhoneInputItemType']/xsd:sequence", namespaces=_XS)
        flags = sequence.find("xsd:element[@name='InputFlags']", _XS)
        default = sequence.find("xsd:element[@name='DefaultValue']", _XS)
        flags.addprevious(default)
    return etree.XMLSchema(document)


def parse_cisco_object(body: bytes) -> etree._Element:
    screen = parse_xml(body)
    cisco_schema().assertValid(screen)
    return screen


class CiscoBrowser(GetFormBrowser):
    """What both Cisco XML browsers share."""

    form_tag, field_tag, parameter_tag = "CiscoIPPhoneInput", "InputItem", "QueryStringParam"
    menu_tag, item_label, item_url = "CiscoIPPhoneMenu", "Name", "URL"

    def parse_screen(self, body):
        return parse_cisco_object(body)


def parse_flat_profile(body: bytes) -> dict[str, str]:
    root = parse_xml(body)
    assert root.tag == "flat-profile"
    return {element.tag: element.text or "" for element in root if isinstance(element.tag, str)}


_PROFILE_RULE = re.compile(r"^\[(?P<options>[^\]]*)\](?P<url>\S+)$")


def parse_profile_rule(rule: str, mac: str) -> dict[str, str]:
    """`[--uid "U" --pwd "P"]http://host/$MA.xml` as the firmware reads it: its options and its URL,
    `$MA` expanded to the phone's MAC."""
    match = _PROFILE_RULE.match(rule)
    assert match, rule
    words = shlex.split(match["options"])
    options = {name.removeprefix("--"): value for name, value in zip(words[::2], words[1::2], strict=True)}
    return options | {"url": match["url"].replace("$MA", mac)}


class CiscoSpaPhone(CiscoBrowser):
    """SPA5xx (and, with a 3PCC User-Agent, CP-68xx/78xx/88xx-3PCC): spa<PSN>.cfg, then <mac>.xml."""

    brand = "cisco_spa"
    notify_event = "resync"
    # Profile_Rule_B fetches <mac>.xml; the firmware authenticates with the rule's uid and pwd options.
    credential_settings = ("Profile_Rule_B.uid", "Profile_Rule_B.pwd")

    def __init__(self, client, mac: str, *, user_agent: str | None = None, common_file="spa504G.cfg", **kwargs):
        super().__init__(client, mac, **kwargs)
        self.user_agent = user_agent or f"Cisco/SPA504G-7.6.2 ({mac.upper()})(CBT153702KX)"
        self.common_file = common_file  # the default profile rule: /spa$PSN.cfg (SPA), /$PSN.xml (3PCC)

    def provisioning_files(self):
        return [self.common_file, f"{self.mac}.xml"]

    def read_config(self, files):
        config = {}
        for body in files.values():
            config |= parse_flat_profile(body)
        if config.get("Profile_Rule_B"):
            rule = parse_profile_rule(config["Profile_Rule_B"], self.mac)
            config |= {f"Profile_Rule_B.{name}": value for name, value in rule.items()}
        return config

    def keys(self):
        if self.config.get("Programmable_Softkey_Enable") != "Yes":
            return {}
        keys = {}
        for entry in self.config.get("Idle_Key_List", "").split(";"):
            name = entry.split("|")[0]
            if name.startswith("psk"):
                fields = dict(part.split("=", 1) for part in self.config[f"PSK_{name[3:]}"].split(";"))
                if fields["fnc"] == "xml":
                    keys[fields["nme"]] = fields["url"]
        return keys

    def line(self):
        c = self.config
        if c.get("Line_Enable_1_") != "Yes":
            return None
        host, port = c["Proxy_1_"].rsplit(":", 1)
        return {
            "user_name": c["User_ID_1_"],
            "auth_name": c["Auth_ID_1_"] if c.get("Use_Auth_ID_1_") == "Yes" else c["User_ID_1_"],
            "secret": c["Password_1_"],
            "display_name": c["Display_Name_1_"],
            "registrar_host": host,
            "registrar_port": port,
        }


class CiscoSipPhone(CiscoBrowser):
    """Enterprise SIP firmware (78xx/88xx): SEP<MAC>.cnf.xml; the XML browser names its model, not its MAC."""

    brand = "cisco_sip"
    notify_event = "service-control"
    browser_user_agent = "Allegro-Software-WebClient/5.2"

    def __init__(self, client, mac: str, *, model="CP-8851", firmware="14.2.1", **kwargs):
        super().__init__(client, mac, **kwargs)
        self.model = model
        self.user_agent = f"Cisco-{model.replace('-', '')}/{firmware}"

    def get(self, url, *, browser=False, **kwargs):
        if not browser:
            return super().get(url, **kwargs)
        headers = {
            "User-Agent": self.browser_user_agent,
            "Accept": "x-CiscoIPPhone/*, text/*,image/png,*/*",
            "x-CiscoIPPhoneModelName": self.model,
            "x-CiscoIPPhoneDisplay": "800,480,24,C",
        }
        return self.client.get(url, headers=headers, environ_base={"REMOTE_ADDR": self.ip}, **kwargs)

    def provisioning_files(self):
        return [f"SEP{self.mac.upper()}.cnf.xml"]

    def read_config(self, files):
        [body] = files.values()
        device = parse_xml(body)
        assert device.tag == "device"
        config = {
            "processNodeName": device.findtext("devicePool/callManagerGroup/members/member/callManager/processNodeName")
            or "",
            "sipPort": device.findtext("devicePool/callManagerGroup/members/member/callManager/ports/sipPort") or "",
        }
        for line in device.iterfind("sipProfile/sipLines/line"):
            config |= {f"line.{line.get('button')}.{child.tag}": child.text or "" for child in line}
        return config

    def _buttons(self, feature: str) -> list[str]:
        return [
            name[: -len(".featureID")]
            for name, value in self.config.items()
            if name.endswith(".featureID") and value == feature
        ]

    def keys(self):
        return {self.config[f"{b}.featureLabel"]: self.config[f"{b}.serviceURI"] for b in self._buttons("20")}

    def line(self):
        lines = self._buttons("9")
        if not lines:
            return None
        c, prefix = self.config, lines[0]
        return {
            "user_name": c[f"{prefix}.name"],
            "auth_name": c[f"{prefix}.authName"],
            "secret": c[f"{prefix}.authPassword"],
            "display_name": c[f"{prefix}.displayName"],
            "registrar_host": c["processNodeName"],
            "registrar_port": c["sipPort"],
        }


EMULATORS = {"cisco_spa": CiscoSpaPhone, "cisco_sip": CiscoSipPhone}
