"""When and where each phone was last seen, written in batches rather than by the request.

After a power cut every phone's first fetch finds its `last_seen` stale; writing it there and then
puts one write transaction in each of thousands of requests, and on SQLite they queue for its one
writer. A worker instead notes the sighting and a background thread writes what accumulated once
a second, in one transaction. A worker killed outright loses at most a second of sightings: they
only feed the admin's who-is-where table and the address a displaced phone's NOTIFY goes to.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import zlib
from array import array
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, update
from sqlalchemy.orm import Session, sessionmaker

from hotdesk.models import Device, utcnow

log = logging.getLogger("hotdesk.sightings")

_devices = Device.__table__
# Only the same phone (id and MAC), and never back in time: a row rebuilt since keeps its own values.
_UPDATE = (
    update(_devices)
    .where(_devices.c.id == bindparam("device_id"), _devices.c.mac == bindparam("device_mac"))
    .where(or_(_devices.c.last_seen.is_(None), _devices.c.last_seen < bindparam("seen")))
    .values(last_ip=bindparam("ip"), last_seen=bindparam("seen"))
)
LAST_SEEN_PRECISION = timedelta(minutes=5)  # a phone seen again sooner, from the same address, is not written
_TRACKED = 1 << 24  # device ids `saw` remembers (above: every sighting is noted)
_IDLE_ROUNDS = 10  # the writer thread ends after this many empty rounds; the next sighting starts it again


@dataclass(frozen=True)
class Sighting:
    device_id: int
    mac: str
    ip: str | None
    seen: datetime


class Sightings:
    """One per process; `note` never waits for the database."""

    def __init__(self, sessions: sessionmaker[Session], interval: float = 1.0):
        self._sessions, self._interval = sessions, interval
        self._pending: dict[int, Sighting] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # By device id, what `saw` last noted: the monotonic second (0: never) and a hash of the
        # address. Arrays, not a dict: 8 bytes a device, so 100,000 phones cost under 1 MB.
        self._noted_at, self._noted_from = array("I"), array("I")
        atexit.register(self.flush)

    def saw(self, device_id: int, mac: str, ip: str | None) -> None:
        """A phone fetched a file without its row being read: noted unless it was, from the same
        address, within LAST_SEEN_PRECISION (by this process)."""
        now, address = int(time.monotonic()) + 1, zlib.crc32((ip or "").encode())
        if device_id < _TRACKED:
            if device_id >= len(self._noted_at):
                grow = max(device_id + 1, 2 * len(self._noted_at)) - len(self._noted_at)
                self._noted_at.frombytes(bytes(grow * self._noted_at.itemsize))  # zeros
                self._noted_from.frombytes(bytes(grow * self._noted_from.itemsize))
            if (
                self._noted_from[device_id] == address
                and now - self._noted_at[device_id] < LAST_SEEN_PRECISION.total_seconds()
            ):
                return
            self._noted_at[device_id], self._noted_from[device_id] = now, address
        self.note(Sighting(device_id, mac, ip, utcnow()))

    def note(self, sighting: Sighting) -> None:
        with self._lock:
            self._pending[sighting.device_id] = sighting
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hotdesk-sightings", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Write what has accumulated (also at exit, and by tests that want it now)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        rows = [{"device_id": s.device_id, "device_mac": s.mac, "ip": s.ip, "seen": s.seen} for s in pending.values()]
        try:
            with self._sessions() as session:
                session.connection().execute(_UPDATE, rows)
                session.commit()
        except Exception:  # a database hiccup must not kill the thread; the next sighting comes soon
            log.exception("could not record %d phones' last sighting", len(rows))

    def _run(self) -> None:
        idle = 0
        while idle < _IDLE_ROUNDS:
            time.sleep(self._interval)
            with self._lock:
                idle = 0 if self._pending else idle + 1
            self.flush()
