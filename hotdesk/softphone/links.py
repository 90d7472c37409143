"""Single-use sign-in links (what a QR code or an account mail holds) and the apps they sign in.

A link's token is `<id>.<HMAC of the link's random salt under the instance secret key>`: the
database holds no token, yet the current QR can be shown again (interfaces.md: `users qr` without
--refresh shows the current one). A link works once, until it expires, and until a refresh revokes
it; using it is one conditional UPDATE, so two apps racing for one QR cannot both get the account.
A user may hold two at once: the QR shown on a screen and the one of their account mail (which
lives longer); a refresh kills both, a new mail only the earlier mail's.

An app that used a link (or signed in through the app API) becomes an `AppDevice` with its own
random token, of which only the SHA-256 is stored: its configuration URL, fetched at each start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hotdesk.models import AppDevice, SignInLink, User, utcnow
from hotdesk.settings import SettingValues
from hotdesk.softphone.options import QR_MAIL_TOKEN_HOURS, QR_TOKEN_MINUTES

LABEL_LENGTH = 128
LINK_PATH = "/app/qr/"  # + token: served by hotdesk.web.softphone (tests/test_softphone.py checks they agree)


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{LINK_PATH}{token}"


class LinkKind(StrEnum):
    QR = "qr"  # shown on a screen: minutes
    MAIL = "mail"  # in the account mail: days, as people read mail later


@dataclass(frozen=True)
class Link:
    token: str
    kind: LinkKind
    expires_at: datetime


def _token(key: str, link: SignInLink) -> str:
    digest = hmac.new(key.encode(), f"sign-in-link|{link.id}|{link.salt}".encode(), hashlib.sha256).digest()
    return f"{link.id}.{base64.urlsafe_b64encode(digest[:18]).decode()}"


def _lifetime(kind: LinkKind, settings: SettingValues) -> timedelta:
    if kind is LinkKind.MAIL:
        return timedelta(hours=settings[QR_MAIL_TOKEN_HOURS])
    return timedelta(minutes=settings[QR_TOKEN_MINUTES])


def _usable(now: datetime):
    return (SignInLink.used_at.is_(None), SignInLink.revoked_at.is_(None), SignInLink.expires_at > now)


def new_link(
    session: Session,
    user: User,
    key: str,
    settings: SettingValues,
    kind: LinkKind = LinkKind.QR,
    now: datetime | None = None,
) -> Link:
    """A new link for the user. A QR link is a refresh: every earlier link stops working, a mailed
    one too. A MAIL link replaces only the earlier mailed one: the account mail must not kill the QR
    code a manager is showing the person (nor a shown QR the mail)."""
    now = now or utcnow()
    replaced = [SignInLink.user_id == user.id, SignInLink.used_at.is_(None), SignInLink.revoked_at.is_(None)]
    if kind is LinkKind.MAIL:
        replaced.append(SignInLink.kind == LinkKind.MAIL.value)
    session.execute(update(SignInLink).where(*replaced).values(revoked_at=now))
    return _add_link(session, user, key, settings, kind, now)


def _add_link(session: Session, user: User, key: str, settings: SettingValues, kind: LinkKind, now: datetime) -> Link:
    link = SignInLink(
        tenant_id=user.tenant_id,
        user_id=user.id,
        salt=secrets.token_hex(16),
        kind=kind.value,
        created_at=now,
        expires_at=now + _lifetime(kind, settings),
    )
    session.add(link)
    session.flush()
    return Link(_token(key, link), kind, link.expires_at)


def current_link(session: Session, user: User, key: str, settings: SettingValues, now: datetime | None = None) -> Link:
    """The user's usable QR link (the QR on a screen stays the same until used, expired or refreshed),
    else a new one, beside a mailed link still unused (the mail's link is never shown on a screen)."""
    now = now or utcnow()
    link = session.scalar(
        select(SignInLink)
        .where(SignInLink.user_id == user.id, SignInLink.kind == LinkKind.QR.value, *_usable(now))
        .order_by(SignInLink.id.desc())
        .limit(1)
    )
    if link is None:
        return _add_link(session, user, key, settings, LinkKind.QR, now)
    return Link(_token(key, link), LinkKind.QR, link.expires_at)


def find_link(session: Session, key: str, token: str, now: datetime | None = None) -> SignInLink | None:
    """The usable link this token names, without using it up (a browser looking at the page); else None."""
    link_id, _, _ = token.partition(".")
    if not link_id.isdigit() or len(token) > 64:
        return None
    link = session.get(SignInLink, int(link_id))
    if link is None or not hmac.compare_digest(_token(key, link), token):
        return None
    now = now or utcnow()
    if link.used_at is not None or link.revoked_at is not None or link.expires_at <= now:
        return None
    return link


def use_link(session: Session, link: SignInLink, now: datetime | None = None) -> bool:
    """Use the link up; False if another request used it (or it stopped working) first."""
    now = now or utcnow()
    used = session.execute(update(SignInLink).where(SignInLink.id == link.id, *_usable(now)).values(used_at=now))
    return used.rowcount == 1  # type: ignore[attr-defined]


@dataclass(frozen=True)
class NewAppDevice:
    device: AppDevice
    token: str  # the app's own: in its configuration URL, shown to nobody else


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_device(
    session: Session, user: User, label: str, address: str | None, now: datetime | None = None
) -> NewAppDevice:
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    device = AppDevice(
        tenant_id=user.tenant_id,
        user_id=user.id,
        token_hash=_hash(token),
        label=(label.strip() or "app")[:LABEL_LENGTH],
        created_at=now,
        last_seen_at=now,
        last_address=address,
    )
    session.add(device)
    session.flush()
    return NewAppDevice(device, token)


def could_be_device_token(token: str) -> bool:
    return 0 < len(token) <= 64


def device_by_token(session: Session, token: str) -> AppDevice | None:
    """The app this configuration-URL token belongs to (revoked ones too: they are told to stop)."""
    if not could_be_device_token(token):
        return None
    return session.scalar(select(AppDevice).where(AppDevice.token_hash == _hash(token)))


UNNAMED = ("", "app", "Unknown")  # Linphone's first fetch says `User-Agent: Unknown`; its later ones name it


def seen(device: AppDevice, address: str | None, label: str, now: datetime | None = None) -> None:
    device.last_seen_at, device.last_address = now or utcnow(), address
    if device.label in UNNAMED and label not in UNNAMED:
        device.label = label[:LABEL_LENGTH]


def revoke(device: AppDevice, now: datetime | None = None) -> bool:
    """Stop the app's account at its next start; False if it was already revoked."""
    if device.revoked_at is not None:
        return False
    device.revoked_at = now or utcnow()
    return True


def devices_of(session: Session, user: User) -> list[AppDevice]:
    return list(session.scalars(select(AppDevice).where(AppDevice.user_id == user.id).order_by(AppDevice.id)))
