"""The registry of known settings (core ones plus those brands declare) and their values in the database.

A value is the installation's (`settings`) unless a tenant has its own (`tenant_settings`): every
method takes the tenant it is asked for, None meaning the installation. The default tenant has no
values of its own: it is what an installation without tenants was."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeGuard

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotdesk.models import DEFAULT_TENANT_ID, Setting, TenantSetting
from hotdesk.settings import SettingError, SettingSpec, SettingValues


class Settings:
    """The registry of known settings (core ones plus those brands declare) over a DB session."""

    def __init__(self, specs: Iterable[SettingSpec[Any]]):
        self.specs = {spec.name: spec for spec in specs}

    def spec(self, name: str) -> SettingSpec[Any]:
        try:
            return self.specs[name]
        except KeyError:
            raise SettingError(f"unknown setting {name!r} (known: {', '.join(sorted(self.specs))})") from None

    def get(self, session: Session, name: str, tenant_id: int | None = None) -> str:
        """The tenant's value, else the installation's, else the default."""
        spec = self.spec(name)
        if _own(tenant_id) and (own := session.get(TenantSetting, (tenant_id, name))) is not None:
            return own.value
        value = session.get(Setting, name)
        return value.value if value is not None else spec.default()

    def all(self, session: Session, tenant_id: int | None = None) -> dict[str, str]:
        stored = dict(session.execute(select(Setting.name, Setting.value)).all())
        if _own(tenant_id):
            stored |= self.overrides(session, tenant_id)
        # Defaults only for what is not stored: some generate random passwords, costly per request.
        return {name: stored[name] if name in stored else spec.default() for name, spec in self.specs.items()}

    def overrides(self, session: Session, tenant_id: int) -> dict[str, str]:
        """The values a tenant has of its own."""
        query = select(TenantSetting.name, TenantSetting.value).where(TenantSetting.tenant_id == tenant_id)
        return {name: value for name, value in session.execute(query) if name in self.specs}

    def values(self, session: Session, tenant_id: int | None = None) -> SettingValues:
        """Every setting's value for the tenant, typed (what the code reads)."""
        return SettingValues(self.specs.values(), self.all(session, tenant_id))

    def typed(self, stored: dict[str, str]) -> SettingValues:
        """Values already read (the snapshot's), typed."""
        return SettingValues(self.specs.values(), stored)

    def set(self, session: Session, name: str, value: str, tenant_id: int | None = None) -> str:
        value = self.spec(name).check(value)
        if _own(tenant_id):
            session.merge(TenantSetting(tenant_id=tenant_id, name=name, value=value))
        else:
            session.merge(Setting(name=name, value=value))
        return value

    def unset(self, session: Session, name: str, tenant_id: int) -> None:
        """The tenant takes the installation's value again."""
        self.spec(name)
        own = session.get(TenantSetting, (tenant_id, name))
        if own is not None:
            session.delete(own)

    def seed(self, session: Session) -> None:
        """Store a value for every setting that has none, so generated passwords stay fixed."""
        stored = set(session.scalars(select(Setting.name)))
        for name, spec in self.specs.items():
            if name not in stored:
                session.add(Setting(name=name, value=spec.default()))


def _own(tenant_id: int | None) -> TypeGuard[int]:
    """Does this tenant keep values of its own? The default tenant's are the installation's."""
    return tenant_id is not None and tenant_id != DEFAULT_TENANT_ID
