"""Tenants: organisations sharing one server, each with its SIP domain, its own provisioning
credentials and any runtime setting of its own (hotdesk.setting_store).

The `default` tenant (DEFAULT_TENANT_ID) is what an installation without tenants was: it holds every
existing row and uses the installation's settings. Tenants are named on the command line and in the
faces by name; the rows point at them by id.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from hotdesk import credentials, events
from hotdesk.models import DEFAULT_TENANT_ID, Device, EventKind, Extension, Template, Tenant, TenantSetting
from hotdesk.setting_store import Settings
from hotdesk.settings import PROVISIONING_PASSWORD, PROVISIONING_PATH, PROVISIONING_USERNAME, SettingError

DEFAULT_TENANT_NAME = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# A DNS name of at least two labels (RFC 1123): what a SIP URI's host part holds.
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


class TenantError(ValueError):
    """A tenant name or domain an admin should be told about in one line."""


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    provisioning_username: str
    provisioning_password: str  # shown once, when the tenant is made; `settings get … --tenant` shows it again
    provisioning_path: str  # for phones without HTTP credentials (Cisco enterprise): /provision/t/<path>/


def ensure_default(session: Session) -> None:
    """The default tenant a fresh database needs (the migration makes it; this puts it back after a wipe)."""
    if session.get(Tenant, DEFAULT_TENANT_ID) is None:
        session.execute(insert(Tenant).values(id=DEFAULT_TENANT_ID, name=DEFAULT_TENANT_NAME, sip_domain=None))


def by_name(session: Session, name: str | None) -> Tenant:
    """The tenant named `name`; None (no --tenant) is the default tenant."""
    if name is None:
        tenant = session.get(Tenant, DEFAULT_TENANT_ID)
    else:
        tenant = session.scalar(select(Tenant).where(Tenant.name == name.strip()))
    if tenant is None:
        raise TenantError(f"no tenant named {name!r} (hotdesk tenants list)")
    return tenant


def listing(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.id)))


def listing_with_counts(session: Session) -> list[tuple[Tenant, int]]:
    """Every tenant with how many extensions it has (one query)."""
    counts = select(Extension.tenant_id, func.count().label("extensions")).group_by(Extension.tenant_id).subquery()
    query = select(Tenant, func.coalesce(counts.c.extensions, 0)).outerjoin(counts, counts.c.tenant_id == Tenant.id)
    return [(tenant, count) for tenant, count in session.execute(query.order_by(Tenant.id))]


def add(session: Session, registry: Settings, name: str, sip_domain: str, actor: str) -> NewTenant:
    """A new tenant with its own provisioning credentials (its phones fetch with them)."""
    name, sip_domain = name.strip(), sip_domain.strip().lower()
    if not _NAME.match(name):
        raise TenantError(f"{name!r} is not a tenant name: letters, digits, '.', '_', '-', at most 64")
    if not _DOMAIN.match(sip_domain):
        raise TenantError(f"{sip_domain!r} is not a SIP domain (a DNS name such as acme.example.com)")
    if session.scalar(select(Tenant.id).where(Tenant.name == name)) is not None:
        raise TenantError(f"tenant {name!r} exists already")
    if session.scalar(select(Tenant.id).where(Tenant.sip_domain == sip_domain)) is not None:
        raise TenantError(f"SIP domain {sip_domain!r} belongs to another tenant")
    tenant = Tenant(name=name, sip_domain=sip_domain)
    session.add(tenant)
    session.flush()
    username = _free_provisioning_username(session, registry, name)
    password, path = PROVISIONING_PASSWORD.default(), PROVISIONING_PATH.default()
    registry.set(session, PROVISIONING_USERNAME.name, username, tenant.id)
    registry.set(session, PROVISIONING_PASSWORD.name, password, tenant.id)
    registry.set(session, PROVISIONING_PATH.name, path, tenant.id)
    # The operator's doing, in the installation's history (the default tenant's): where a system admin
    # looks, and where it stays once the tenant is gone.
    events.record(session, EventKind.ADMIN, tenant_id=DEFAULT_TENANT_ID, actor=actor, detail=f"tenant {name} added")
    session.flush()
    return NewTenant(tenant, username, password, path)


def remove(session: Session, name: str, actor: str) -> None:
    """Remove a tenant that has no extensions left; its phones, templates and settings go with it."""
    tenant = by_name(session, name)
    if tenant.id == DEFAULT_TENANT_ID:
        raise TenantError("the default tenant cannot be removed")
    count = session.scalar(select(func.count()).select_from(Extension).where(Extension.tenant_id == tenant.id))
    if count:
        raise TenantError(f"tenant {tenant.name!r} still has {count} extension(s): delete them first")
    session.execute(delete(Device).where(Device.tenant_id == tenant.id))
    session.execute(delete(Template).where(Template.tenant_id == tenant.id))
    session.execute(delete(TenantSetting).where(TenantSetting.tenant_id == tenant.id))
    session.delete(tenant)
    events.record(
        session, EventKind.ADMIN, tenant_id=DEFAULT_TENANT_ID, actor=actor, detail=f"tenant {tenant.name} removed"
    )
    session.flush()


def check_setting(session: Session, registry: Settings, name: str, value: str, tenant_id: int | None) -> None:
    """What a setting's own check cannot see: a provisioning username or path names one tenant only
    (a phone's credentials, or the path it fetches under, decide its tenant)."""
    if name not in (PROVISIONING_USERNAME.name, PROVISIONING_PATH.name):
        return
    value = registry.spec(name).check(value)
    if name == PROVISIONING_USERNAME.name and credentials.looks_issued(value):
        raise SettingError(f"provisioning_username {value!r} has the form of a phone's own user name: choose another")
    if not value:
        return
    for other in listing(session):
        if other.id != (tenant_id or DEFAULT_TENANT_ID) and registry.get(session, name, other.id) == value:
            shown = repr(value) if name == PROVISIONING_USERNAME.name else "(hidden)"  # the path is a secret
            raise SettingError(f"{name} {shown} is the tenant {other.name!r}'s: choose another")


def _free_provisioning_username(session: Session, registry: Settings, name: str) -> str:
    taken = {registry.get(session, PROVISIONING_USERNAME.name, t.id) for t in listing(session)}
    candidate = f"hotdesk-{name}"[:64]
    while candidate in taken:
        candidate = f"hotdesk-{name}"[:57] + "-" + secrets.token_hex(3)
    return candidate
