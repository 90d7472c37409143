"""One message through a tenant's SMTP server, with the standard library's smtplib.

TLS verifies the server's certificate (ssl.create_default_context: the system's CAs, or
smtp_ca_file's). STARTTLS that the server does not offer is a failure, never a fallback to plain
text, and credentials are never sent over plain SMTP. A failure is a `MailError` whose text names
the reason in words an admin can act on, without the password (nor anything else the caller hides).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterable, Mapping
from email.message import EmailMessage

from hotdesk.mail.options import (
    SMTP_CA_FILE,
    SMTP_HOST,
    SMTP_PASSWORD,
    SMTP_PORT,
    SMTP_SECURITY,
    SMTP_USERNAME,
    USUAL_PORTS,
    Security,
)
from hotdesk.settings import SettingValues

TIMEOUT = 30.0  # seconds for each network step: a dead server holds a sender thread no longer
REASON_LENGTH = 300


class MailError(Exception):
    """The mail did not go: the reason, fit for the history and the mail list."""


def server_of(settings: SettingValues) -> tuple[str, int, Security]:
    host = settings[SMTP_HOST]
    if not host:
        raise MailError("smtp_host is not set")
    security = settings[SMTP_SECURITY]
    return host, settings[SMTP_PORT] or USUAL_PORTS[security], security


def send(
    message: EmailMessage,
    settings: SettingValues,
    *,
    credentials: tuple[str, str] | None = None,
    hide: Iterable[str] = (),
    timeout: float = TIMEOUT,
) -> None:
    """Send `message` as the tenant's SMTP settings say. `credentials`: (username, password) to sign
    in with, if not the settings' (see `credentials_for`). `hide`: texts (a token) that must not
    appear in a failure's reason, besides the SMTP password."""
    host, port, security = server_of(settings)
    username, password = credentials or (settings[SMTP_USERNAME], settings[SMTP_PASSWORD])
    if username and security is Security.NONE:
        raise MailError(
            "smtp_security is none: smtp_password would cross the network unencrypted (use starttls or ssl)"
        )
    try:
        context = ssl.create_default_context(cafile=settings[SMTP_CA_FILE] or None)
    except (OSError, ssl.SSLError) as error:
        raise MailError(f"smtp_ca_file {settings[SMTP_CA_FILE]!r} could not be read: {_words(error)}") from None
    try:
        if security is Security.SSL:
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if security is Security.STARTTLS:
                client.starttls(context=context)
            if username:
                client.login(username, password)
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as error:  # ssl.SSLError is an OSError
        raise MailError(_hidden(f"{host}:{port}: {_words(error)}", [password, *hide])) from None


def credentials_for(settings: SettingValues, own: Mapping[str, str]) -> tuple[str, str]:
    """The user name and password to sign in to the tenant's server with. A password goes only to
    the server named beside it: a tenant whose own `smtp_host` (`own`: the tenant's own values) would
    otherwise be handed the installation's credentials (a tenant manager pointing smtp_host at a
    server of theirs would collect the operator's SMTP password)."""
    if SMTP_HOST.name in own:
        return own.get(SMTP_USERNAME.name, ""), own.get(SMTP_PASSWORD.name, "")
    return settings[SMTP_USERNAME], settings[SMTP_PASSWORD]


def _words(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        text = (
            error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
        )
        return f"the server answered {error.smtp_code} {text}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(
            f"{address}: {code} {reply.decode(errors='replace')}" for address, (code, reply) in error.recipients.items()
        )
        return f"the server refused the recipient ({refused})"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return f"the server closed the connection ({error})" if str(error) else "the server closed the connection"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"the server's certificate is not trusted ({error.verify_message})"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return str(error) or type(error).__name__


def _hidden(reason: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            reason = reason.replace(secret, "(hidden)")
    reason = " ".join(reason.split())
    return reason if len(reason) <= REASON_LENGTH else reason[: REASON_LENGTH - 1] + "…"
