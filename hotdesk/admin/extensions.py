"""Extensions as admins see them: search and page, add, edit, delete, CSV import preview and export.

Listing stays fast with 100k extensions: pages are cut by keyset on the unique (indexed) number,
never by OFFSET, and no page counts every row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from hotdesk import directory, hotdesking, policy
from hotdesk.admin import (
    Conflict,
    ImportCheck,
    NotAllowed,
    NotFound,
    Page,
    in_chunks,
    page_size,
    paged,
    record_change,
    users,
)
from hotdesk.directory import DirectoryError, ExtensionData
from hotdesk.models import DEFAULT_TENANT_ID, SOURCE_ASTERISK, Extension, Mapping, TemplatePin
from hotdesk.settings import DIRECTORY_SOURCE, PIN_LENGTH, SECRET_POLICY, DirectorySource, SecretPolicy, SettingValues

# A backup: the user account's username, never its password (nor the hash).
EXPORT_COLUMNS = (*directory.REQUIRED_COLUMNS, *(c for c in directory.OPTIONAL_COLUMNS if c != "user_password"))
EDITABLE = ("name", "secret", "voicemail_pin", "email", "auth_name", "template")
HIDDEN = ("secret", "voicemail_pin")  # named in the history when changed, never shown


def page(
    session: Session,
    *,
    search: str = "",
    after: str | None = None,
    limit: int | None = None,
    tenant_id: int = DEFAULT_TENANT_ID,
) -> Page[Extension]:
    """The tenant's extensions in number order; `search` matches a number prefix or part of the name."""
    limit = page_size(limit)
    query = (
        select(Extension)
        .where(Extension.tenant_id == tenant_id)
        .options(selectinload(Extension.pins), selectinload(Extension.user))
        .order_by(Extension.number)
        .limit(limit + 1)
    )
    search = search.strip()
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(Extension.number.startswith(search, autoescape=True), Extension.name.ilike(like, escape="\\"))
        )
    if after:
        query = query.where(Extension.number > after)
    return paged(list(session.scalars(query)), limit, lambda extension: extension.number)


def count(session: Session, *, tenant_id: int = DEFAULT_TENANT_ID) -> int:
    return session.scalar(select(func.count()).select_from(Extension).where(Extension.tenant_id == tenant_id)) or 0


def get(session: Session, number: str, *, tenant_id: int = DEFAULT_TENANT_ID) -> Extension:
    extension = session.scalar(select(Extension).where(Extension.tenant_id == tenant_id, Extension.number == number))
    if extension is None:
        raise NotFound(f"no extension {number}")
    return extension


def data_of(extension: Extension) -> ExtensionData:
    """What an extension holds, in the form directory.check takes. Pins are not repeated here."""
    return ExtensionData(
        extension.number,
        extension.name,
        extension.secret,
        extension.voicemail_pin,
        extension.email,
        extension.auth_name,
        username=extension.user.username if extension.user else None,
    )


def create(
    session: Session,
    data: ExtensionData,
    actor: str,
    settings: SettingValues,
    *,
    tenant_id: int = DEFAULT_TENANT_ID,
    cell: str | None = None,
    base_url: str | None = None,
) -> Extension:
    """Add an extension a person typed: its secret and PIN must meet the policy (`settings`, the
    tenant's values). With its user account (admin.users.open_account: `data.username`, else made
    of the name; `data.user_password`, else generated, then readable as people.pending_password),
    whose account mail is queued (`base_url`: where the request came in, for its links)."""
    data = directory.check(data)
    _check_pin_is_ours(settings, data.voicemail_pin is not None)
    exists = select(Extension.id).where(Extension.tenant_id == tenant_id, Extension.number == data.number)
    if session.scalar(exists) is not None:
        raise Conflict(f"extension {data.number} already exists")
    directory.check_typed(data, settings)
    if data.template:
        directory.templates_named(session, data.template, tenant_id)
    extension = directory.save(session, data, tenant_id)
    record_change(session, actor, f"extension {data.number} added", extension=data.number, tenant_id=tenant_id)
    session.flush()
    users.open_account(
        session, extension, actor, username=data.username, password=data.user_password, cell=cell, base_url=base_url
    )
    return extension


def update(
    session: Session,
    number: str,
    changes: dict[str, str | None],
    actor: str,
    settings: SettingValues,
    *,
    tenant_id: int = DEFAULT_TENANT_ID,
) -> Extension:
    """Change the given fields; a field left out keeps its value, an empty optional field is cleared.
    A secret or PIN given must meet the policy (`settings`, the tenant's values); one kept is not
    judged again."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise DirectoryError(f"{min(unknown)}: not a field of an extension (fields: {', '.join(EDITABLE)})")
    extension = get(session, number, tenant_id=tenant_id)
    _check_not_synced(extension)
    before = data_of(extension)
    data = directory.check(_changed(before, changes))
    _check_pin_is_ours(settings, data.voicemail_pin != before.voicemail_pin)
    directory.check_typed(
        data,
        settings,
        secret=data.secret != before.secret,
        pin=data.voicemail_pin != before.voicemail_pin,
    )
    if data.template:
        directory.templates_named(session, data.template, tenant_id)
    changed = [
        f.name
        for f in fields(ExtensionData)
        if f.name in EDITABLE and f.name != "template" and getattr(data, f.name) != getattr(before, f.name)
    ]
    if data.template:
        changed.append("template")
    directory.save(session, data, tenant_id)
    if changed:
        detail = f"extension {number} changed: {', '.join(changed)}"
        record_change(session, actor, detail, extension=number, tenant_id=tenant_id)
    session.flush()
    return extension


PBX_OWNS_PINS = (
    "voicemail_pin: the PBX owns the PINs (directory_source is asterisk): change it in voicemail.conf,"
    " or from the voicemail menu"
)


def _check_pin_is_ours(settings: SettingValues, pin_given: bool) -> None:
    if pin_given and settings[DIRECTORY_SOURCE] is DirectorySource.ASTERISK:
        raise DirectoryError(PBX_OWNS_PINS)


def _check_not_synced(extension: Extension) -> None:
    """NotAllowed for an extension `hotdesk sync asterisk` manages: the PBX owns it."""
    if extension.source == SOURCE_ASTERISK:
        raise NotAllowed(
            f"extension {extension.number} is synced from the PBX (Asterisk): change it there, and"
            " `hotdesk sync asterisk` brings the change"
        )


def _changed(before: ExtensionData, changes: dict[str, str | None]) -> ExtensionData:
    def required(name: str, value: str) -> str:
        # A required field given empty stays empty, so directory.check names it.
        return (changes[name] or "") if name in changes else value

    def optional(name: str, value: str | None) -> str | None:
        return (changes[name] or None) if name in changes else value

    return replace(
        before,
        name=required("name", before.name),
        secret=required("secret", before.secret),
        voicemail_pin=optional("voicemail_pin", before.voicemail_pin),
        email=optional("email", before.email),
        auth_name=optional("auth_name", before.auth_name),
        template=optional("template", before.template),
    )


def delete(session: Session, number: str, actor: str, *, tenant_id: int = DEFAULT_TENANT_ID) -> list:
    """Delete an extension. Returns the devices it was logged into (logged out here): tell them."""
    extension = get(session, number, tenant_id=tenant_id)
    _check_not_synced(extension)
    devices = [m.device for m in session.scalars(select(Mapping).where(Mapping.extension_id == extension.id))]
    for device in devices:
        hotdesking.logout(session, device, actor=actor)
    session.delete(extension)
    record_change(session, actor, f"extension {number} deleted", extension=number, tenant_id=tenant_id)
    session.flush()
    return devices


@dataclass(frozen=True)
class ImportRow:
    line: int
    data: ExtensionData
    action: str  # "add" or "update"


@dataclass(frozen=True)
class ImportPreview(ImportCheck[ImportRow]):
    """What an extensions import would do: add or update, row by row."""

    passwords: list[users.Generated] = field(default_factory=list)  # generated by the import: hand over once


def preview_import(session: Session, text: str, source: str, *, tenant_id: int = DEFAULT_TENANT_ID) -> ImportPreview:
    """What importing `text` would do, and every row that stops it. Writes nothing."""
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        return ImportPreview([], [f"{source}, line {line}: a NUL character (is it a text file?)"])
    try:
        rows, shape_errors = directory.read_csv(text, source)
    except DirectoryError as error:
        return ImportPreview([], [str(error)])
    checked, errors = directory.check_rows(session, rows, source, tenant_id)
    errors += users.check_import_rows(session, checked, source, tenant_id)
    errors = sorted(shape_errors + errors, key=lambda error: error.line or 0)
    numbers = [data.number for _, data in checked]
    existing: dict[str, str | None] = {}
    for start in range(0, len(numbers), 500):  # stay under every database's bound-parameter limit
        owners = session.execute(
            select(Extension.number, Extension.source).where(
                Extension.tenant_id == tenant_id, Extension.number.in_(numbers[start : start + 500])
            )
        )
        existing.update((number, owner) for number, owner in owners)
    synced = [(line, data.number) for line, data in checked if existing.get(data.number) == SOURCE_ASTERISK]
    if synced:
        errors += [
            DirectoryError(f"{source}, line {line}: extension {number} is synced from the PBX: change it there", line)
            for line, number in synced
        ]
        errors = sorted(errors, key=lambda error: error.line or 0)
    return ImportPreview(
        [ImportRow(line, data, "update" if data.number in existing else "add") for line, data in checked],
        [str(error) for error in errors],
    )


def import_csv(
    session: Session,
    text: str,
    source: str,
    actor: str,
    *,
    tenant_id: int = DEFAULT_TENANT_ID,
    base_url: str | None = None,
) -> ImportPreview:
    """Import all rows or none: DirectoryError naming the first bad row if any row is bad. New
    accounts' mails are queued (`base_url`: where the request came in, for their links)."""
    preview = preview_import(session, text, source, tenant_id=tenant_id)
    if not preview.ok:
        raise DirectoryError(preview.first_error())
    for row in preview.rows:
        directory.save(session, row.data, tenant_id)
    added = sum(row.action == "add" for row in preview.rows)
    detail = f"extensions imported from {source[:200]}: {added} added, {len(preview.rows) - added} updated"
    record_change(session, actor, detail, tenant_id=tenant_id)
    session.flush()
    generated = users.open_imported_accounts(
        session, [row.data for row in preview.rows], actor, source, tenant_id, base_url=base_url
    )
    return replace(preview, passwords=generated)


@dataclass(frozen=True)
class Weak:
    number: str
    reason: str  # the rules it breaks, in words: never the secret or PIN itself


def weak_secrets(session: Session, *, tenant_id: int = DEFAULT_TENANT_ID) -> list[Weak]:
    """The tenant's extensions whose SIP secret breaks the strong policy (imported from a PBX, or
    set while secret_policy was any), in number order."""
    rows = session.execute(
        select(Extension.number, Extension.secret).where(Extension.tenant_id == tenant_id).order_by(Extension.number)
    )
    return [
        Weak(number, "needs " + "; ".join(problems))
        for number, secret in rows
        if (problems := policy.secret_problems(secret))
    ]


def weak_pins(session: Session, settings: SettingValues, *, tenant_id: int = DEFAULT_TENANT_ID) -> list[Weak]:
    """The tenant's extensions whose voicemail PIN is outside pin_length (`settings`, the tenant's
    values) or trivial to guess, in number order."""
    rows = session.execute(
        select(Extension.number, Extension.voicemail_pin)
        .where(Extension.tenant_id == tenant_id, Extension.voicemail_pin.is_not(None))
        .order_by(Extension.number)
    )
    return [
        Weak(number, reason)
        for number, pin in rows
        if pin and (reason := policy.weak_pin(pin, number, settings[PIN_LENGTH]))
    ]


@dataclass(frozen=True)
class ImportWarnings:
    """Rows an import accepts although a person could not have typed them (hotdesk.policy)."""

    weak_secrets: list[str]  # extension numbers; only under secret_policy strong
    weak_pins: list[str]

    def __bool__(self) -> bool:
        return bool(self.weak_secrets or self.weak_pins)


def import_warnings(rows: list[ImportRow], settings: SettingValues) -> ImportWarnings:
    strong = settings[SECRET_POLICY] is SecretPolicy.STRONG
    return ImportWarnings(
        [row.data.number for row in rows if strong and policy.secret_problems(row.data.secret)],
        [
            row.data.number
            for row in rows
            if row.data.voicemail_pin and policy.weak_pin(row.data.voicemail_pin, row.data.number, settings[PIN_LENGTH])
        ],
    )


def export_csv(session: Session, *, tenant_id: int = DEFAULT_TENANT_ID) -> Iterator[str]:
    """Every extension as the CSV import reads it (secrets included: it is a backup), in chunks.

    Cells a spreadsheet would run as formulas start with a quote, which the import takes off.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    query = (
        select(Extension)
        .where(Extension.tenant_id == tenant_id)
        .options(selectinload(Extension.pins).selectinload(TemplatePin.template), selectinload(Extension.user))
    )
    for chunk in in_chunks(session, query, Extension.number):
        for extension in chunk:
            pin = min(extension.pins, key=lambda p: p.brand, default=None)
            template = f"{pin.template.brand}/{pin.template.name}" if pin else ""
            cells = (
                extension.number,
                extension.name,
                extension.secret,
                extension.voicemail_pin or "",
                extension.email or "",
                extension.auth_name or "",
                template,
                extension.user.username if extension.user else "",
            )
            writer.writerow([directory.spreadsheet_safe(cell) for cell in cells])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
