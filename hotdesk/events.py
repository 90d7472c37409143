"""The append-only history: who logged in or out where, failures, NOTIFY outcomes."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from hotdesk import lockout
from hotdesk.models import DEFAULT_TENANT_ID, Device, Event, EventKind


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
    tenant_id: int | None = None,
) -> Event:
    """`tenant_id`: the tenant the event is about; else the device's; else the default tenant's."""
    if tenant_id is None:
        tenant_id = device.tenant_id if device is not None and device.tenant_id is not None else DEFAULT_TENANT_ID
    event = Event(
        tenant_id=tenant_id,
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


def locked_for(
    session: Session,
    who: ColumnElement[bool],
    *,
    failed: EventKind,
    resets: tuple[EventKind, ...],
    allowed: int,
    window: timedelta,
    now: datetime,
) -> timedelta | None:
    """How long `who` (e.g. Event.mac == mac) stays locked out: `allowed` `failed` events within
    `window`, counted since the last of `resets`. None when not locked. The rule is hotdesk.lockout's
    (the one lockout counter), here without growth: every lock lasts `window`."""
    reset = session.scalar(select(func.max(Event.at)).where(who, Event.kind.in_([kind.value for kind in resets])))
    since = max(now - window, reset) if reset else now - window
    failures = list(
        session.scalars(
            select(Event.at)
            .where(who, Event.kind == failed.value, Event.at > since)
            .order_by(Event.at.desc())
            .limit(lockout.MOST_FAILURES_READ)
        )
    )
    policy = lockout.Policy(allowed, window, window, forget_after=window)
    lock = policy.lock(failures, now, complete=len(failures) < lockout.MOST_FAILURES_READ)
    return lock.remaining(now) if lock else None
