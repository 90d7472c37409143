"""The mail of the portal's "Forgot your password?" page: a link to choose the account password.

Made when it is sent, as the account mail is: the queued row names the account, never a link
(hotdesk.password_links). Asked for by anyone who types a LOGIN, so the link points only at
`phone_base_url`, never at the address the request came to: a forged Host header must not send
the person's link to someone else's server.
"""

from __future__ import annotations

import html

from sqlalchemy.orm import Session

from hotdesk.mail.account import FORGOT_NOTE, Composed, NotComposed, base_message, password_link
from hotdesk.models import QueuedMail, Tenant, User
from hotdesk.people import login_of
from hotdesk.settings import PHONE_BASE_URL, SettingValues


def compose(session: Session, mail: QueuedMail, settings: SettingValues, key: str) -> Composed:
    user = session.get(User, mail.user_id) if mail.user_id is not None else None
    if user is None:
        raise NotComposed("the account no longer exists", final=True)
    if not settings[PHONE_BASE_URL]:
        raise NotComposed("phone_base_url is not set: the link must name the address people reach hotdesk at")
    link = password_link(user, settings, key, settings[PHONE_BASE_URL])
    login = login_of(user, session.get_one(Tenant, user.tenant_id).sip_domain)
    expires = f"{link.expires_at:%Y-%m-%d %H:%M} UTC"
    message = base_message(settings, mail.recipient, "Choose your phone account password")
    message.set_content(f"""Hello,

someone (you, we hope) asked for a new password for the phone account {login}.
Choose it here:

  {link.url}

The link works once, until {expires}. {FORGOT_NOTE}

If you did not ask for it, ignore this mail: your password stays as it is.
""")
    e = html.escape
    message.add_alternative(
        f"""<!DOCTYPE html>
<html><body>
<p>Hello,</p>
<p>someone (you, we hope) asked for a new password for the phone account {e(login)}.</p>
<p><a href="{e(link.url)}">Choose your password here</a>.</p>
<p>The link works once, until {e(expires)}. {e(FORGOT_NOTE)}</p>
<p>If you did not ask for it, ignore this mail: your password stays as it is.</p>
</body></html>
""",
        subtype="html",
    )
    return Composed(message, hide=(link.token,))
