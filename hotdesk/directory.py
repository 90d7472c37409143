"""Extensions: checks, add/update, and the all-or-nothing CSV import."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hotdesk import policy
from hotdesk.models import DEFAULT_TENANT_ID, Extension, Template, TemplatePin
from hotdesk.settings import PIN_LENGTH, SECRET_POLICY, SecretPolicy, SettingValues

REQUIRED_COLUMNS = ("extension", "name", "secret")
OPTIONAL_COLUMNS = ("voicemail_pin", "email", "auth_name", "template", "username", "user_password")

_NUMBER = re.compile(r"[0-9A-Za-z+*#_.-]{1,32}")
_PIN = re.compile(r"[0-9]{1,32}")
_AUTH_NAME = re.compile(r"[A-Za-z0-9._@+-]{1,64}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


class DirectoryError(ValueError):
    """Bad extension data; the message names where (file, line) and which field."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line  # of the file, when the error is about one row


@dataclass(frozen=True)
class ExtensionData:
    number: str
    name: str
    secret: str
    voicemail_pin: str | None = None
    email: str | None = None
    auth_name: str | None = None
    template: str | None = None  # "brand/name", or a name every brand that has it will use
    # The user account's (hotdesk.people checks them; save() leaves the account alone).
    username: str | None = None  # None: made of the name for a new account, kept for an existing one
    user_password: str | None = None  # None: generated for a new account, kept for an existing one


def check(data: ExtensionData) -> ExtensionData:
    """The normalised data, or DirectoryError naming the first bad field."""
    if not _NUMBER.fullmatch(data.number):
        raise DirectoryError(
            f"extension: {data.number!r} is not an extension number (digits, letters, + * # _ . -; at most 32)"
        )
    name = data.name.strip()
    if not name or len(name) > 128 or not name.isprintable():
        raise DirectoryError("name: needs 1 to 128 printable characters")
    if not data.secret or len(data.secret) > 128 or any(ch.isspace() or not ch.isprintable() for ch in data.secret):
        raise DirectoryError("secret: needs 1 to 128 printable characters without spaces")
    pin = data.voicemail_pin or None
    if pin is not None and not _PIN.fullmatch(pin):
        raise DirectoryError("voicemail_pin: digits only (it is typed on a phone keypad)")
    email = data.email or None
    if email is not None and (len(email) > 254 or not email.isprintable() or not _EMAIL.fullmatch(email)):
        raise DirectoryError(f"email: {email!r} is not an email address")
    auth_name = data.auth_name or None
    if auth_name is not None and not _AUTH_NAME.fullmatch(auth_name):
        raise DirectoryError(f"auth_name: {auth_name!r} is not a SIP user name")
    template = data.template or None
    if template is not None and (len(template) > 200 or not template.isprintable()):
        raise DirectoryError("template: not a template reference (brand/name)")
    username = (data.username or "").strip() or None
    return ExtensionData(
        data.number, name, data.secret, pin, email, auth_name, template, username, data.user_password or None
    )


def check_typed(data: ExtensionData, settings: SettingValues, *, secret: bool = True, pin: bool = True) -> None:
    """A secret and PIN a person typed (not imported), against the policy (hotdesk.policy):
    DirectoryError naming every rule the secret breaks, or the PIN's length. `data` passed check()."""
    if secret and settings[SECRET_POLICY] is SecretPolicy.STRONG:
        problems = policy.secret_problems(data.secret)
        if problems:
            raise DirectoryError(f"secret: too weak (secret_policy is strong): it needs {'; '.join(problems)}")
    if pin and data.voicemail_pin is not None:
        problem = policy.pin_length_problem(data.voicemail_pin, settings[PIN_LENGTH])
        if problem is not None:
            raise DirectoryError(f"voicemail_pin: {problem} (pin_length is {settings[PIN_LENGTH]})")


def templates_named(session: Session, reference: str, tenant_id: int = DEFAULT_TENANT_ID) -> list[Template]:
    """Templates a 'brand/name' or bare 'name' reference points at, one per brand: the tenant's own,
    else the system's of that name (another tenant's never); DirectoryError if none."""
    brand, _, name = reference.rpartition("/")
    query = select(Template).where(
        Template.name == name, or_(Template.tenant_id.is_(None), Template.tenant_id == tenant_id)
    )
    if brand:
        query = query.where(Template.brand == brand)
    by_brand: dict[str, Template] = {}
    for template in session.scalars(query.order_by(Template.tenant_id.is_(None))):
        by_brand.setdefault(template.brand, template)  # the tenant's own come first
    if not by_brand:
        raise DirectoryError(f"template: no template {reference!r} (use brand/name, e.g. yealink/default)")
    return list(by_brand.values())


def save(session: Session, data: ExtensionData, tenant_id: int = DEFAULT_TENANT_ID) -> Extension:
    """Add or update one of the tenant's extensions (not committed). `data` must have passed check()."""
    [extension] = save_all(session, [data], tenant_id)
    return extension


IN_CHUNK = 500  # numbers per IN (...): under every database's bound-parameter limit


def save_all(session: Session, rows: list[ExtensionData], tenant_id: int = DEFAULT_TENANT_ID) -> list[Extension]:
    """save() for many rows: the existing extensions read a chunk at a time and the new ones
    inserted together, not a query and an INSERT a row (10,000 rows of an import were 20,000
    round trips to PostgreSQL). Rows must name distinct numbers."""
    existing: dict[str, Extension] = {}
    numbers = [data.number for data in rows]
    for start in range(0, len(numbers), IN_CHUNK):
        chunk = numbers[start : start + IN_CHUNK]
        query = select(Extension).where(Extension.tenant_id == tenant_id, Extension.number.in_(chunk))
        existing.update((extension.number, extension) for extension in session.scalars(query))
    templates: dict[str, list[Template]] = {}
    saved = []
    with session.no_autoflush:  # the new ones go out in one flush, below
        for data in rows:
            extension = existing.get(data.number)
            if extension is None:
                extension = Extension(tenant_id=tenant_id, number=data.number)
                session.add(extension)
            extension.name, extension.secret = data.name, data.secret
            extension.voicemail_pin, extension.email = data.voicemail_pin, data.email
            extension.auth_name = data.auth_name
            if data.template:
                if data.template not in templates:
                    templates[data.template] = templates_named(session, data.template, tenant_id)
                for template in templates[data.template]:
                    pin_template(session, extension, template)
            saved.append(extension)
    session.flush()
    return saved


def pin_template(session: Session, extension: Extension, template: Template) -> None:
    """Pin the extension to this template whenever it logs into a phone of the template's brand."""
    for pin in extension.pins:
        if pin.brand == template.brand:
            pin.template = template
            return
    extension.pins.append(TemplatePin(template=template, brand=template.brand))


def check_rows(
    session: Session, rows: Iterable[tuple[int, dict[str, str]]], source: str, tenant_id: int = DEFAULT_TENANT_ID
) -> tuple[list[tuple[int, ExtensionData]], list[DirectoryError]]:
    """Every row checked: the good ones with their line numbers, and an error for each bad one."""
    checked: list[tuple[int, ExtensionData]] = []
    errors: list[DirectoryError] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        try:
            data = check(
                ExtensionData(
                    **{
                        _FIELD.get(k, k): from_spreadsheet((v or "").strip() if k not in _VERBATIM else (v or ""))
                        for k, v in row.items()
                    }
                )
            )
            if data.template:
                templates_named(session, data.template, tenant_id)
            if data.number in seen:
                raise DirectoryError(f"extension: {data.number} is already on line {seen[data.number]}")
        except DirectoryError as error:
            errors.append(DirectoryError(f"{source}, line {line}: {error}", line))
            continue
        seen[data.number] = line
        checked.append((line, data))
    return checked, errors


_FIELD = {"extension": "number"}
_VERBATIM = ("secret", "user_password")  # spaces at either end are part of them


def read_csv(text: str, source: str) -> tuple[list[tuple[int, dict[str, str]]], list[DirectoryError]]:
    """Rows of an extensions CSV with their line numbers, and an error for each row of the wrong
    shape; DirectoryError for a bad header, or CSV that cannot be read on (a broken quote)."""
    reader = csv.DictReader(text.splitlines(), strict=True)
    try:
        header = [name.strip() for name in (reader.fieldnames or [])]
    except csv.Error as error:
        raise DirectoryError(f"{source}, line 1: {error}") from None
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise DirectoryError(
            f"{source}, line 1: missing column(s) {', '.join(missing)} (required: {', '.join(REQUIRED_COLUMNS)})"
        )
    unknown = [name for name in header if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise DirectoryError(f"{source}, line 1: unknown column(s) {', '.join(unknown)}")
    if len(set(header)) != len(header):
        raise DirectoryError(f"{source}, line 1: a column is named twice")
    reader.fieldnames = header
    rows, errors = [], []
    try:
        for row in reader:
            line = reader.line_num
            if None in row or any(value is None for value in row.values()):
                errors.append(
                    DirectoryError(f"{source}, line {line}: expected {len(header)} fields, found {_count(row)}", line)
                )
            elif any(value.strip() for value in row.values()):
                rows.append((line, row))
    except csv.Error as error:
        raise DirectoryError(f"{source}, line {reader.line_num}: {error}") from None
    return rows, errors


def _count(row: dict) -> int:
    """Fields on a row csv.DictReader read: extra ones are listed under None, missing ones are None."""
    return sum(value is not None for key, value in row.items() if key is not None) + len(row.get(None, []))


# A cell a spreadsheet would run as a formula (CSV injection, OWASP): one starting with = + - @,
# tab or CR — or with quotes before one of these, so that taking one quote off is exact.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")


def spreadsheet_safe(text: str) -> str:
    """The cell as exports write it: a leading quote keeps a spreadsheet from running it (OWASP)."""
    return "'" + text if _FORMULA.match(text) else text


def from_spreadsheet(text: str) -> str:
    """The value an exported cell stands for: spreadsheet_safe undone, so an export imports back
    unchanged ("'+4930…" is "+4930…"). Only a quote before a formula character is taken off."""
    return text[1:] if text.startswith("'") and _FORMULA.match(text, 1) else text
