"""Prometheus metrics: what happened (counters), how long fetches took, and what is (gauges read
from the database at scrape time).

Counters of logins, logouts, failed logins, lockouts and NOTIFY outcomes are counted from the
history as it commits (`attach`: hooks on the session factory), so the core knows nothing of
metrics and every path that writes an event is counted, whichever face or thread it took; a
rolled-back event counts nothing. Provisioning fetches are counted at the web edge (hotdesk.web)
into `FETCHES`, which writes them to Prometheus's values every second.

Under gunicorn each worker writes its counts to files in PROMETHEUS_MULTIPROC_DIR (prometheus_client's
multiprocess mode, set up by deploy/gunicorn.conf.py) and a scrape adds them up; without it, the
process's own counts are served. No label carries a secret, PIN, MAC, extension or address: every
label value comes from a fixed set.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from prometheus_client import REGISTRY, CollectorRegistry, Counter, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
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
FETCH_SECONDS = "hotdesk_provisioning_fetch_seconds"  # a histogram, by answer: copy, rendered, refused
FETCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))
ANSWERS = ("copy", "rendered", "refused")
# The histogram as it is stored: fetches in each bucket (its own, not cumulative) and their seconds.
# No histogram of prometheus_client's takes a second's worth of observations at once (FetchCounts),
# so these two counters take them and a scrape shows them as the histogram (_Histograms).
_IN_BUCKET, _SUMMED = "hotdesk_provisioning_fetches_in_bucket", "hotdesk_provisioning_fetch_seconds_summed"
_FETCHES_IN_BUCKET = Counter(_IN_BUCKET, f"Stored form of {FETCH_SECONDS}", ["answer", "le"])
_FETCH_SECONDS_SUMMED = Counter(_SUMMED, f"Stored form of {FETCH_SECONDS}", ["answer"])
_BOUNDS = [floatToGoString(bound) for bound in FETCH_BUCKETS]

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


@dataclass
class _Counted:
    # (brand, kind, outcome, the index of the histogram's bucket) -> fetches
    fetches: defaultdict[tuple[str, str, str, int], int] = field(default_factory=lambda: defaultdict(int))
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # by outcome


class FetchCounts:
    """Provisioning fetches, counted in this process's memory and written to the Prometheus values
    every second, when the process exits, and before it answers a scrape.

    Measured (bench/README.md, "Operations: metrics and occupancy"): in multiprocess mode each
    value written takes a lock, a getpid() and an mmap write, and a fetch wrote three (its counter,
    its bucket, the histogram's sum), 2.8 µs in a tight loop; counting here costs 0.5 µs, and a
    write a second about 70 µs. Through the whole app the metrics cost a fetch 8.8 µs of CPU before,
    3.3 µs now. What it costs a scrape: another worker's last second may be missing from it, and
    shows in the next — nothing to Prometheus, which scrapes every 15 s or so and reads rates over
    minutes. A worker killed outright (SIGKILL) loses its last second.
    """

    INTERVAL = 1.0  # seconds between writes

    def __init__(self):
        self._counting = threading.Lock()  # the request threads' counts
        self._writing = threading.Lock()  # one write at a time: the one at exit waits for the thread's
        self._counted = _Counted()
        self._writes_every_second = False
        atexit.register(self.write)
        os.register_at_fork(after_in_child=self._forked)

    def count(self, brand: str, kind: str, outcome: str, seconds: float) -> None:
        """One fetch: its brand, kind of file, outcome (rendered, copy, or the refusal's status) and time."""
        bucket = bisect_left(FETCH_BUCKETS, seconds)
        with self._counting:
            counted = self._counted
            counted.fetches[brand, kind, outcome, bucket] += 1
            counted.seconds[outcome] += seconds

    def write(self) -> None:
        """Add what was counted since the last write to the Prometheus values."""
        with self._writing:
            with self._counting:
                taken, self._counted = self._counted, _Counted()
            requests: defaultdict[tuple[str, str, str], int] = defaultdict(int)
            in_bucket: defaultdict[tuple[str, str], int] = defaultdict(int)
            for (brand, kind, outcome, bucket), n in taken.fetches.items():
                requests[brand, kind, outcome] += n
                in_bucket[_answer(outcome), _BOUNDS[bucket]] += n
            for labels, n in requests.items():
                PROVISIONING.labels(*labels).inc(n)
            for (answer, bound), n in in_bucket.items():
                _FETCHES_IN_BUCKET.labels(answer, bound).inc(n)
            for outcome, seconds in taken.seconds.items():
                _FETCH_SECONDS_SUMMED.labels(_answer(outcome)).inc(seconds)

    def write_every_second(self) -> None:
        """From a thread of its own (once per process)."""
        if not self._writes_every_second:
            self._writes_every_second = True
            threading.Thread(target=self._every_second, name="hotdesk-metrics", daemon=True).start()

    def _every_second(self) -> None:
        while True:
            time.sleep(self.INTERVAL)
            self.write()

    def _forked(self) -> None:
        # The parent's counts are the parent's to write; the child counts its own, with a thread of its own.
        self._counting, self._writing = threading.Lock(), threading.Lock()
        self._counted = _Counted()
        if self._writes_every_second:
            self._writes_every_second = False
            self.write_every_second()


FETCHES = FetchCounts()


def _answer(outcome: str) -> str:
    return outcome if outcome in ("copy", "rendered") else "refused"


class _Histograms(Collector):
    """Every family of `counted`, with the fetch histogram shown from its stored form (FetchCounts)."""

    def __init__(self, counted: CollectorRegistry):
        self.counted = counted

    def collect(self) -> Iterator[Metric]:
        in_bucket = {answer: [0.0] * len(FETCH_BUCKETS) for answer in ANSWERS}
        summed = dict.fromkeys(ANSWERS, 0.0)
        for family in self.counted.collect():
            if family.name == _IN_BUCKET:
                for sample in family.samples:
                    if sample.labels["le"] in _BOUNDS:  # else a bucket of another version's, now gone
                        in_bucket[sample.labels["answer"]][_BOUNDS.index(sample.labels["le"])] += sample.value
            elif family.name == _SUMMED:
                for sample in family.samples:
                    summed[sample.labels["answer"]] += sample.value
            elif family.name != FETCH_SECONDS:  # an older version's own histogram, in files kept since a HUP
                yield family  # (shown twice, the name would break the scrape; dropped, a counter reset)
        histogram = HistogramMetricFamily(
            FETCH_SECONDS,
            "Time to answer a provisioning fetch, by how it was answered (copy, rendered, refused)",
            labels=["answer"],
        )
        for answer in ANSWERS:
            cumulative = itertools.accumulate(in_bucket[answer])
            histogram.add_metric([answer], list(zip(_BOUNDS, cumulative, strict=True)), sum_value=summed[answer])
        yield histogram


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
    FETCHES.write()  # this process's last second
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    shown = CollectorRegistry(auto_describe=False)
    shown.register(_Histograms(counted))
    shown.register(_Present(sessions))
    return generate_latest(shown)
