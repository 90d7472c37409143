"""The settings of a softphone account: which server address, transport and ports an app is given
(interfaces.md section 6). Per tenant, as every runtime setting; a user may choose their own
transport and address (models.User.qr_transport, qr_address)."""

from __future__ import annotations

import enum
from collections.abc import Callable

from hotdesk.models import Address
from hotdesk.settings import SettingError, SettingSpec, check_address, check_choice, check_port


class Transport(enum.StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"


def check_whole(low: int, high: int, unit: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        value = value.strip()
        if not value.isdigit() or not low <= int(value) <= high:
            raise SettingError(f"{value!r} is not a number of {unit} from {low} to {high}")
        return str(int(value))

    return check


QR_TOKEN_MINUTES = SettingSpec(
    "qr_token_minutes",
    "how long a QR code shown on a screen signs an app in (it also stops at its first use or a refresh)",
    lambda: "15",
    check_whole(1, 1440, "minutes"),
    parse=int,
)
QR_MAIL_TOKEN_HOURS = SettingSpec(
    "qr_mail_token_hours",
    "how long the QR code of an account mail signs an app in (it also stops at its first use or a refresh)",
    lambda: "72",
    check_whole(1, 720, "hours"),
    parse=int,
)
QR_TRANSPORT = SettingSpec(
    "qr_transport",
    "the transport an app is told to register with: udp, tcp or tls (a user may choose their own)",
    lambda: "udp",
    check_choice(Transport),
    parse=Transport,
)
QR_ADDRESS = SettingSpec(
    "qr_address",
    "which server address an app is given: external (external_address) or internal (internal_address)",
    lambda: "external",
    check_choice(Address),
    parse=Address,
)
QR_OUTBOUND_PROXY = SettingSpec(
    "qr_outbound_proxy",
    "host[:port] an app sends all its SIP through (an SBC), or empty for none",
    check=check_address,
    parse=str,
)
SIP_PORT_UDP = SettingSpec("sip_port_udp", "the PBX's SIP port for UDP", lambda: "5060", check_port, parse=int)
SIP_PORT_TCP = SettingSpec("sip_port_tcp", "the PBX's SIP port for TCP", lambda: "5063", check_port, parse=int)
SIP_PORT_TLS = SettingSpec("sip_port_tls", "the PBX's SIP port for TLS", lambda: "5061", check_port, parse=int)
SIP_PORT_WSS = SettingSpec(
    "sip_port_wss", "the PBX's SIP port for WebSocket (WSS)", lambda: "5065", check_port, parse=int
)
SIP_REALM = SettingSpec(
    "sip_realm",
    "the digest realm the PBX challenges with (empty: the SIP domain; Asterisk's own default is `asterisk`)",
    check=lambda value: value.strip(),
    parse=str,
)

PORTS = {Transport.UDP: SIP_PORT_UDP, Transport.TCP: SIP_PORT_TCP, Transport.TLS: SIP_PORT_TLS}

# Changing one of these changes the account every app is given (at its next start) and every QR not yet used.
ACCOUNT_SETTINGS = (QR_TRANSPORT, QR_ADDRESS, QR_OUTBOUND_PROXY, SIP_PORT_UDP, SIP_PORT_TCP, SIP_PORT_TLS, SIP_REALM)
SETTINGS = (QR_TOKEN_MINUTES, QR_MAIL_TOKEN_HOURS, *ACCOUNT_SETTINGS, SIP_PORT_WSS)
