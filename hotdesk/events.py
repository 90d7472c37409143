"""The append-only history: who logged in or out where, failures, NOTIFY outcomes."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hotdesk.models import Device, Event, EventKind


def record(
    session: Session,
    kind: EventKind,
    *,
    extension: str | None = None,
    device: Device | None = None,
    template: str | None = None,
    address: str | None = None,
    ip: str | None = None,
    actor: str | None = None,
    detail: str | None = None,
) -> Event:
    event = Event(
        kind=kind.value,
        extension=extension,
        mac=device.mac if device else None,
        brand=device.brand if device else None,
        model=device.model if device else None,
        template=template,
        address=address,
        ip=ip,
        actor=actor,
        detail=detail,
    )
    session.add(event)
    return event
