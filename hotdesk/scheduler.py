"""Timed logouts: `hotdesk auto-logout` once (cron), or `hotdesk scheduler` as a long-running process,
which also runs `sync asterisk` for each tenant whose `asterisk_sync_minutes` is set, and sends the
mail queue (hotdesk.mail.sender), as each web process does.

Several schedulers may run (one per host, for redundancy): a lease in the database lets exactly
one of them work at a time, and the login lock makes a logout happen once even if two overlap.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hotdesk import hotdesking, tenancy
from hotdesk.admin import AdminError, NotAllowed, pbx, phones
from hotdesk.models import Lease, utcnow
from hotdesk.notifications import DeviceNotifier, reload_device
from hotdesk.runtime import Hotdesk
from hotdesk.setting_store import Settings
from hotdesk.settings import ASTERISK_SYNC_MINUTES, SettingValues

log = logging.getLogger("hotdesk.scheduler")
LEASE = "auto-logout"


def auto_logout(sessions: sessionmaker[Session], registry: Settings, notifier: DeviceNotifier) -> int:
    """Log out every expired login and queue a NOTIFY to each phone. Returns how many."""
    with sessions() as session:
        devices = hotdesking.expired_logins(session)
        session.commit()  # the run's one commit, right away: it releases the login lock; the phones are told after
        per_tenant: dict[int, SettingValues] = {}
        for device in devices:
            if device.tenant_id not in per_tenant:
                per_tenant[device.tenant_id] = registry.values(session, device.tenant_id)
            reload_device(
                notifier,
                per_tenant[device.tenant_id],
                device,
                reason="automatic logout",
                host=hotdesking.reload_address(session, device),
            )
    if devices:
        log.info("automatic logout of %d phone(s)", len(devices))
    return len(devices)


SYNC_ACTOR = "scheduler"


def sync_from_asterisk(running: Hotdesk, last_runs: dict[int, float], now: float | None = None) -> int:
    """`sync asterisk` for every tenant whose asterisk_sync_minutes have passed since its last run
    (`last_runs`: tenant id -> monotonic time, kept by the caller). A tenant's sync is its own
    transaction; one that is refused (a broken line) is logged and changes nothing. How many ran."""
    now = time.monotonic() if now is None else now
    with running.sessions() as session:
        due = []
        for tenant in tenancy.listing(session):
            values = running.settings.values(session, tenant.id)
            minutes = values[ASTERISK_SYNC_MINUTES]
            last = last_runs.get(tenant.id)
            if minutes and (last is None or now - last >= minutes * 60):
                due.append((tenant.id, tenant.name, values))
    for tenant_id, name, values in due:
        last_runs[tenant_id] = now
        with running.sessions() as session:
            try:
                report = pbx.sync_asterisk(session, values, SYNC_ACTOR, tenant_id=tenant_id)
            except NotAllowed:
                session.rollback()
                continue  # a tenant without a PBX of its own, inheriting the installation's minutes
            except AdminError as error:
                session.rollback()
                log.warning("sync asterisk for tenant %s: %s; nothing changed", name, error)
                continue
            for device in report.logged_out:
                phones.tell_reload(
                    session, running.settings, running.notifier, device, reason="extension removed by sync"
                )
            session.commit()
            log.info("sync asterisk for tenant %s: %s", name, report.summary())
    return len(due)


def hold_lease(session: Session, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the named lease for `holder`; False while another holder's lease runs."""
    now = utcnow()
    # An UPDATE's result is a CursorResult (rowcount); Session.execute is typed as returning any Result.
    renewed = cast(
        "CursorResult[Any]",
        session.execute(
            update(Lease)
            .where(Lease.name == name, (Lease.holder == holder) | (Lease.expires_at < now))
            .values(holder=holder, expires_at=now + ttl)
        ),
    )
    if renewed.rowcount:
        session.commit()
        return True
    try:
        session.execute(insert(Lease).values(name=name, holder=holder, expires_at=now + ttl))
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        return False


def run_forever(running: Hotdesk, interval: float = 30.0) -> None:
    holder = f"{socket.gethostname()}:{os.getpid()}"
    log.info("scheduler %s checking every %ss", holder, interval)
    running.mail.start()
    last_syncs: dict[int, float] = {}
    while True:
        with running.sessions() as session:
            mine = hold_lease(session, LEASE, holder, timedelta(seconds=interval * 3))
        if mine:
            auto_logout(running.sessions, running.settings, running.notifier)
            sync_from_asterisk(running, last_syncs)
        time.sleep(interval)
