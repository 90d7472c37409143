"""People's user accounts: a username and an account password per extension, never its SIP secret.

A person signs in (the portal, later the apps) with a LOGIN: `username@sipdomain`, or the bare
username in the default tenant. Passwords are stored as argon2id hashes. A generated password is
shown once by the face that made it and kept readable for the tenant's manager until the person
changes it at the first sign-in (seed 003); from then on nobody can read it again.

Usernames are stored and looked up in lower case: `Alice.Martin` and `alice.martin` are one person.
A generated password is not hashed while it is pending: it is kept readable for the manager in
`initial_password` anyway, so a hash beside it would protect nothing, and an import of 100,000
extensions would spend a day in argon2. It is compared in constant time, after an argon2
verification of a dummy hash, so a sign-in takes as long whichever password an account has.
Every password a person or an admin chooses is an argon2id hash.
"""

from __future__ import annotations

import hmac
import re
import secrets
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotdesk.models import DEFAULT_TENANT_ID, Extension, Tenant, User, utcnow

MIN_PASSWORD = 10
USERNAME_PATTERN = "^[A-Za-z][A-Za-z0-9._-]{1,63}$"
_USERNAME = re.compile(USERNAME_PATTERN)  # starts with a letter: never an extension number
_GENERATED_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I to misread

CELL_PATTERN = "^[+]?[0-9][0-9 ()./-]{2,30}$"
_CELL = re.compile(CELL_PATTERN)
PENDING_HASH = ""  # password_hash while the password is a pending generated one (see the module's docstring)

# argon2id, 5 passes over 7 MiB, 1 lane: one of the five configurations OWASP's Password Storage
# Cheat Sheet recommends as "an equal level of defense" (46 MiB x 1 ... 19 MiB x 2 ... 7 MiB x 5, a
# trade of memory for passes), and the cheapest of them here: 16 ms of CPU per check on this
# machine against 24.5 ms for 19 MiB x 2 and 72 ms for 46 MiB x 1 (2026-12-06; allocating and
# first touching the memory is what costs). RFC 9106's procedure (section 4: the most memory and
# passes the time budget allows) is met by the budget the app sign-in sets, a p99 under 500 ms with
# 16 apps signing in at once on 2 CPUs. The RFC's "uniformly safe" low-memory option (3 passes over
# 64 MiB, argon2-cffi's default) costs 9x the CPU and misses it (bench/README.md, "App sign-in").
# A hash keeps its parameters: an older one still verifies, and is made again at the next right
# password (`verify`), so that every account costs the same to check as an unknown LOGIN does.
_hasher = PasswordHasher(time_cost=5, memory_cost=7 * 1024, parallelism=1)
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # verified for unknown logins: the same time taken


class PeopleError(ValueError):
    """A username, password or LOGIN a person or admin should be told about in one line."""


@dataclass(frozen=True)
class NewPassword:
    user: User
    password: str | None  # the generated one, to show once; None when the admin gave it


def check_username(username: str, number: str | None = None) -> str:
    """The username as stored (lower case); `number`: the extension's, which it must not be."""
    if not _USERNAME.fullmatch(username):
        raise PeopleError(
            f"username: {username!r} is not a username (a letter first, then letters, digits, . _ -; 2 to 64)"
        )
    if number is not None and username.lower() == number.lower():
        raise PeopleError(f"username: {username!r} is the extension number; a username names the person")
    return username.lower()


def check_password(password: str, extension: Extension, username: str | None = None) -> str:
    return check_password_for(password, extension.secret, extension.voicemail_pin, username)


def check_password_for(password: str, secret: str, voicemail_pin: str | None, username: str | None = None) -> str:
    """An account password for an extension with this SIP secret and PIN, and the account's
    `username` (also before it is saved)."""
    if len(password) < MIN_PASSWORD or len(password) > 128 or not password.isprintable():
        raise PeopleError(f"password: needs at least {MIN_PASSWORD} printable characters (at most 128)")
    if password == secret:
        raise PeopleError("password: must not be the extension's SIP secret")
    if voicemail_pin and password == voicemail_pin:
        raise PeopleError("password: must not be the voicemail PIN")
    if username and password.lower() == username.lower():
        raise PeopleError("password: must not be the username")
    return password


def check_cell(cell: str | None) -> str | None:
    """A cell (mobile) number as typed, or None for none."""
    if not cell:
        return None
    if not _CELL.fullmatch(cell):
        raise PeopleError(f"cell: {cell!r} is not a phone number (digits, an optional leading +, spaces ( ) . / -)")
    return cell


def username_from_name(name: str) -> str:
    """A username made of a person's name: "Alice Martin" and "Martin, Alice" -> "alice.martin",
    "Zoë Ång" -> "zoe.ang"; "user" when the name has no Latin letter to start with."""
    last, comma, first = name.partition(",")
    if comma and first.strip() and "," not in first:  # "Martin, Alice": the directory's order
        name = f"{first} {last}"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_name)
    while words and not words[0][0].isalpha():
        words.pop(0)
    base = ".".join(words)[:56].strip(".")
    return base if len(base) >= 2 else "user"


def unique_username(base: str, taken: Collection[str]) -> str:
    """`base`, or `base.2`, `base.3`, ... : the first not in `taken` (lower-case usernames)."""
    if base not in taken:
        return base
    suffix = 2
    while f"{base}.{suffix}" in taken:
        suffix += 1
    return f"{base}.{suffix}"


def usernames_like(session: Session, tenant_id: int, base: str) -> set[str]:
    """The tenant's usernames `unique_username(base, ...)` could collide with."""
    escaped = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return set(
        session.scalars(
            select(User.username).where(User.tenant_id == tenant_id, User.username.like(escaped + "%", escape="\\"))
        )
    )


def suggest_username(session: Session, tenant_id: int, name: str, number: str = "") -> str:
    """A username for a person called `name`, free in the tenant (and not the extension `number`)."""
    base = username_from_name(name)
    return unique_username(base, usernames_like(session, tenant_id, base) | {number.lower()})


def generate_password() -> str:
    """16 characters from 56 (93 bits): typed once, from a mail or a manager, then changed."""
    return "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(16))


def create(session: Session, extension: Extension, username: str, password: str | None = None) -> NewPassword:
    """The extension's user account. Without `password` one is generated: the person must change it
    at the first sign-in, as with a given one (an admin's choice is a temporary password too)."""
    username = check_username(username, extension.number)
    if extension.user is not None:
        raise PeopleError(f"extension {extension.number} has a user account already ({extension.user.username})")
    check_free(session, extension.tenant_id, username)
    made = account(extension, username, password)
    session.add(made.user)
    session.flush()
    return made


def account(extension: Extension, username: str, password: str | None = None) -> NewPassword:
    """A new account for an extension without one, not yet added to a session: for imports, which
    checked every username is free in the tenant at once. `create` for one."""
    username = check_username(username, extension.number)
    generated = password is None
    password = generate_password() if password is None else check_password(password, extension, username)
    user = User(
        tenant_id=extension.tenant_id,
        extension=extension,
        username=username,
        password_hash=PENDING_HASH if generated else _hasher.hash(password),
        initial_password=password if generated else None,
        must_change_password=True,
        session_epoch=0,
    )
    return NewPassword(user, password if generated else None)


def set_password(session: Session, user: User, password: str | None, *, temporary: bool) -> NewPassword:
    """An admin sets (or, without `password`, generates) a user's password. `temporary`: the person
    must change it at the next sign-in (a generated one always is)."""
    generated = password is None
    password = generate_password() if password is None else check_password(password, user.extension, user.username)
    user.password_hash = PENDING_HASH if generated else _hasher.hash(password)
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
    choose_own_password(session, user, new)


def choose_own_password(session: Session, user: User, new: str) -> None:
    """The person's own password from now on (people's rules: never the SIP secret, the PIN or the
    username): the generated one forgotten, every session of the old password ended. The caller
    made sure it is the person (their current password, or a link mailed to them)."""
    user.password_hash = _hasher.hash(check_password(new, user.extension, user.username))
    user.must_change_password = False
    user.initial_password = None
    user.session_epoch += 1
    user.password_changed_at = utcnow()
    session.flush()


def rename(session: Session, user: User, username: str) -> str:
    """Give the account another username (free in its tenant); the old LOGIN stops working."""
    username = check_username(username, user.extension.number)
    if username != user.username:
        check_free(session, user.tenant_id, username)
        user.username = username
        user.session_epoch += 1  # a session signed in under the old LOGIN ends
        session.flush()
    return username


def check_free(session: Session, tenant_id: int, username: str) -> None:
    taken = select(User.id).where(User.tenant_id == tenant_id, User.username == username)
    if session.scalar(taken) is not None:
        raise PeopleError(f"username: {username!r} is taken in this tenant")


def pending_password(user: User | None) -> str | None:
    """The generated password the tenant's manager may still see: until the person's first change."""
    return user.initial_password if user is not None and user.must_change_password else None


def verify(user: User | None, password: str) -> bool:
    """Does `password` open `user`'s account? Takes as long for no user (no account enumeration)."""
    pending = user is not None and user.password_hash == PENDING_HASH
    matches: bool
    try:
        matches = _hasher.verify(_DUMMY_HASH if user is None or pending else user.password_hash, password)
    except (VerificationError, InvalidHashError):
        matches = False
    if user is None:
        return False
    if pending:
        return user.initial_password is not None and hmac.compare_digest(
            user.initial_password.encode(), password.encode("utf-8", "surrogatepass")
        )
    if matches and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)  # written with the sign-in the caller commits
    return matches


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
        select(User).where(User.tenant_id == tenant_query.scalar_subquery(), User.username == username.lower())
    )


def login_of(user: User, sip_domain: str | None) -> str:
    """How the person types their LOGIN."""
    return f"{user.username}@{sip_domain}" if sip_domain and user.tenant_id != DEFAULT_TENANT_ID else user.username
