"""Links that let a person choose their account password: `<base URL>/portal/password/<token>`, in
the account mail and in the mail of the portal's "Forgot your password?" page.

No table holds them. The token is `<user id>.<expiry>.<nonce>.<HMAC>`: an HMAC under the instance
secret key over the user id, the expiry, a random nonce (each link its own, even two made in one
second) and the account's password as it is now (its argon2 hash, or the pending generated one),
as Django's PasswordResetTokenGenerator does. Any change of the password —
by a link, in the portal, by an admin or `hotdesk users set-password` — therefore kills every
earlier link, and the link that set it with them: a link works once. Expired links are refused by
the expiry they carry, under the HMAC. The token is never stored; hotdesk.logs cuts it out of
every log line. Using a link (hotdesk.self_service.choose_password_by_link) re-checks it on the
account's row locked for the change, so two requests racing with one link set one password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from hotdesk.models import User, utcnow

PATH = "/portal/password/"  # + token: served by hotdesk.web.portal_password (tests check they agree)
LONGEST_TOKEN = 80


@dataclass(frozen=True)
class PasswordLink:
    url: str
    token: str  # a secret: mailed, never stored or logged
    expires_at: datetime


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{PATH}{token}"


def new_link(user: User, key: str, lifetime: timedelta, base_url: str, now: datetime | None = None) -> PasswordLink:
    """A link for the user's password as it is now, working for `lifetime` (qr_mail_token_hours)."""
    expiry = int(((now or utcnow()) + lifetime).timestamp())
    nonce = secrets.token_urlsafe(6)
    token = f"{user.id}.{expiry:x}.{nonce}.{_signature(key, user.id, expiry, nonce, user)}"
    return PasswordLink(link_url(base_url, token), token, datetime.fromtimestamp(expiry, UTC))


def _signature(key: str, user_id: int, expiry: int, nonce: str, user: User) -> str:
    # The pending generated password is in it too: a new generated one (its hash stays empty) kills the link.
    state = f"{user.password_hash}|{user.initial_password or ''}"
    message = f"password-link|{user_id}|{expiry}|{nonce}|{state}".encode("utf-8", "surrogatepass")
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def user_of(session: Session, key: str, token: str, now: datetime | None = None) -> User | None:
    """The user whose password the token may set now; None for a used, expired, tampered or
    unknown one (the same for each). Reads the user as the session has it: the caller refreshes
    it first when it must see the latest (hotdesk.self_service locks the row)."""
    parts = token.split(".")
    if len(token) > LONGEST_TOKEN or len(parts) != 4:
        return None
    user_id, expiry_text, nonce, signature = parts
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) <= 9):  # ids fit PostgreSQL's integer
        return None
    try:
        expiry = int(expiry_text, 16)
    except ValueError:
        return None
    if expiry <= (now or utcnow()).timestamp() or f"{expiry:x}" != expiry_text:
        return None
    user = session.get(User, int(user_id))
    if user is None or not hmac.compare_digest(_signature(key, user.id, expiry, nonce, user), signature):
        return None
    return user
