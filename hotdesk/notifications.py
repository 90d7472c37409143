"""Telling phones to reload: NOTIFY sent in the background, its outcome written to the history."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from hotdesk.db import after_commit
from hotdesk.models import Device, Event, EventKind
from hotdesk.notify import NotifyDispatcher, NotifyOutcome, NotifyRequest, PbxRoute
from hotdesk.pbx import ami
from hotdesk.settings import (
    AMI_HOST,
    AMI_PORT,
    AMI_SECRET,
    AMI_USERNAME,
    NOTIFY_FALLBACK,
    NOTIFY_VIA,
    PHONE_SIP_PORT,
    NotifyVia,
    SettingValues,
)


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


@dataclass(frozen=True)
class NotifyFlavour:
    """The reload NOTIFY one brand's phones want: its Event header, and a body for the few that want one."""

    event: str
    body: str = ""
    content_type: str | None = None


Flavours = Callable[[str, SettingValues], NotifyFlavour | None]
"""A brand's key and the settings -> its reload NOTIFY; None for a brand hotdesk does not know."""


class DeviceNotifier:
    """Tells devices to reload: NOTIFYs sent by `sender` in the flavour of each device's brand.

    `flavour` is handed in by hotdesk.runtime.build, the one place that puts core and brands
    together: this module, like the rest of the core, names no brand."""

    def __init__(self, sender: NotifyDispatcher, flavour: Flavours):
        self.sender = sender
        self.flavour = flavour

    def shutdown(self, wait: bool = True) -> None:
        self.sender.shutdown(wait=wait)


def reload_device(
    notifier: DeviceNotifier, settings: SettingValues, device: Device, *, reason: str, host: str | None
) -> Future[NotifyOutcome] | None:
    """Queue the brand's reload NOTIFY to the phone at `host` (hotdesking.reload_address: where the
    device is known to be, never whoever asked); returns the future of its outcome, never waits for it.
    None: no brand or no address to tell."""
    flavour = notifier.flavour(device.brand, settings) if device.brand else None
    if flavour is None or not host:
        return None
    return notifier.sender.submit(
        DeviceNotify(
            host=host,
            port=settings[PHONE_SIP_PORT],
            event=flavour.event,
            reason=reason,
            mac=device.mac,
            brand=device.brand,
            body=flavour.body,
            content_type=flavour.content_type,
            pbx=pbx_route(settings, device, host),
        )
    )


def pbx_route(settings: SettingValues, device: Device, host: str) -> PbxRoute | None:
    """notify_via ami: how Asterisk reaches the phone. A phone just logged out is still registered
    as the extension that left it: that endpoint (its registered contact, through any NAT); any
    other (a guest phone just logged in, not registered as its new user yet) at its address."""
    if settings[NOTIFY_VIA] is not NotifyVia.AMI:
        return None
    registered = device.registered_as if device.mapping is None else None
    address = f"[{host}]" if ":" in host else host
    return PbxRoute(
        ami.AmiServer(settings[AMI_HOST], settings[AMI_PORT], settings[AMI_USERNAME], settings[AMI_SECRET]),
        endpoint=registered,
        uri=f"sip:{address}:{settings[PHONE_SIP_PORT]}",
        fallback=settings[NOTIFY_FALLBACK],
    )


def reload_after_commit(
    session: Session,
    notifier: DeviceNotifier,
    settings: SettingValues,
    device: Device,
    *,
    reason: str,
    host: str | None,
) -> Future[NotifyOutcome] | None:
    """reload_device, queued once the session's transaction commits (the phone asks for its file at
    once: the change must be there to see); nothing if it rolls back. The future of its outcome, or
    None if there is no brand or address to tell."""
    if not device.brand or notifier.flavour(device.brand, settings) is None or not host:
        return None
    outcome: Future[NotifyOutcome] = Future()

    def send() -> None:
        sent = reload_device(notifier, settings, device, reason=reason, host=host)
        if isinstance(sent, Future):
            sent.add_done_callback(lambda done: _copy(done, outcome))
        else:  # a sender that does not say (a stand-in)
            outcome.set_result(NotifyOutcome(False, None, 0, "not sent"))

    after_commit(session, send)
    return outcome


def _copy(done: Future, outcome: Future) -> None:
    error = done.exception()
    if error is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(done.result())


def notify_through_pbx(request: NotifyRequest) -> NotifyOutcome:
    """A reload NOTIFY asked of Asterisk (NotifyDispatcher's `via_pbx`): the outcome says what the
    PBX answered, or why it could not be asked, for the history."""
    route = request.pbx
    assert route is not None
    target = f"endpoint {route.endpoint}" if route.endpoint else f"to {route.uri}"
    try:
        answer = ami.pjsip_notify(
            route.server,
            endpoint=route.endpoint,
            uri=route.uri,
            event=request.event,
            body=request.body,
            content_type=request.content_type,
        )
    except (ami.AmiError, ValueError) as error:
        return NotifyOutcome(False, None, 0, f"the PBX could not be asked (AMI): {error}")
    if answer.success:
        return NotifyOutcome(True, None, 1, f"sent by the PBX (AMI PJSIPNotify, {target}): {answer.message}")
    return NotifyOutcome(False, None, 1, f"the PBX refused (AMI PJSIPNotify, {target}): {answer.message}")
