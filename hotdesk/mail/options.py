"""The SMTP settings (interfaces.md section 6), per tenant as every runtime setting."""

from __future__ import annotations

import email.policy
import enum
import re

from hotdesk.settings import SettingError, SettingSpec, check_choice


class Security(enum.StrEnum):
    NONE = "none"  # plain SMTP: for a relay on the same host or LAN; never with credentials
    STARTTLS = "starttls"  # plain, then TLS before anything is sent (refused if the server does not offer it)
    SSL = "ssl"  # TLS from the first byte (SMTPS, port 465)


USUAL_PORTS = {Security.NONE: 25, Security.STARTTLS: 587, Security.SSL: 465}

_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$")


def check_host(value: str) -> str:
    value = value.strip()
    if value and not _HOST.match(value):
        raise SettingError(f"{value!r} is not a host name or IP address (the port is smtp_port), or empty")
    return value


def check_optional_port(value: str) -> str:
    value = value.strip()
    if value and (not value.isdigit() or not 0 < int(value) < 65536):
        raise SettingError(f"{value!r} is not a port number (1-65535), or empty for the usual one")
    return str(int(value)) if value else ""


def check_sender(value: str) -> str:
    """`someone@example.com` or `Name <someone@example.com>`, or empty."""
    value = value.strip()
    if not value:
        return value
    problem = f"{value!r} is not a sender address such as hotdesk@example.com or Hotdesk <hotdesk@example.com>"
    if any(not ch.isprintable() for ch in value) or len(value) > 254:
        raise SettingError(problem)
    try:
        header = email.policy.default.header_factory("From", value)
    except (ValueError, IndexError):  # the parser's own slips on some malformed addresses
        raise SettingError(problem) from None
    if header.defects or len(header.addresses) != 1 or not header.addresses[0].domain:
        raise SettingError(problem)
    return value


def check_login(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise SettingError("an SMTP user name: at most 254 printable characters without spaces, or empty")
    return value


def check_secret(value: str) -> str:
    if len(value) > 256 or any(ch in value for ch in "\r\n\x00"):
        raise SettingError("a password of at most 256 characters, on one line")
    return value


def check_ca_file(value: str) -> str:
    value = value.strip()
    if value and not value.startswith("/"):
        raise SettingError(f"{value!r} is not an absolute path to a PEM file of CA certificates, or empty")
    return value


SMTP_HOST = SettingSpec(
    "smtp_host",
    "the SMTP server account mails go through (empty: no mail is sent); when set, a user account created"
    " with an e-mail address is mailed its account information and QR code",
    check=check_host,
    parse=str,
)
SMTP_PORT = SettingSpec(
    "smtp_port",
    "the SMTP server's port (empty: the usual one for smtp_security: 25, 587 for starttls, 465 for ssl)",
    check=check_optional_port,
    parse=lambda value: int(value) if value else 0,
)
SMTP_SECURITY = SettingSpec(
    "smtp_security",
    "none, starttls (TLS before anything is sent; refused if the server does not offer it) or ssl (SMTPS);"
    " the server's certificate is verified",
    lambda: "starttls",
    check_choice(Security),
    parse=Security,
)
SMTP_USERNAME = SettingSpec(
    "smtp_username", "user name for the SMTP server (empty: send without signing in)", check=check_login, parse=str
)
SMTP_PASSWORD = SettingSpec("smtp_password", "password for the SMTP server", check=check_secret, secret=True, parse=str)
SMTP_FROM = SettingSpec(
    "smtp_from",
    "the mails' sender, e.g. Hotdesk <hotdesk@example.com> (empty: smtp_username if it is an address,"
    " else hotdesk@<smtp_host>)",
    check=check_sender,
    parse=str,
)
SMTP_CA_FILE = SettingSpec(
    "smtp_ca_file",
    "a PEM file of the CA certificates that sign the SMTP server's (empty: the system's); a system admin's",
    check=check_ca_file,
    parse=str,
)

SETTINGS = (SMTP_HOST, SMTP_PORT, SMTP_SECURITY, SMTP_USERNAME, SMTP_PASSWORD, SMTP_FROM, SMTP_CA_FILE)
