"""The access code mail: a sign-in's second factor (hotdesk.access_codes).

The code is made here, when the mail is composed, and only its HMAC is kept on the challenge: the
queue never holds it, and a failed send leaves no code anyone has. Only the newest mail of a
challenge is composed (a resend replaced the others), and none once the challenge is closed or
expired: a code that arrives late would only confuse. The message names where it signs in, when
it stops working, and what to do when it was not the reader who signed in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from hotdesk import access_codes
from hotdesk.mail.account import Composed, NotComposed, base_message
from hotdesk.models import AccessCode, QueuedMail, utcnow
from hotdesk.settings import SettingValues

# By hotdesk.access_codes.Face's values (this module is imported while that one is).
WHERE = {
    "portal": "the user portal",
    "app": "your softphone app",
    "console": "the hotdesk console",
    "phone": "a desk phone",
}


def compose(session: Session, mail: QueuedMail, settings: SettingValues, key: str) -> Composed:
    row = session.get(AccessCode, mail.access_code_id) if mail.access_code_id is not None else None
    now = utcnow()
    if row is None or row.closed_at is not None or row.expires_at <= now:
        raise NotComposed("the sign-in it was for has ended", final=True)
    if access_codes.newest_mail_id(session, row.id) != mail.id:
        raise NotComposed("a newer code was asked for", final=True)
    code = access_codes.new_code()
    row.code_hash = access_codes.code_hash(key, row.id, code)
    session.flush()
    where = WHERE[row.face]
    message = base_message(settings, mail.recipient, f"Your access code: {code}")
    message.set_content(_text(code, where, row.expires_at, row.mac))
    return Composed(message, hide=(code,))


def _text(code: str, where: str, expires_at: datetime, mac: str | None) -> str:
    phone = f" (phone {mac})" if mac else ""
    return f"""Your access code for {where}{phone}:

    {code}

Type it where you just signed in. It works once, until {expires_at:%Y-%m-%d %H:%M} UTC; asking
for a new code stops this one.

If you did not just sign in, someone else knows your password (or PIN): do not give this code to
anyone, and change your password (or PIN) now.
"""
