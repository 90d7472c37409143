"""Linphone's remote-provisioning XML (lpconfig.xsd) for a softphone account.

Linphone fetches its `config-uri` at each start and merges the entries into its configuration.
Linphone 5.1 writes an entry only when it has none of that name, unless the entry itself says
`overwrite="true"` (on a section it is ignored, and a section left out is left alone), so every
entry here says it: otherwise a changed secret or server, or a revocation, would change nothing
at the app's next start. Only a 200 with XML is applied; any other answer leaves the app its cached
account, which is why a revoked app is answered a configuration and not an error. The account goes
in proxy_0/auth_info_0, and misc's config-uri points the app at its own device URL from then on
(hotdesk.softphone.links). Found with linphonec 5.1.65 (tests/test_linphone.py).
"""

from __future__ import annotations

from lxml import etree

from hotdesk.softphone.account import Account

NAMESPACE = "http://www.linphone.org/xsds/lpconfig.xsd"
CONTENT_TYPE = "application/xml; charset=utf-8"


def _document(sections: dict[str, dict[str, str]]) -> bytes:
    root = etree.Element("config", nsmap={None: NAMESPACE})
    for name, entries in sections.items():
        section = etree.SubElement(root, "section", name=name)
        for key, value in entries.items():
            entry = etree.SubElement(section, "entry", name=key, overwrite="true")
            entry.text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def account_config(account: Account, config_uri: str) -> bytes:
    """The account, and where the app fetches it again at its next start."""
    # Linphone sends its REGISTER to reg_proxy, whatever reg_route says (linphonec 5.1.65: the route
    # set is replaced by reg_proxy for REGISTER), so an outbound proxy goes in reg_proxy; reg_route
    # sends its other requests (calls, messages) there too. The SIP domain stays in reg_identity.
    transport = account.transport.value
    server = f"<sip:{account.outbound_proxy or f'{account.server}:{account.port}'};transport={transport}>"
    route = f"<sip:{account.outbound_proxy};transport={transport};lr>" if account.outbound_proxy else ""
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
                # The app keeps a digest of the secret it was given, which wins over passwd: emptied,
                # or a changed secret would never take.
                "ha1": "",
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
            "proxy_0": {"reg_sendregister": "0"},
            "auth_info_0": {"passwd": "", "ha1": ""},
            "misc": {"config-uri": config_uri},
        }
    )
