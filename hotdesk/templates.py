"""Provisioning templates: stock ones seeded from epm_templates/, one default per brand."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hotdesk.models import Template


class TemplateError(ValueError):
    pass


def seed_stock(session: Session, stock: Iterable[tuple[str, str, str]]) -> None:
    """Add each (brand, name, body) not yet in the database; a brand with no default gets 'default'."""
    existing = {(t.brand, t.name) for t in session.scalars(select(Template))}
    brands = set()
    for brand, name, body in stock:
        brands.add(brand)
        if (brand, name) not in existing:
            session.add(Template(brand=brand, name=name, body=body))
    session.flush()
    for brand in brands:
        has_default = session.scalar(select(Template.id).where(Template.brand == brand, Template.is_default))
        if has_default is None:
            fallback = session.scalar(
                select(Template).where(Template.brand == brand).order_by(Template.name != "default", Template.name)
            )
            if fallback is not None:
                fallback.is_default = True
    session.flush()


def set_default(session: Session, brand: str, name: str) -> Template:
    template = session.scalar(select(Template).where(Template.brand == brand, Template.name == name))
    if template is None:
        raise TemplateError(f"no template {brand}/{name}")
    session.execute(
        update(Template).where(Template.brand == brand, Template.id != template.id).values(is_default=False)
    )
    session.flush()  # the old default must be cleared before the unique index sees the new one
    template.is_default = True
    session.flush()
    return template
