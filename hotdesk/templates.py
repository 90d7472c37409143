"""Provisioning templates: stock ones seeded from epm_templates/, one default per brand.

The stock templates are the system's (tenant_id NULL): every tenant uses them. A tenant may add
its own, and make one of them its default for a brand; its phones then get it instead of the
system's default (hotdesking.choose_template: pin > the tenant's default > the system's).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hotdesk.models import Template


class TemplateError(ValueError):
    pass


def owned_by(tenant_id: int | None):
    """The condition for templates owned by the tenant (None: the system's)."""
    return Template.tenant_id.is_(None) if tenant_id is None else Template.tenant_id == tenant_id


def seed_stock(session: Session, stock: Iterable[tuple[str, str, str]]) -> None:
    """Add each (brand, name, body) the system lacks; a brand with no system default gets 'default'."""
    system = owned_by(None)
    existing = {(t.brand, t.name) for t in session.scalars(select(Template).where(system))}
    brands = set()
    for brand, name, body in stock:
        brands.add(brand)
        if (brand, name) not in existing:
            session.add(Template(brand=brand, name=name, body=body))
    session.flush()
    for brand in brands:
        has_default = session.scalar(select(Template.id).where(system, Template.brand == brand, Template.is_default))
        if has_default is None:
            fallback = session.scalar(
                select(Template)
                .where(system, Template.brand == brand)
                .order_by(Template.name != "default", Template.name)
            )
            if fallback is not None:
                fallback.is_default = True
    session.flush()


def set_default(session: Session, brand: str, name: str, tenant_id: int | None = None) -> Template:
    """Make the owner's (the system's, or the tenant's) template brand/name its default for the brand."""
    owner = owned_by(tenant_id)
    template = session.scalar(select(Template).where(owner, Template.brand == brand, Template.name == name))
    if template is None:
        raise TemplateError(f"no template {brand}/{name}")
    clear_default(session, brand, tenant_id, keep=template.id)
    template.is_default = True
    session.flush()
    return template


def clear_default(session: Session, brand: str, tenant_id: int | None, keep: int | None = None) -> None:
    """The owner's default for the brand is no longer one (a tenant then falls back to the system's)."""
    session.execute(
        update(Template)
        .where(owned_by(tenant_id), Template.brand == brand, Template.id != keep, Template.is_default)
        .values(is_default=False)
    )
    session.flush()  # the old default must be cleared before the unique index sees the new one
