"""The SIP account a person's softphone app is given (interfaces.md section 6)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from hotdesk.hotdesking import SERVER_ADDRESS
from hotdesk.models import Address, Tenant, User
from hotdesk.people import login_of
from hotdesk.settings import SettingValues
from hotdesk.softphone.options import PORTS, QR_ADDRESS, QR_OUTBOUND_PROXY, QR_TRANSPORT, SIP_REALM, Transport


class NoServer(ValueError):
    """The tenant has no server address for the account: an admin must set one first."""


@dataclass(frozen=True)
class Account:
    """Everything an app needs to register as the person's extension. `password` is the SIP secret:
    it goes only to an app that proved it may have it (a single-use link, its own device token, or
    the person's account password)."""

    sip_domain: str
    username: str  # the SIP user: the extension number
    auth_name: str
    password: str
    display_name: str
    server: str
    port: int
    transport: Transport
    outbound_proxy: str  # host[:port], or "" for none
    realm: str
    login: str  # what the person signs in to the portal and the app API with
    provisioning_url: str  # the app's own configuration URL ("" until an app holds one)

    @property
    def identity(self) -> str:
        return f"sip:{self.username}@{self.sip_domain}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"transport": self.transport.value, "identity": self.identity}


def account_of(user: User, tenant: Tenant, settings: SettingValues, provisioning_url: str = "") -> Account:
    """The account of `user` (of `tenant`, whose `settings` these are) as the user's QR choices and
    the tenant's settings say now: a changed secret or server reaches an app at its next fetch."""
    extension = user.extension
    address_choice = Address(user.qr_address) if user.qr_address else settings[QR_ADDRESS]
    address = settings[SERVER_ADDRESS[address_choice]]
    if address is None:
        raise NoServer(f"{SERVER_ADDRESS[address_choice].name} is not set: the app would have no server to register to")
    transport = Transport(user.qr_transport) if user.qr_transport else settings[QR_TRANSPORT]
    port = address.port if transport is Transport.UDP and address.port_written else settings[PORTS[transport]]
    sip_domain = tenant.sip_domain or address.host
    return Account(
        sip_domain=sip_domain,
        username=extension.number,
        auth_name=extension.sip_auth_name,
        password=extension.secret,
        display_name=extension.name,
        server=address.host,
        port=port,
        transport=transport,
        outbound_proxy=settings[QR_OUTBOUND_PROXY],
        realm=settings[SIP_REALM] or sip_domain,
        login=login_of(user, tenant.sip_domain),
        provisioning_url=provisioning_url,
    )
