"""An emulated Fanvil phone: fetches <mac>.cfg (XML) and runs its XML browser, which submits an
input screen Cisco-style, each InputItem's QueryStringParam=value appended to the URL."""

from __future__ import annotations

from tests.phones import GetFormBrowser, parse_xml

XML_KEY = "7"


def parse_fanvil_config(body: bytes) -> dict[str, str]:
    """<VOIP_CONFIG_FILE> as `SIP1.Phone_Number`, `Fkey2.Type`, … (entries by ID) and `MODULE.Setting`."""
    root = parse_xml(body)
    assert root.tag == "VOIP_CONFIG_FILE", root.tag
    config = {}
    for module in root:
        for setting in module:
            if len(setting):
                for entry in setting:
                    prefix = entry.findtext("ID")
                    config |= {f"{prefix}.{field.tag}": field.text or "" for field in entry if field.tag != "ID"}
            else:
                config[f"{module.tag}.{setting.tag}"] = setting.text or ""
    return config


class FanvilPhone(GetFormBrowser):
    form_tag, field_tag, parameter_tag = "FanvilIPPhoneInputScreen", "InputItem", "QueryStringParam"
    menu_tag = "FanvilIPPhoneMenu"
    brand = "fanvil"
    notify_event = "check-sync"
    credential_settings = ("AUTOUPDATE_CONFIG_MODULE.Download_Username", "AUTOUPDATE_CONFIG_MODULE.Download_Password")

    def __init__(self, client, mac: str, *, model="X4", firmware="2.10.2.6887", **kwargs):
        super().__init__(client, mac, **kwargs)
        self.user_agent = f"Fanvil {model} {firmware} {mac}"

    def provisioning_files(self):
        return [f"{self.mac}.cfg"]

    def read_config(self, files):
        config = {}
        for body in files.values():
            config |= parse_fanvil_config(body)
        return config

    def keys(self):
        keys = {}
        for name, value in self.config.items():
            if name.startswith("Fkey") and name.endswith(".Type") and value == XML_KEY:
                key = name.removesuffix(".Type")
                keys[self.config[f"{key}.Title"]] = self.config[f"{key}.Value"]
        return keys

    def line(self):
        c = self.config
        if c.get("SIP1.Enable_Reg") != "1":
            return None
        return {
            "user_name": c["SIP1.Phone_Number"],
            "auth_name": c["SIP1.Register_User"],
            "secret": c["SIP1.Register_Pswd"],
            "display_name": c["SIP1.Display_Name"],
            "registrar_host": c["SIP1.Register_Addr"],
            "registrar_port": c["SIP1.Register_Port"],
        }


EMULATORS = {"fanvil": FanvilPhone}
