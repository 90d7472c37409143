"""Telling phones to reload: NOTIFY sent in the background, its outcome written to the history."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from hotdesk.brands import BRANDS
from hotdesk.models import Device, Event, EventKind
from hotdesk.notify import NotifyDispatcher, NotifyOutcome, NotifyRequest
from hotdesk.settings import SettingValues


@dataclass(frozen=True)
class DeviceNotify(NotifyRequest):
    mac: str | None = None
    brand: str | None = None


def notification_recorder(sessions: sessionmaker[Session]):
    def record(request: NotifyRequest, outcome: NotifyOutcome) -> None:
        with sessions() as session:
            session.add(
                Event(
                    kind=EventKind.NOTIFY.value,
                    mac=getattr(request, "mac", None),
                    brand=getattr(request, "brand", None),
                    ip=request.host,
                    actor="hotdesk",
                    detail=f"{request.event}: {'delivered' if outcome.delivered else 'not delivered'}, "
                    f"{outcome.detail} ({request.reason})",
                )
            )
            session.commit()

    return record


def tell_device(
    notifier: NotifyDispatcher, *, host: str | None, port: int, event: str, mac: str, brand: str, reason: str
) -> Future[NotifyOutcome] | None:
    """Queue a NOTIFY to the phone at `host`; returns the future of its outcome, never waits for it.

    The body, if the brand's phones want one with this event, comes from the brand (Brand.notify_body).
    """
    if host:
        body = BRANDS[brand].notify_body() if brand in BRANDS else None
        extra = {"body": body.text, "content_type": body.content_type} if body else {}
        return notifier.submit(
            DeviceNotify(host=host, port=port, event=event, reason=reason, mac=mac, brand=brand, **extra)
        )
    return None


def reload_device(
    notifier: NotifyDispatcher, settings: SettingValues, device: Device, *, reason: str, host: str | None
) -> Future[NotifyOutcome] | None:
    """Queue the brand's reload NOTIFY to the phone at `host` (hotdesking.reload_address: where the
    device is known to be, never whoever asked). None: no brand or no address to tell."""
    brand = BRANDS.get(device.brand)
    if brand is None or host is None:
        return None
    return tell_device(
        notifier,
        host=host,
        port=int(settings["phone_sip_port"]),
        event=brand.notify_event(settings),
        mac=device.mac,
        brand=device.brand,
        reason=reason,
    )
