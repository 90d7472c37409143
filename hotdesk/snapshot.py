"""Settings (the installation's and each tenant's), tenants, templates and pins, read once per
process and reused until one of them changes.

Every provisioning request needs all the settings and its brand's templates, and they change
only when an admin edits them. The counter `revisions.config` goes up in the same transaction as
any change to a setting, a template or a pin (hooks on every session factory, `track`, so no code path can forget it); a
request reads that one number and reuses the copy it already holds while the number matches. So
every worker, on every host, sees a change from its next request on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain

from sqlalchemy import Row, event, insert, select, update
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from hotdesk.models import DEFAULT_TENANT_ID, Revision, Setting, Template, TemplatePin, Tenant, TenantSetting
from hotdesk.setting_store import Settings
from hotdesk.settings import PROVISIONING_PASSWORD, PROVISIONING_PATH, PROVISIONING_USERNAME, SettingValues

COUNTER = "config"
CONFIG_MODELS = (Setting, TenantSetting, Tenant, Template, TemplatePin)  # what the counter watches
CONFIG_TABLES = frozenset(model.__table__ for model in CONFIG_MODELS)


@dataclass(frozen=True)
class CachedTemplate:
    """A template as rendering needs it, detached from any session."""

    id: int
    brand: str
    name: str
    body: str
    is_default: bool
    tenant_id: int | None = None  # None: the system's


@dataclass(frozen=True)
class CachedTenant:
    id: int
    name: str
    sip_domain: str | None


@dataclass(frozen=True)
class SharedCredentials:
    """A tenant's provisioning credentials, which every phone of the tenant holds: they prove the
    tenant, never a device (hotdesk.trust)."""

    tenant_id: int
    password: str


@dataclass(frozen=True)
class Snapshot:
    revision: int | None
    settings: SettingValues  # the installation's (the default tenant's), typed, parsed once
    templates: dict[int, CachedTemplate]
    defaults: dict[str, CachedTemplate]  # brand -> the system's default template
    pins: dict[tuple[int, str], CachedTemplate]  # (extension id, brand) -> the template it is pinned to
    tenants: dict[int, CachedTenant] = field(default_factory=dict)
    overrides: dict[int, dict[str, str]] = field(default_factory=dict)  # tenant id -> its own values
    shared_credentials: dict[str, SharedCredentials] = field(default_factory=dict)  # by username
    provisioning_paths: dict[str, int] = field(default_factory=dict)  # a tenant's provisioning_path -> the tenant
    _stored: dict[str, str] = field(default_factory=dict)  # the installation's values, as stored
    _registry: Settings | None = None
    _per_tenant: dict[int, SettingValues] = field(default_factory=dict, compare=False)
    tenant_defaults: dict[tuple[int, str], CachedTemplate] = field(default_factory=dict)  # (tenant, brand) -> its own

    def default_for(self, tenant_id: int, brand: str) -> CachedTemplate | None:
        """The brand's default for the tenant's phones: its own, else the system's."""
        return self.tenant_defaults.get((tenant_id, brand)) or self.defaults.get(brand)

    def settings_for(self, tenant_id: int) -> SettingValues:
        """The tenant's typed settings: its own values, else the installation's. Typed once per
        tenant and snapshot (a dict write under the GIL; two threads typing the same tenant at once
        both get equal values)."""
        if tenant_id not in self.overrides or self._registry is None:
            return self.settings
        typed = self._per_tenant.get(tenant_id)
        if typed is None:
            typed = self._per_tenant[tenant_id] = self._registry.typed(self._stored | self.overrides[tenant_id])
        return typed


class SnapshotCache:
    """One per process (the app holds it); safe to share between threads."""

    def __init__(self, registry: Settings):
        self.registry = registry
        self._current: Snapshot | None = None
        self._lock = threading.Lock()

    def get(self, session: Session) -> Snapshot:
        revision = session.scalar(_REVISION)
        current = self._current
        if current is not None and revision is not None and current.revision == revision:
            return current
        with self._lock:
            current = self._current
            if current is None or revision is None or current.revision != revision:  # not read meanwhile
                current = self._current = self._load(session, revision)
        return current

    def _load(self, session: Session, revision: int | None) -> Snapshot:
        # Core rows on the session's connection (same transaction): with a thousand tenants and their
        # settings, the ORM's row handling was most of a rebuild's cost.
        connection = session.connection()

        def rows(query) -> Sequence[Row]:
            return connection.execute(query).all()  # one fetchall, not a fetchone per row

        templates = {
            row[0]: CachedTemplate(*row)
            for row in rows(
                select(
                    Template.id, Template.brand, Template.name, Template.body, Template.is_default, Template.tenant_id
                )
            )
        }
        defaults = {t.brand: t for t in templates.values() if t.is_default and t.tenant_id is None}
        tenant_defaults = {
            (t.tenant_id, t.brand): t for t in templates.values() if t.is_default and t.tenant_id is not None
        }
        pins = {
            (extension_id, brand): templates[template_id]
            for extension_id, brand, template_id in rows(
                select(TemplatePin.extension_id, TemplatePin.brand, TemplatePin.template_id)
            )
        }
        stored = self.registry.all(session)
        tenants = {row[0]: CachedTenant(*row) for row in rows(select(Tenant.id, Tenant.name, Tenant.sip_domain))}
        overrides: dict[int, dict[str, str]] = {}
        known = self.registry.specs
        for tenant_id, name, value in rows(select(TenantSetting.tenant_id, TenantSetting.name, TenantSetting.value)):
            if name in known and tenant_id != DEFAULT_TENANT_ID:
                overrides.setdefault(tenant_id, {})[name] = value
        return Snapshot(
            revision,
            self.registry.typed(stored),
            templates,
            defaults,
            pins,
            tenants=tenants,
            overrides=overrides,
            shared_credentials=_shared_credentials(stored, overrides),
            provisioning_paths=_provisioning_paths(stored, overrides),
            _stored=stored,
            _registry=self.registry,
            tenant_defaults=tenant_defaults,
        )


def _shared_credentials(stored: dict[str, str], overrides: dict[int, dict[str, str]]) -> dict[str, SharedCredentials]:
    """Each tenant's provisioning username -> its tenant and password. A tenant without a username of
    its own has none (it would be the installation's, which is the default tenant's)."""
    by_username = {
        values[PROVISIONING_USERNAME.name]: SharedCredentials(
            tenant_id, values.get(PROVISIONING_PASSWORD.name, stored[PROVISIONING_PASSWORD.name])
        )
        for tenant_id, values in overrides.items()
        if values.get(PROVISIONING_USERNAME.name)
    }
    if stored[PROVISIONING_USERNAME.name]:
        by_username[stored[PROVISIONING_USERNAME.name]] = SharedCredentials(
            DEFAULT_TENANT_ID, stored[PROVISIONING_PASSWORD.name]
        )
    return by_username


def _provisioning_paths(stored: dict[str, str], overrides: dict[int, dict[str, str]]) -> dict[str, int]:
    """Each tenant's provisioning path -> the tenant. As for the credentials, a tenant without one of
    its own has none (the installation's is the default tenant's)."""
    paths = {
        values[PROVISIONING_PATH.name]: tenant_id
        for tenant_id, values in overrides.items()
        if values.get(PROVISIONING_PATH.name)
    }
    if stored[PROVISIONING_PATH.name]:
        paths[stored[PROVISIONING_PATH.name]] = DEFAULT_TENANT_ID
    return paths


_REVISION = select(Revision.value).where(Revision.name == COUNTER)


def ensure_counter(session: Session) -> None:
    """The counter row a fresh database needs (the migration adds it; this puts it back after a wipe).

    It starts from the clock: servers still running against a wiped and refilled database must
    not find the number they cached."""
    if session.scalar(select(Revision.name).where(Revision.name == COUNTER)) is None:
        session.execute(insert(Revision).values(name=COUNTER, value=time.time_ns() // 1000))


def _bump(session: Session) -> None:
    # Core on the session's connection: no autoflush, same transaction as the change it marks.
    session.connection().execute(
        update(Revision.__table__).where(Revision.name == COUNTER).values(value=Revision.value + 1)
    )


def track(sessions: sessionmaker[Session]) -> None:
    """Bump the counter from every session `sessions` makes (db.make_session_factory calls it)."""
    event.listen(sessions, "before_flush", _bump_on_flush)
    event.listen(sessions, "do_orm_execute", _bump_on_bulk_statement)


def _bump_on_flush(session: Session, _context, _instances) -> None:
    if any(isinstance(obj, CONFIG_MODELS) for obj in chain(session.new, session.dirty, session.deleted)):
        _bump(session)


def _bump_on_bulk_statement(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and getattr(
        state.statement, "table", None
    ) in CONFIG_TABLES:
        _bump(state.session)
