"""Linphone's remote-provisioning XML (lpconfig.xsd) for a softphone account.

Linphone fetches its `config-uri` at each start and merges the sections into its configuration;
`overwrite="true"` replaces what it had. The account goes in proxy_0/auth_info_0, and misc's
config-uri points the app at its own device URL from then on (hotdesk.softphone.links).
"""

from __future__ import annotations

from lxml import etree

from hotdesk.softphone.account import Account

NAMESPACE = "http://www.linphone.org/xsds/lpconfig.xsd"
CONTENT_TYPE = "application/xml; charset=utf-8"


def _document(sections: dict[str, dict[str, str]]) -> bytes:
    root = etree.Element("config", nsmap={None: NAMESPACE})
    for name, entries in sections.items():
        section = etree.SubElement(root, "section", name=name, overwrite="true")
        for key, value in entries.items():
            entry = etree.SubElement(section, "entry", name=key, overwrite="true")
            entry.text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _sip_uri(host_port: str, transport: str) -> str:
    return f"<sip:{host_port};transport={transport}>"


def account_config(account: Account, config_uri: str) -> bytes:
    """The account, and where the app fetches it again at its next start."""
    server = _sip_uri(f"{account.server}:{account.port}", account.transport.value)
    route = _sip_uri(account.outbound_proxy, account.transport.value) if account.outbound_proxy else ""
    quoted = account.display_name.replace("\\", "\\\\").replace('"', '\\"')
    identity = f'"{quoted}" <{account.identity}>' if account.display_name else f"<{account.identity}>"
    return _document(
        {
            "sip": {"default_proxy": "0"},
            "proxy_0": {
                "reg_proxy": server,
                "reg_route": route,
                "reg_identity": identity,
                "realm": account.realm,
                "reg_expires": "3600",
                "reg_sendregister": "1",
                "publish": "0",
            },
            "auth_info_0": {
                "username": account.username,
                "userid": account.auth_name,
                "passwd": account.password,
                "realm": account.realm,
                "domain": account.sip_domain,
            },
            "misc": {"config-uri": config_uri},
        }
    )


def stop_config(config_uri: str) -> bytes:
    """What a revoked app is answered: the account's registration and password taken away (an
    error would leave it registering with the account it cached)."""
    return _document(
        {
            "proxy_0": {"reg_sendregister": "0", "reg_identity": "", "reg_proxy": ""},
            "auth_info_0": {"username": "", "userid": "", "passwd": "", "ha1": ""},
            "misc": {"config-uri": config_uri},
        }
    )
