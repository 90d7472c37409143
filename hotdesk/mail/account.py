"""The account mail: a new account's information and the QR code that signs the person's app in.

Made when it is sent (never when queued): the single-use link in it is a new `LinkKind.MAIL` link,
which lives `qr_mail_token_hours` and replaces only the person's earlier mailed link, so a QR code
shown on a screen keeps working (hotdesk.softphone.links). The mail holds the link's URL (as a QR
code, an inline image, and as a link) and what the person needs to sign in by hand: never the
SIP secret, the voicemail PIN or the account password. Instead of the password it holds a link to
choose one (hotdesk.password_links), which lives as long as the QR code's and works once.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import update
from sqlalchemy.orm import Session

from hotdesk import password_links
from hotdesk.mail.options import SMTP_FROM, SMTP_HOST, SMTP_USERNAME
from hotdesk.models import QueuedMail, SignInLink, Tenant, User, utcnow
from hotdesk.settings import PHONE_BASE_URL, SettingValues
from hotdesk.softphone import links, qr
from hotdesk.softphone.account import Account, NoServer, account_of
from hotdesk.softphone.links import LinkKind
from hotdesk.softphone.options import QR_MAIL_TOKEN_HOURS


class NotComposed(Exception):
    """The mail cannot be made now (`final`: nor ever): the reason, for the history."""

    def __init__(self, reason: str, *, final: bool = False):
        super().__init__(reason)
        self.final = final


@dataclass
class Composed:
    message: EmailMessage
    hide: tuple[str, ...] = ()  # secrets in the message: kept out of a failure's reason
    undo: Callable[[Session], None] = field(default=lambda session: None)  # after a failed send


def sender_address(settings: SettingValues) -> str:
    if settings[SMTP_FROM]:
        return settings[SMTP_FROM]
    if "@" in settings[SMTP_USERNAME]:
        return settings[SMTP_USERNAME]
    return f"hotdesk@{settings[SMTP_HOST].strip('[]')}"


def base_message(settings: SettingValues, recipient: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender_address(settings)
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=message["From"].addresses[0].domain or None)
    message["Auto-Submitted"] = "auto-generated"  # no out-of-office replies
    return message


def compose(session: Session, mail: QueuedMail, settings: SettingValues, key: str) -> Composed:
    user = session.get(User, mail.user_id) if mail.user_id is not None else None
    if user is None:
        raise NotComposed("the account no longer exists", final=True)
    base_url = settings[PHONE_BASE_URL] or mail.base_url
    if not base_url:
        raise NotComposed("phone_base_url is not set: the QR code must name the address apps reach hotdesk at")
    try:
        account = account_of(user, session.get_one(Tenant, user.tenant_id), settings)
    except NoServer as error:
        raise NotComposed(str(error)) from None
    link = links.new_link(session, user, key, settings, LinkKind.MAIL)
    url = links.link_url(base_url, link.token)
    choose = password_link(user, settings, key, base_url)
    message = base_message(settings, mail.recipient, f"Your phone account: extension {account.username}")
    portal = f"{base_url.rstrip('/')}/portal/"
    image_id = make_msgid(domain="qr.hotdesk.invalid")  # <...>: the Content-ID; cid: names it without the brackets
    message.set_content(_text(user, account, url, link.expires_at, portal, choose))
    message.add_alternative(_html(user, account, url, link.expires_at, portal, choose, image_id[1:-1]), subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None  # added just above
    html_part.add_related(
        qr.png(url, scale=6), "image", "png", cid=image_id, filename="qr-code.png", disposition="inline"
    )
    link_id = int(link.token.split(".", 1)[0])
    return Composed(message, hide=(link.token, choose.token), undo=lambda session: _revoke(session, link_id))


def password_link(user: User, settings: SettingValues, key: str, base_url: str) -> password_links.PasswordLink:
    """A link to choose the account password, living as long as a mailed QR code."""
    return password_links.new_link(user, key, timedelta(hours=settings[QR_MAIL_TOKEN_HOURS]), base_url)


def _revoke(session: Session, link_id: int) -> None:
    """The link of a mail that did not go: nobody holds it, none may use it."""
    session.execute(
        update(SignInLink).where(SignInLink.id == link_id, SignInLink.used_at.is_(None)).values(revoked_at=utcnow())
    )


def _server(account: Account) -> str:
    host = f"[{account.server}]" if ":" in account.server else account.server
    return f"{host}:{account.port}"


def _manual(user: User, account: Account) -> list[tuple[str, str]]:
    rows = [
        ("SIP domain", account.sip_domain),
        ("Server", _server(account)),
        ("Transport", account.transport.value.upper()),
    ]
    if account.outbound_proxy:
        rows.append(("Outbound proxy", account.outbound_proxy))
    rows.append(("Username", user.username))
    rows.append(("Password", "your account password (not the extension's SIP password)"))
    return rows


FORGOT_NOTE = 'If it has run out, ask for a new one:\n"Forgot your password?" on the portal\'s sign-in page.'


def _expiry(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _text(
    user: User, account: Account, url: str, expires_at: datetime, portal: str, choose: password_links.PasswordLink
) -> str:
    manual = "\n".join(f"  {name}: {value}" for name, value in _manual(user, account))
    return f"""Hello {account.display_name},

your phone account is ready.

  Name: {account.display_name}
  Extension: {account.username}
  Login: {account.login}
  Portal: {portal}

Choose your password here (for the portal, and to sign an app in by hand):

  {choose.url}

That link works once, until {_expiry(choose.expires_at)}. {FORGOT_NOTE}

Sign your softphone app in (Linphone, for one): scan the QR code in this mail with the app, or
open this link on the phone that has the app:

  {url}

The link works once, until {_expiry(expires_at)}. After that, ask your manager for a new QR code
(or sign in to the portal and show it there).

Or sign the app in by hand:

{manual}
"""


def _html(
    user: User,
    account: Account,
    url: str,
    expires_at: datetime,
    portal: str,
    choose: password_links.PasswordLink,
    image_cid: str,
) -> str:
    e = html.escape
    info = [
        ("Name", account.display_name),
        ("Extension", account.username),
        ("Login", account.login),
    ]
    rows = "".join(f"<tr><th align='left'>{e(name)}</th><td>{e(value)}</td></tr>" for name, value in info)
    manual = "".join(
        f"<tr><th align='left'>{e(name)}</th><td>{e(value)}</td></tr>" for name, value in _manual(user, account)
    )
    return f"""<!DOCTYPE html>
<html><body>
<p>Hello {e(account.display_name)},</p>
<p>your phone account is ready.</p>
<table>{rows}<tr><th align='left'>Portal</th><td><a href="{e(portal)}">{e(portal)}</a></td></tr></table>
<h3>Choose your password</h3>
<p><a href="{e(choose.url)}">Choose your password here</a> (for the portal, and to sign an app in by hand).</p>
<p>That link works once, until {e(_expiry(choose.expires_at))}. {e(FORGOT_NOTE)}</p>
<h3>Sign your softphone app in</h3>
<p>Scan this QR code with the app (Linphone, for one):</p>
<p><img src="cid:{e(image_cid)}" alt="QR code that signs your app in"></p>
<p>Or, on the phone that has the app, open <a href="{e(url)}">this sign-in link</a>
(in Linphone: <a href="linphone-config:{e(url)}">open in Linphone</a>).</p>
<p>The code works once, until {e(_expiry(expires_at))}. After that, ask your manager for a new QR code
(or sign in to the portal and show it there).</p>
<h3>Or sign the app in by hand</h3>
<table>{manual}</table>
</body></html>
"""


def compose_test(settings: SettingValues, recipient: str) -> Composed:
    message = base_message(settings, recipient, "hotdesk: a test mail")
    message.set_content("This test mail shows that hotdesk's SMTP settings work.\n")
    return Composed(message)
