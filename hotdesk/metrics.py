"""Prometheus metrics: what happened (counters), how long fetches took, and what is (gauges read
from the database at scrape time).

Counters of logins, logouts, failed logins, lockouts and NOTIFY outcomes are counted from the
history as it commits (`attach`: hooks on the session factory), so the core knows nothing of
metrics and every path that writes an event is counted, whichever face or thread it took; a
rolled-back event counts nothing. Provisioning fetches are counted at the web edge (hotdesk.web).

Under gunicorn each worker writes its counts to files in PROMETHEUS_MULTIPROC_DIR (prometheus_client's
multiprocess mode, set up by deploy/gunicorn.conf.py) and a scrape adds them up; without it, the
process's own counts are served. No label carries a secret, PIN, MAC, extension or address: every
label value comes from a fixed set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from hotdesk.models import Device, Event, EventKind, Mapping, utcnow

disable_created_metrics()  # *_created series: noise for counters that start with the process
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LOGINS = Counter("hotdesk_logins_total", "Logins, on a phone or made by an admin", ["by"])
FAILED_LOGINS = Counter("hotdesk_failed_logins_total", "Refused logins, by reason", ["reason"])
LOGOUTS = Counter("hotdesk_logouts_total", "Logouts, by reason", ["reason"])
LOCKOUTS = Counter("hotdesk_lockouts_total", "Locks earned by failed logins, of an extension or a phone", ["scope"])
NOTIFYS = Counter("hotdesk_notify_total", "Reload NOTIFYs sent, by outcome", ["outcome"])
MAILS = Counter("hotdesk_mails_total", "Mails, by outcome (queued, sent, failed)", ["outcome"])
PROVISIONING = Counter(
    "hotdesk_provisioning_requests_total",
    "Provisioning fetches: brand, kind of file (guest, user, common; none: refused before it was known) "
    "and outcome (rendered, copy: answered from the published copy, or the refusal's status)",
    ["brand", "kind", "outcome"],
)
FETCH_SECONDS = Histogram(
    "hotdesk_provisioning_fetch_seconds",
    "Time to answer a provisioning fetch, by how it was answered (copy, rendered, refused)",
    ["answer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

SEEN_WITHIN = timedelta(hours=1)

_FAILURES = frozenset(
    {
        "missing_fields",
        "unknown_extension",
        "wrong_password",
        "address_not_configured",
        "not_admitted",
        "wrong_access_code",
        "access_code_unavailable",
    }
)


for _outcome in ("queued", "sent", "failed"):
    MAILS.labels(_outcome)  # shown at 0 before the first mail
for _outcome in ("delivered", "failed"):
    NOTIFYS.labels(_outcome)
for _by in ("phone", "admin"):
    LOGINS.labels(_by)


def attach(sessions: sessionmaker[Session]) -> None:
    """Count every login, logout, failed login, lockout and NOTIFY the sessions commit."""
    event.listen(sessions, "after_flush", _collect)
    event.listen(sessions, "after_commit", _count)
    event.listen(sessions, "after_rollback", _forget)


_FLUSHED = "hotdesk.metrics.events"


def _collect(session: Session, _context) -> None:
    flushed = [obj for obj in session.new if isinstance(obj, Event)]
    if flushed:
        session.info.setdefault(_FLUSHED, []).extend(flushed)


def _forget(session: Session) -> None:
    session.info.pop(_FLUSHED, None)


def _count(session: Session) -> None:
    for recorded in session.info.pop(_FLUSHED, ()):
        if not inspect(recorded).transient:  # not undone by a savepoint's rollback
            count(recorded)


def count(recorded: Event) -> None:
    """One committed event, in the counter it belongs to (most events belong to none)."""
    kind, detail = recorded.kind, recorded.detail or ""
    if kind == EventKind.LOGIN:
        LOGINS.labels("admin" if recorded.actor else "phone").inc()
    elif kind == EventKind.LOGIN_FAILED:
        # A refusal because of a lock says which lock in its detail; every other names its failure.
        FAILED_LOGINS.labels(detail if detail in _FAILURES else "locked_out").inc()
    elif kind == EventKind.LOGOUT:
        LOGOUTS.labels(_logout_reason(recorded.actor, detail)).inc()
    elif kind == EventKind.LOCKOUT:
        LOCKOUTS.labels("extension" if recorded.extension else "phone").inc()
    elif kind == EventKind.NOTIFY:
        NOTIFYS.labels("failed" if "not delivered" in detail else "delivered").inc()
    elif kind == EventKind.MAIL_SENT:
        MAILS.labels("sent").inc()
    elif kind == EventKind.MAIL_FAILED:  # each failed attempt (hotdesk.mail.queue.failed)
        MAILS.labels("failed").inc()


def _logout_reason(actor: str | None, detail: str) -> str:
    if detail == "automatic logout":
        return "automatic"
    if detail.startswith("replaced"):
        return "replaced"  # a new login on the same phone
    if detail.startswith("logged in on"):
        return "elsewhere"  # the extension logged in on another phone (multiple_login)
    return "remote" if actor else "phone"  # console, API, CLI or portal; or the phone's Logout key


class _Present(Collector):
    """Gauges read from the database at scrape time: two counts on indexed columns."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.sessions() as session:
            logged_in = session.scalar(select(func.count()).select_from(Mapping)) or 0
            seen = session.scalar(select(func.count()).where(Device.last_seen >= utcnow() - SEEN_WITHIN)) or 0
        yield GaugeMetricFamily("hotdesk_logged_in_phones", "Phones someone is logged in on now", value=logged_in)
        yield GaugeMetricFamily(
            "hotdesk_phones_seen_last_hour", "Phones that fetched a file within the last hour", value=seen
        )


def exposition(sessions: sessionmaker[Session]) -> bytes:
    """The text a scrape reads: every worker's counts (or this process's), and the gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    present = CollectorRegistry(auto_describe=False)
    present.register(_Present(sessions))
    return generate_latest(counted) + generate_latest(present)
