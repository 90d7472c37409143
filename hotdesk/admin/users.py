"""People's user accounts as admins manage them: one per extension (hotdesk.people), opened with
the extension, renamed, given a cell number, a password set or generated.

Every change is an `admin` event of the account's tenant, naming the username and never a
password. A generated password is the face's to show once; the tenant's manager may read it
again (people.pending_password) until the person changes it.

An account opened for an extension with an e-mail address queues its account mail (hotdesk.mail)
when the tenant's smtp_host is set, in the same transaction: it goes out later, from a sender, and
how that goes never touches the account.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hotdesk import people
from hotdesk.admin import AdminError, NotFound, record_change
from hotdesk.directory import DirectoryError, ExtensionData
from hotdesk.mail import queue as mail_queue
from hotdesk.models import DEFAULT_TENANT_ID, Extension, Tenant, User
from hotdesk.people import NewPassword, PeopleError


@dataclass(frozen=True)
class Generated:
    """A password generated for an account, to hand over once."""

    extension: str
    username: str
    password: str


def open_account(
    session: Session,
    extension: Extension,
    actor: str,
    *,
    username: str | None = None,
    password: str | None = None,
    cell: str | None = None,
    base_url: str | None = None,
) -> NewPassword:
    """The extension's user account: `username` (default: made of the name), `password` (default:
    generated; either way the person changes it at the first sign-in); its account mail queued.
    `base_url`: where the request came in (the mail's links use it if phone_base_url is not set)."""
    try:
        cell = people.check_cell(cell)
        if username is None:
            username = people.suggest_username(session, extension.tenant_id, extension.name, extension.number)
        made = people.create(session, extension, username, password)
    except PeopleError as error:
        raise AdminError(str(error)) from None
    made.user.cell = cell
    how = "a generated password" if made.password is not None else "a password set by the admin"
    record_change(
        session,
        actor,
        f"user {made.user.username} created for extension {extension.number}, with {how}",
        extension=extension.number,
        tenant_id=extension.tenant_id,
    )
    session.flush()
    mail_queue.enqueue_account_mails(session, [made.user], base_url=base_url)
    return made


def change(
    session: Session,
    extension: Extension,
    actor: str,
    *,
    username: str | None = None,
    cell: str | None = None,
    clear_cell: bool = False,
) -> NewPassword | None:
    """Rename the account or change its cell number (None: keep; `clear_cell`: remove it). An
    extension without an account gets one: the NewPassword, whose generated password to show."""
    if extension.user is None:
        return open_account(session, extension, actor, username=username, cell=cell)
    user = extension.user
    changed = []
    try:
        new_cell = people.check_cell(cell) if cell is not None else (None if clear_cell else user.cell)
        if username is not None and people.check_username(username) != user.username:
            before = user.username
            people.rename(session, user, username)
            changed.append(f"username (was {before})")
    except PeopleError as error:
        raise AdminError(str(error)) from None
    if new_cell != user.cell:
        user.cell = new_cell
        changed.append("cell")
    if changed:
        record_change(
            session,
            actor,
            f"user {user.username} of extension {extension.number} changed: {', '.join(changed)}",
            extension=extension.number,
            tenant_id=extension.tenant_id,
        )
    session.flush()
    return None


def set_password(session: Session, user: User, actor: str, password: str | None, *, temporary: bool) -> NewPassword:
    """An admin sets a user's password, or without `password` generates one (always temporary)."""
    try:
        made = people.set_password(session, user, password, temporary=temporary)
    except PeopleError as error:
        raise AdminError(str(error)) from None
    if made.password is not None:
        what = "generated (to be changed at the next sign-in)"
    else:
        what = "set" + (" (to be changed at the next sign-in)" if temporary else "")
    record_change(
        session,
        actor,
        f"password of user {user.username} {what}",
        extension=user.extension.number,
        tenant_id=user.tenant_id,
    )
    session.flush()
    return made


def by_login(session: Session, login: str) -> User:
    """The user a LOGIN names (username@sipdomain, or a bare username of the default tenant)."""
    user = people.find(session, login)
    if user is None:
        raise NotFound(f"no user {login.strip()!r} (LOGIN: username@sipdomain, or a username of the default tenant)")
    return user


def of_extension(extension: Extension) -> User:
    if extension.user is None:
        raise NotFound(f"extension {extension.number} has no user account")
    return extension.user


def listing(session: Session, *, tenant_id: int = DEFAULT_TENANT_ID) -> list[tuple[User, str]]:
    """The tenant's accounts with their extension numbers, by username."""
    rows = session.execute(
        select(User, Extension.number)
        .join(Extension, User.extension_id == Extension.id)
        .where(User.tenant_id == tenant_id)
        .order_by(User.username)
    )
    return [(user, number) for user, number in rows]


def login_of(session: Session, user: User) -> str:
    """How the person types their LOGIN: username@sipdomain, or the bare username in the default tenant."""
    return people.login_of(user, session.scalar(select(Tenant.sip_domain).where(Tenant.id == user.tenant_id)))


# CSV imports: columns username and user_password


def check_import_rows(
    session: Session, rows: Iterable[tuple[int, ExtensionData]], source: str, tenant_id: int
) -> list[DirectoryError]:
    """Every row whose username or user_password would be refused: badly formed, the extension
    number, the SIP secret, twice in the file, or another extension's in the tenant."""
    rows = list(rows)
    owners = _username_owners(session, tenant_id, [data.username for _, data in rows if data.username])
    seen: dict[str, int] = {}
    errors = []
    for line, data in rows:
        try:
            if data.username is not None:
                username = people.check_username(data.username, data.number)
                if username in seen:
                    raise PeopleError(f"username: {username!r} is already on line {seen[username]}")
                if owners.get(username, data.number) != data.number:
                    raise PeopleError(f"username: {username!r} is taken in this tenant (extension {owners[username]})")
                seen[username] = line
            if data.user_password is not None:
                people.check_password_for(data.user_password, data.secret, data.voicemail_pin, data.username)
        except PeopleError as error:
            message = str(error).replace("password:", "user_password:", 1)  # the column's name
            errors.append(DirectoryError(f"{source}, line {line}: {message}", line))
    return errors


def open_imported_accounts(
    session: Session,
    rows: Iterable[ExtensionData],
    actor: str,
    source: str,
    tenant_id: int,
    *,
    base_url: str | None = None,
) -> list[Generated]:
    """After an import is saved: accounts for its extensions that have none (their account mails
    queued), renames, and the passwords the file gives. Returns the generated passwords, to hand
    over once. One history event for the file, naming how many accounts it opened and changed."""
    rows = list(rows)
    query = select(Extension).where(Extension.tenant_id == tenant_id).options(selectinload(Extension.user))
    if len(rows) <= 500:  # else the whole tenant: fewer bound parameters than every database allows
        query = query.where(Extension.number.in_([row.number for row in rows]))
    extensions = {extension.number: extension for extension in session.scalars(query)}
    taken = set(session.scalars(select(User.username).where(User.tenant_id == tenant_id)))
    taken |= {people.check_username(row.username) for row in rows if row.username}  # checked before
    generated: list[Generated] = []
    opened_users: list[User] = []
    changed = 0
    for row in rows:
        extension = extensions[row.number]
        user = extension.user
        try:
            if user is None:
                username = row.username or people.unique_username(
                    people.username_from_name(extension.name), taken | {extension.number.lower()}
                )
                taken.add(username)
                made = people.account(extension, username, row.user_password)
                session.add(made.user)
                opened_users.append(made.user)
                if made.password is not None:
                    generated.append(Generated(extension.number, made.user.username, made.password))
                continue
            if row.username is not None and people.check_username(row.username) != user.username:
                taken.discard(user.username)
                people.rename(session, user, row.username)
                changed += 1
            if row.user_password is not None:
                people.set_password(session, user, row.user_password, temporary=True)
                changed += 1
        except PeopleError as error:  # check_import_rows let it through: a race with another change
            raise DirectoryError(f"{source}: extension {row.number}: {error}") from None
    opened = len(opened_users)
    if opened or changed:
        record_change(
            session,
            actor,
            f"user accounts from {source[:200]}: {opened} created ({len(generated)} with a generated password)"
            + (f", {changed} username(s) or password(s) changed" if changed else ""),
            tenant_id=tenant_id,
        )
    session.flush()
    mail_queue.enqueue_account_mails(session, opened_users, base_url=base_url)
    return generated


def _username_owners(session: Session, tenant_id: int, usernames: list[str]) -> dict[str, str]:
    """username -> extension number, for those of `usernames` the tenant has."""
    wanted = []
    for username in usernames:
        try:
            wanted.append(people.check_username(username))
        except PeopleError:
            continue
    owners: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(User.username, Extension.number)
            .join(Extension, User.extension_id == Extension.id)
            .where(User.tenant_id == tenant_id, User.username.in_(wanted[start : start + 500]))
        )
        owners.update((username, number) for username, number in rows)
    return owners
