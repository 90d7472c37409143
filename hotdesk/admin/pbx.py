"""The PBX as the source of truth: `sync asterisk` makes the tenant's extensions what the pjsip
files say (hotdesk.pbx.pjsip), and marks them as the PBX's (Extension.source), which the faces then
refuse to edit (admin.extensions).

All or nothing: a line Asterisk would refuse stops the sync with `file:line: problem` and nothing
changes. Weak secrets are reported, never refused: they are the PBX's. An extension hotdesk had of
its own (a CSV import from the same PBX, say) that the files define is taken over; one the sync
made that the files no longer define is removed, logged out of its phones first (the caller tells
them). Voicemail PINs stay in voicemail.conf (directory_source asterisk reads them live).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hotdesk import directory, hotdesking, policy
from hotdesk.admin import AdminError, NotAllowed, record_change, users
from hotdesk.directory import DirectoryError, ExtensionData
from hotdesk.models import DEFAULT_TENANT_ID, SOURCE_ASTERISK, Device, Extension, Mapping, TenantSetting
from hotdesk.pbx import config, pjsip
from hotdesk.settings import ASTERISK_CONFIG_DIR, SECRET_POLICY, SecretPolicy, SettingValues


class SyncError(AdminError):
    """The pjsip files cannot be read as Asterisk would: `file:line: problem`. Nothing changed."""


@dataclass(frozen=True)
class SyncChange:
    number: str
    action: str  # add, change, take over, remove, skip
    detail: str = ""  # the fields changed, or why it was skipped: never a secret


@dataclass(frozen=True)
class SyncReport:
    dry_run: bool
    changes: list[SyncChange]
    unchanged: int
    weak_secrets: list[str]  # numbers whose secret breaks the strong policy: reported, not refused
    accounts_opened: int = 0
    logged_out: list[Device] = field(default_factory=list)  # phones of removed extensions: tell them

    def count(self, action: str) -> int:
        return sum(change.action == action for change in self.changes)

    def summary(self) -> str:
        would = "would be " if self.dry_run else ""
        return (
            f"{self.count('add')} {would}added, {self.count('change') + self.count('take over')} {would}changed,"
            f" {self.count('remove')} {would}removed, {self.unchanged} unchanged, {self.count('skip')} skipped"
        )


def sync_asterisk(
    session: Session,
    settings: SettingValues,
    actor: str,
    *,
    tenant_id: int = DEFAULT_TENANT_ID,
    dry_run: bool = False,
) -> SyncReport:
    """Make the tenant's extensions what pjsip.conf (under asterisk_config_dir) defines; `dry_run`:
    only say what would change. SyncError names the first bad line; nothing is written then."""
    if tenant_id != DEFAULT_TENANT_ID and session.get(TenantSetting, (tenant_id, ASTERISK_CONFIG_DIR.name)) is None:
        # The installation's directory is the default tenant's PBX: its secrets are no other tenant's.
        raise NotAllowed(
            "this tenant has no asterisk_config_dir of its own: a system admin sets it"
            " (hotdesk settings set asterisk_config_dir DIR --tenant T)"
        )
    source = settings[ASTERISK_CONFIG_DIR]
    try:
        found = pjsip.read(source)
    except config.ConfigError as error:
        raise SyncError(str(error)) from None
    existing = {
        extension.number: extension
        for extension in session.scalars(
            select(Extension).where(Extension.tenant_id == tenant_id).options(selectinload(Extension.user))
        )
    }
    changes: list[SyncChange] = [SyncChange(skip.number, "skip", skip.reason) for skip in found.skipped]
    planned: list[tuple[ExtensionData, Extension | None]] = []
    unchanged = 0
    for endpoint in found.endpoints:
        extension = existing.get(endpoint.number)
        try:
            data = directory.check(
                ExtensionData(
                    endpoint.number,
                    endpoint.name,
                    endpoint.secret,
                    extension.voicemail_pin if extension else None,
                    extension.email if extension else None,
                    endpoint.auth_name,
                )
            )
        except DirectoryError as error:
            changes.append(SyncChange(endpoint.number, "skip", f"{endpoint.file}:{endpoint.line}: {error}"))
            continue
        if extension is None:
            changes.append(SyncChange(data.number, "add"))
            planned.append((data, None))
            continue
        differs = [
            name
            for name, now in (
                ("name", extension.name),
                ("secret", extension.secret),
                ("auth_name", extension.auth_name),
            )
            if getattr(data, name) != now
        ]
        if extension.source != SOURCE_ASTERISK:
            changes.append(SyncChange(data.number, "take over", ", ".join(differs)))
        elif differs:
            changes.append(SyncChange(data.number, "change", ", ".join(differs)))
        else:
            unchanged += 1
            continue
        planned.append((data, extension))
    defined = {endpoint.number for endpoint in found.endpoints}
    gone = [e for number, e in sorted(existing.items()) if e.source == SOURCE_ASTERISK and number not in defined]
    changes += [SyncChange(extension.number, "remove") for extension in gone]
    strong = settings[SECRET_POLICY] is SecretPolicy.STRONG
    weak = sorted(e.number for e in found.endpoints if strong and policy.secret_problems(e.secret))
    report = SyncReport(dry_run, changes, unchanged, weak)
    if dry_run or not (planned or gone):
        return report
    for data, _ in planned:
        directory.save(session, data, tenant_id).source = SOURCE_ASTERISK
    logged_out: list[Device] = []
    for extension in gone:
        for mapping in list(session.scalars(select(Mapping).where(Mapping.extension_id == extension.id))):
            logged_out.append(mapping.device)
            hotdesking.logout(session, mapping.device, actor=actor)
        session.delete(extension)
    session.flush()
    generated = users.open_imported_accounts(
        session, [data for data, before in planned if before is None], actor, "the PBX (sync asterisk)", tenant_id
    )
    record_change(
        session, actor, f"extensions synced from Asterisk ({source}): {report.summary()}", tenant_id=tenant_id
    )
    session.flush()
    return SyncReport(dry_run, changes, unchanged, weak, len(generated), logged_out)
