"""Pins: an extension pinned to one template of a brand, used whenever it logs into that brand's phone."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from hotdesk import directory
from hotdesk.admin import NotFound, record_change
from hotdesk.admin.extensions import get as get_extension
from hotdesk.models import DEFAULT_TENANT_ID, Extension, TemplatePin
from hotdesk.templates import TemplateError


def listing(session: Session, number: str | None = None, tenant_id: int = DEFAULT_TENANT_ID) -> list[TemplatePin]:
    """The pins of the tenant's extensions."""
    query = (
        select(TemplatePin)
        .join(Extension)
        .where(Extension.tenant_id == tenant_id)
        .options(joinedload(TemplatePin.extension), joinedload(TemplatePin.template))
        .order_by(Extension.number, TemplatePin.brand)
    )
    if number:
        query = query.where(Extension.number == number)
    return list(session.scalars(query))


def pin(session: Session, number: str, reference: str, actor: str, tenant_id: int = DEFAULT_TENANT_ID) -> TemplatePin:
    """Pin the tenant's extension to the template `brand/name`: the tenant's own of that name, else
    the system's (never another tenant's)."""
    brand, _, name = reference.partition("/")
    if not brand or not name:
        raise TemplateError(f"template: {reference!r} is not brand/name (e.g. yealink/default)")
    extension = get_extension(session, number, tenant_id=tenant_id)
    [template] = directory.templates_named(session, reference, tenant_id)
    directory.pin_template(session, extension, template)
    record_change(
        session,
        actor,
        f"extension {number} pinned to {brand}/{name}",
        extension=number,
        brand=brand,
        template=name,
        tenant_id=tenant_id,
    )
    session.flush()
    return next(p for p in extension.pins if p.brand == brand)


def unpin(session: Session, number: str, brand: str, actor: str, tenant_id: int = DEFAULT_TENANT_ID) -> None:
    extension = get_extension(session, number, tenant_id=tenant_id)
    found = [p for p in extension.pins if p.brand == brand]
    if not found:
        raise NotFound(f"extension {number} has no {brand} template pinned")
    extension.pins.remove(found[0])
    record_change(
        session,
        actor,
        f"extension {number} unpinned from {brand}/{found[0].template.name}",
        extension=number,
        brand=brand,
        tenant_id=tenant_id,
    )
    session.flush()
