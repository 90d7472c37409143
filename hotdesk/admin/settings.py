"""Runtime settings as admins see them: secret values are never listed, and a change is recorded."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from hotdesk import tenancy
from hotdesk.admin import NotAllowed, NotFound, record_change
from hotdesk.models import DEFAULT_TENANT_ID
from hotdesk.setting_store import Settings
from hotdesk.settings import PROVISIONING_PASSWORD, PROVISIONING_USERNAME, SettingError

# What a tenant manager may read but not change: the shared server's own business.
# - device_admission: which phones get credentials at all is the operator's trust decision (a
#   tenant on `open` would hand any MAC on the Internet its provisioning files).
# - new_devices_per_minute, device_requests_per_minute, anonymous_requests_per_minute: they protect
#   the one server every tenant shares; a tenant lifting them spends its neighbours' capacity.
# - phone_base_url: the server's own address, not a tenant's.
# - provisioning_username: it decides which tenant a phone belongs to, must differ from every
#   other tenant's (a clash would name the other tenant), and renaming it strands the tenant's
#   phones; the provisioning password a manager may rotate.
# - secret_policy: weak SIP secrets on a hosted PBX are the operator's toll-fraud bill.
# - smtp_ca_file: a path on the server, which the mail senders read: the server's files are not a tenant's.
# - directory_source, asterisk_config_dir, voicemail_context, the AMI's: which files of the server
#   are read, and which host it connects to, with whose PINs: a tenant pointing them elsewhere
#   would read the server's files or another tenant's mailboxes, or make it connect anywhere.
SYSTEM_ONLY = frozenset(
    {
        "device_admission",
        "new_devices_per_minute",
        "device_requests_per_minute",
        "anonymous_requests_per_minute",
        "phone_base_url",
        PROVISIONING_USERNAME.name,
        "secret_policy",
        "directory_source",
        "asterisk_config_dir",
        "voicemail_context",
        "notify_via",
        "ami_host",
        "ami_port",
        "ami_username",
        "ami_secret",
        "smtp_ca_file",
    }
)


@dataclass(frozen=True)
class SettingView:
    name: str
    value: str | None  # None for a secret: ask for it by name
    help: str
    secret: bool


def get(
    session: Session, registry: Settings, name: str, tenant_id: int | None = None, *, manager: bool = False
) -> SettingView:
    """One setting with its value, a secret's too: the face decides who may read that. A tenant
    `manager` reads a secret only if it is the tenant's own: one it inherits is the installation's,
    shared with other tenants (the admin_password that logs anyone in, say)."""
    if name not in registry.specs:
        raise NotFound(f"no setting {name!r}")
    spec = registry.spec(name)
    if manager and spec.secret and tenant_id is not None and name not in registry.overrides(session, tenant_id):
        raise NotAllowed(f"{name}: the tenant has no value of its own; the installation's is a system admin's to read")
    return SettingView(name, registry.get(session, name, tenant_id), spec.help, spec.secret)


def check_manager_may_change(name: str, tenant_id: int | None) -> None:
    """NotAllowed if a tenant manager may not set `name` for `tenant_id` (see SYSTEM_ONLY)."""
    if tenant_id is None or tenant_id == DEFAULT_TENANT_ID:
        raise NotAllowed(
            "the default tenant's settings are the installation's, which every tenant inherits: "
            "a system admin changes them"
        )
    if name in SYSTEM_ONLY:
        raise NotAllowed(f"{name}: a setting of the whole server, which only a system admin changes")


def listing(session: Session, registry: Settings, tenant_id: int | None = None) -> list[SettingView]:
    values = registry.all(session, tenant_id)
    return [
        SettingView(name, None if spec.secret else values[name], spec.help, spec.secret)
        for name, spec in sorted(registry.specs.items())
    ]


def change(
    session: Session,
    registry: Settings,
    name: str,
    value: str,
    actor: str,
    *,
    tenant_id: int | None = None,
    manager: bool = False,
) -> str:
    """Check and store one setting, the installation's or (`tenant_id`) a tenant's own; the history
    names it (and its value, unless it is a secret). A tenant `manager` changes only some, and only
    their tenant's own (check_manager_may_change)."""
    if manager:
        check_manager_may_change(name, tenant_id)
    tenancy.check_setting(session, registry, name, value, tenant_id)
    old = registry.get(session, name, tenant_id)
    stored = registry.set(session, name, value, tenant_id)
    if stored != old:
        shown = "(secret)" if registry.spec(name).secret else repr(stored)
        record_change(session, actor, f"setting {name} = {shown}", tenant_id=tenant_id)
    session.flush()
    return stored


def unset(
    session: Session, registry: Settings, name: str, actor: str, *, tenant_id: int, manager: bool = False
) -> None:
    """A tenant's own value goes; it takes the installation's again. A tenant keeps its own provisioning
    credentials: the installation's are the default tenant's."""
    if manager:
        check_manager_may_change(name, tenant_id)
    if name not in registry.specs:
        raise NotFound(f"no setting {name!r}")
    if tenant_id == DEFAULT_TENANT_ID:
        raise SettingError(f"{name}: the default tenant's values are the installation's; set another value instead")
    if name in (PROVISIONING_USERNAME.name, PROVISIONING_PASSWORD.name) and tenant_id != DEFAULT_TENANT_ID:
        raise SettingError(f"{name}: every tenant has its own (set another value instead)")
    registry.unset(session, name, tenant_id)
    record_change(session, actor, f"setting {name}: the installation's value again", tenant_id=tenant_id)
    session.flush()
