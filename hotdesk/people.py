"""People's user accounts: a username and an account password per extension, never its SIP secret.

A person signs in (the portal, later the apps) with a LOGIN: `username@sipdomain`, or the bare
username in the default tenant. Passwords are stored as argon2id hashes. A generated password is
shown once by the face that made it and kept readable for the tenant's manager until the person
changes it at the first sign-in (seed 003); from then on nobody can read it again.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotdesk.models import DEFAULT_TENANT_ID, Extension, Tenant, User, utcnow

MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{1,63}$")  # starts with a letter: never an extension number
_GENERATED_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I to misread

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # verified for unknown logins: the same time taken


class PeopleError(ValueError):
    """A username, password or LOGIN a person or admin should be told about in one line."""


@dataclass(frozen=True)
class NewPassword:
    user: User
    password: str | None  # the generated one, to show once; None when the admin gave it


def check_username(username: str) -> str:
    username = username.strip()
    if not _USERNAME.match(username):
        raise PeopleError(
            f"username: {username!r} is not a username (a letter first, then letters, digits, . _ -; 2 to 64)"
        )
    return username


def check_password(password: str, extension: Extension) -> str:
    if len(password) < MIN_PASSWORD or not password.isprintable():
        raise PeopleError(f"password: needs at least {MIN_PASSWORD} printable characters")
    if password == extension.secret:
        raise PeopleError("password: must not be the extension's SIP secret")
    if extension.voicemail_pin and password == extension.voicemail_pin:
        raise PeopleError("password: must not be the voicemail PIN")
    return password


def generate_password() -> str:
    """16 characters from 56 (93 bits): typed once, from a mail or a manager, then changed."""
    return "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(16))


def create(session: Session, extension: Extension, username: str, password: str | None = None) -> NewPassword:
    """The extension's user account. Without `password` one is generated: the person must change it
    at the first sign-in, as with a given one (an admin's choice is a temporary password too)."""
    username = check_username(username)
    if extension.user is not None:
        raise PeopleError(f"extension {extension.number} has a user account already ({extension.user.username})")
    taken = select(User.id).where(User.tenant_id == extension.tenant_id, User.username == username)
    if session.scalar(taken) is not None:
        raise PeopleError(f"username: {username!r} is taken in this tenant")
    generated = password is None
    password = generate_password() if password is None else check_password(password, extension)
    user = User(
        tenant_id=extension.tenant_id,
        extension=extension,
        username=username,
        password_hash=_hasher.hash(password),
        initial_password=password if generated else None,
        must_change_password=True,
    )
    session.add(user)
    session.flush()
    return NewPassword(user, password if generated else None)


def set_password(session: Session, user: User, password: str | None, *, temporary: bool) -> NewPassword:
    """An admin sets (or, without `password`, generates) a user's password. `temporary`: the person
    must change it at the next sign-in (a generated one always is)."""
    generated = password is None
    password = generate_password() if password is None else check_password(password, user.extension)
    user.password_hash = _hasher.hash(password)
    user.must_change_password = temporary or generated
    user.initial_password = password if generated else None
    user.session_epoch += 1  # every portal session of the old password ends
    user.password_changed_at = utcnow()
    session.flush()
    return NewPassword(user, password if generated else None)


def change_own_password(session: Session, user: User, current: str, new: str) -> None:
    """The person changes their password (at the first sign-in, or whenever): the generated one is
    forgotten, and never visible again."""
    if not verify(user, current):
        raise PeopleError("the current password is not right")
    if new == current:
        raise PeopleError("password: the new password must differ from the current one")
    user.password_hash = _hasher.hash(check_password(new, user.extension))
    user.must_change_password = False
    user.initial_password = None
    user.session_epoch += 1
    user.password_changed_at = utcnow()
    session.flush()


def verify(user: User | None, password: str) -> bool:
    """Does `password` open `user`'s account? Takes as long for no user (no account enumeration)."""
    try:
        return _hasher.verify(user.password_hash if user is not None else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def find(session: Session, login: str) -> User | None:
    """The user a LOGIN names: `username@sipdomain`, or a bare username of the default tenant."""
    username, at, domain = login.strip().rpartition("@") if "@" in login else ("", "", login.strip())
    if not at:
        username, tenant_query = domain, select(Tenant.id).where(Tenant.id == DEFAULT_TENANT_ID)
    else:
        tenant_query = select(Tenant.id).where(Tenant.sip_domain == domain.lower())
    if not username or len(username) > 64:
        return None
    return session.scalar(
        select(User).where(User.tenant_id == tenant_query.scalar_subquery(), User.username == username)
    )


def login_of(user: User, sip_domain: str | None) -> str:
    """How the person types their LOGIN."""
    return f"{user.username}@{sip_domain}" if sip_domain and user.tenant_id != DEFAULT_TENANT_ID else user.username
