"""Runtime settings as admins see them: secret values are never listed, and a change is recorded."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from hotdesk import tenancy
from hotdesk.admin import NotFound, record_change
from hotdesk.models import DEFAULT_TENANT_ID
from hotdesk.setting_store import Settings
from hotdesk.settings import PROVISIONING_PASSWORD, PROVISIONING_USERNAME, SettingError


@dataclass(frozen=True)
class SettingView:
    name: str
    value: str | None  # None for a secret: ask for it by name
    help: str
    secret: bool


def listing(session: Session, registry: Settings, tenant_id: int | None = None) -> list[SettingView]:
    values = registry.all(session, tenant_id)
    return [
        SettingView(name, None if spec.secret else values[name], spec.help, spec.secret)
        for name, spec in sorted(registry.specs.items())
    ]


def get(session: Session, registry: Settings, name: str, tenant_id: int | None = None) -> SettingView:
    """One setting with its value (the tenant's, else the installation's), a secret's too: the face
    decides who may read that."""
    if name not in registry.specs:
        raise NotFound(f"no setting {name!r}")
    spec = registry.spec(name)
    return SettingView(name, registry.get(session, name, tenant_id), spec.help, spec.secret)


def change(
    session: Session, registry: Settings, name: str, value: str, actor: str, *, tenant_id: int | None = None
) -> str:
    """Check and store one setting, the installation's or (`tenant_id`) a tenant's own; the history
    names it (and its value, unless it is a secret)."""
    tenancy.check_setting(session, registry, name, value, tenant_id)
    old = registry.get(session, name, tenant_id)
    stored = registry.set(session, name, value, tenant_id)
    if stored != old:
        shown = "(secret)" if registry.spec(name).secret else repr(stored)
        record_change(session, actor, f"setting {name} = {shown}", tenant_id=tenant_id)
    session.flush()
    return stored


def unset(session: Session, registry: Settings, name: str, actor: str, *, tenant_id: int) -> None:
    """A tenant's own value goes; it takes the installation's again. A tenant keeps its own provisioning
    credentials: the installation's are the default tenant's."""
    if name in (PROVISIONING_USERNAME.name, PROVISIONING_PASSWORD.name) and tenant_id != DEFAULT_TENANT_ID:
        raise SettingError(f"{name}: every tenant has its own (set another value instead)")
    registry.unset(session, name, tenant_id)
    record_change(session, actor, f"setting {name}: the installation's value again", tenant_id=tenant_id)
    session.flush()
