"""How the desks are used, from the history: per day and per hour, phones in use, most logged in at
once, session lengths; the most and least used phones; each extension's hot-desking.

A session is a login on a phone until that phone's next logout (or login). Reading a year of
events for every report would not scale (10,000 phones log in some two million times a year), so
the logins and logouts are summed up once, as they are read (`catch_up`), into small tables
(hotdesk.models, Occupancy*): per hour, per day, and running totals per phone and per extension,
from which a range's total is the difference of two rows. A report reads those, plus the sessions
still going on. A session counts on the day it ended (the tenant's time zone); its seconds go to
the hours it spanned.

Every report first reads the events written since the last one, so it is as current as the
history; whoever changes the summaries is the one that moved the mark (`revisions.occupancy`) from
where it read it, so two reports at once never count an event twice. Logins and logouts are
written under the login lock (db.serialize_logins), so their ids come in the order they commit.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

from sqlalchemy import and_, bindparam, case, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hotdesk.admin import AdminError
from hotdesk.directory import spreadsheet_safe
from hotdesk.models import (
    DEFAULT_TENANT_ID,
    Device,
    Event,
    EventKind,
    OccupancyDay,
    OccupancyHour,
    OccupancyKey,
    OccupancyOpen,
    OccupancyTotal,
    Revision,
    utcnow,
)
from hotdesk.setting_store import Settings
from hotdesk.settings import TIMEZONE

MARK = "occupancy"  # revisions row: the id of the last login or logout summed up
BATCH = 20_000  # events read at a time
PHONE, EXTENSION = "phone", "extension"
DEFAULT_DAYS = 7
MAX_DAYS = 3_700  # ten years: a range the pages and charts stay small for
RANKED = 10  # most and least used phones shown


# Summing up the history.


def catch_up(session: Session, registry: Settings) -> int:
    """Sum up the logins and logouts written since the last time; how many events were read."""
    mark = session.scalar(select(Revision.value).where(Revision.name == MARK))
    if mark is None:
        session.add(Revision(name=MARK, value=0))
        session.flush()
        mark = 0
    newest = session.scalar(select(func.max(Event.id)).where(Event.id > mark, Event.kind.in_(_SESSION_KINDS)))
    if newest is None:
        return 0
    moved = session.execute(
        update(Revision).where(Revision.name == MARK, Revision.value == mark).values(value=newest)
    ).rowcount  # type: ignore[attr-defined]
    if moved != 1:
        return 0  # another report is summing them up (or just did)
    summary = _Summary(session, registry)
    read = 0
    while True:
        batch = list(
            session.execute(
                select(Event.id, Event.at, Event.kind, Event.tenant_id, Event.mac, Event.extension)
                .where(Event.id > mark, Event.id <= newest, Event.kind.in_(_SESSION_KINDS), Event.mac.is_not(None))
                .order_by(Event.id)
                .limit(BATCH)
            )
        )
        if not batch:
            break
        summary.read(batch)
        summary.write()  # each batch's: what a year of history adds up to never sits in memory at once
        mark = batch[-1].id
        read += len(batch)
    return read


_SESSION_KINDS = (EventKind.LOGIN.value, EventKind.LOGOUT.value)


@dataclass(frozen=True)
class _Ongoing:
    mac: str
    tenant_id: int
    extension: str
    started_at: datetime


class _Summary:
    """The summaries' rows that a run of events touches, changed in memory and written once."""

    def __init__(self, session: Session, registry: Settings):
        self.session, self.registry = session, registry
        self.open = {
            row.mac: _Ongoing(row.mac, row.tenant_id, row.extension, row.started_at)
            for row in session.scalars(select(OccupancyOpen))
        }
        self.opened: set[str] = set()  # macs whose open row is new (to insert)
        self.closed: set[str] = set()  # macs whose open row in the database ended
        self.concurrent: dict[int, int] = defaultdict(int)
        for row in self.open.values():
            self.concurrent[row.tenant_id] += 1
        self.zones: dict[int, tzinfo] = {}
        self.hours: dict[tuple[int, int], list[int]] = {}  # (tenant, hour's epoch second): seconds, logins, peak
        self.days: dict[tuple[int, date], list[int]] = {}  # phones, extensions, sessions, seconds
        self.keys: dict[tuple[int, str, str], list] = {}  # last_day, sessions, seconds, in the database?
        self.changed_keys: set[tuple[int, str, str]] = set()
        self.totals: dict[tuple[int, str, str, date], tuple[int, int]] = {}
        self.stored_day: dict[tuple[int, str, str], date] = {}  # the day of each key's last row in the database

    def read(self, batch) -> None:
        self._load_keys(batch)
        for event in batch:
            ongoing = self.open.get(event.mac)
            if ongoing is not None:  # a logout, or a login that replaced what was there
                self._close(ongoing, event.at)
            if event.kind == EventKind.LOGIN.value and event.extension:
                self._start(event)

    def _start(self, event) -> None:
        tenant = event.tenant_id or DEFAULT_TENANT_ID
        self.open[event.mac] = _Ongoing(event.mac, tenant, event.extension, event.at)
        self.opened.add(event.mac)
        self.concurrent[tenant] += 1
        stamp = int(event.at.timestamp())
        hour = self._hour(tenant, stamp - stamp % 3600)
        hour[1] += 1
        hour[2] = max(hour[2], self.concurrent[tenant])

    def _close(self, ongoing: _Ongoing, end: datetime) -> None:
        tenant, start = ongoing.tenant_id, ongoing.started_at
        del self.open[ongoing.mac]
        if ongoing.mac in self.opened:
            self.opened.discard(ongoing.mac)
        else:
            self.closed.add(ongoing.mac)
        self.concurrent[tenant] -= 1
        end = max(end, start)
        first, last = int(start.timestamp()), int(end.timestamp())
        hour = first - first % 3600
        while hour < last:  # the session's seconds in each hour it spans
            self._hour(tenant, hour)[0] += min(last, hour + 3600) - max(first, hour)
            hour += 3600
        seconds = last - first
        day = end.astimezone(self._zone(tenant)).date()
        summary = self.days.setdefault((tenant, day), [0, 0, 0, 0])  # added to the stored row
        summary[2] += 1
        summary[3] += seconds
        for position, kind, key in ((0, PHONE, ongoing.mac), (1, EXTENSION, ongoing.extension)):
            if self._add(tenant, kind, key, day, seconds):
                summary[position] += 1

    def _add(self, tenant: int, kind: str, key: str, day: date, seconds: int) -> bool:
        """Add a session to the key's running totals; True if it is the key's first on `day`."""
        known = self.keys.setdefault((tenant, kind, key), [None, 0, 0, False])
        self.changed_keys.add((tenant, kind, key))
        first_that_day = known[0] != day
        known[0], known[1], known[2] = day, known[1] + 1, known[2] + seconds
        self.totals[(tenant, kind, key, day)] = (known[1], known[2])
        return first_that_day

    def _load_keys(self, batch) -> None:
        wanted = {(e.tenant_id or DEFAULT_TENANT_ID, PHONE, e.mac) for e in batch} | {
            (e.tenant_id or DEFAULT_TENANT_ID, EXTENSION, e.extension) for e in batch if e.extension
        }
        wanted -= set(self.keys)
        wanted_list = sorted(wanted)
        for start in range(0, len(wanted_list), 500):
            chunk = wanted_list[start : start + 500]
            for row in self.session.scalars(
                select(OccupancyKey).where(
                    tuple_(OccupancyKey.tenant_id, OccupancyKey.kind, OccupancyKey.key).in_(chunk)
                )
            ):
                self.keys[(row.tenant_id, row.kind, row.key)] = [row.last_day, row.sessions, row.seconds, True]
                self.stored_day[(row.tenant_id, row.kind, row.key)] = row.last_day

    def _hour(self, tenant: int, hour_start: int) -> list[int]:
        """What this run adds to the hour's seconds and logins, and the most at once it saw in it."""
        found = self.hours.get((tenant, hour_start))
        if found is None:
            found = self.hours[(tenant, hour_start)] = [0, 0, 0]
        return found

    def _zone(self, tenant: int) -> tzinfo:
        if tenant not in self.zones:
            self.zones[tenant] = self.registry.values(self.session, tenant)[TIMEZONE]
        return self.zones[tenant]

    def write(self) -> None:
        session = self.session
        _add_up(
            session,
            OccupancyHour.__table__,
            ("tenant_id", "hour"),
            [
                {
                    "tenant_id": t,
                    "hour": datetime.fromtimestamp(h, UTC),
                    "seconds": seconds,
                    "logins": logins,
                    "peak": peak,
                }
                for (t, h), (seconds, logins, peak) in self.hours.items()
            ],
            most=("peak",),
        )
        _add_up(
            session,
            OccupancyDay.__table__,
            ("tenant_id", "day"),
            [
                {"tenant_id": t, "day": d, "phones": p, "extensions": e, "sessions": n, "seconds": seconds}
                for (t, d), (p, e, n, seconds) in self.days.items()
            ],
        )
        new_totals: list[dict] = []
        changed_totals: list[dict] = []
        for (tenant, kind, key, day), (sessions, seconds) in self.totals.items():
            row = {"tenant_id": tenant, "kind": kind, "key": key, "day": day, "sessions": sessions, "seconds": seconds}
            (changed_totals if self.stored_day.get((tenant, kind, key)) == day else new_totals).append(row)
        _insert(session, OccupancyTotal.__table__, new_totals)
        _update(session, OccupancyTotal.__table__, ("tenant_id", "kind", "key", "day"), changed_totals)
        keys = [
            ({"tenant_id": t, "kind": k, "key": key, "last_day": v[0], "sessions": v[1], "seconds": v[2]}, v[3])
            for (t, k, key), v in ((changed, self.keys[changed]) for changed in sorted(self.changed_keys))
        ]
        _insert(session, OccupancyKey.__table__, [row for row, stored in keys if not stored])
        _update(session, OccupancyKey.__table__, ("tenant_id", "kind", "key"), [row for row, stored in keys if stored])
        if self.closed:
            closed = sorted(self.closed)
            for start in range(0, len(closed), 500):
                session.execute(
                    OccupancyOpen.__table__.delete().where(OccupancyOpen.mac.in_(closed[start : start + 500]))
                )
        if self.opened:
            session.execute(
                OccupancyOpen.__table__.insert(),
                [
                    {
                        "mac": row.mac,
                        "tenant_id": row.tenant_id,
                        "extension": row.extension,
                        "started_at": row.started_at,
                    }
                    for mac, row in self.open.items()
                    if mac in self.opened
                ],
            )
        session.flush()
        # What is written is now the database's: the next batch updates it.
        for changed in self.changed_keys:
            self.keys[changed][3] = True
            self.stored_day[changed] = self.keys[changed][0]
        self.changed_keys.clear()
        self.totals.clear()
        self.hours.clear()
        self.days.clear()
        self.opened.clear()
        self.closed.clear()


def _add_up(session: Session, table, key: tuple[str, ...], rows: list[dict], most: tuple[str, ...] = ()) -> None:
    """Insert each row, or add its values to the row already there (the larger for `most`): one
    statement for many rows, however many there are already."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table)
    changed = {
        column: (
            case((statement.excluded[column] > table.c[column], statement.excluded[column]), else_=table.c[column])
            if column in most
            else table.c[column] + statement.excluded[column]
        )
        for column in rows[0]
        if column not in key
    }
    for start in range(0, len(rows), 2_000):
        session.execute(
            statement.on_conflict_do_update(index_elements=[table.c[c] for c in key], set_=changed),
            rows[start : start + 2_000],
        )


def _insert(session: Session, table, rows: list[dict]) -> None:
    if rows:
        session.execute(table.insert(), rows)


def _update(session: Session, table, key: tuple[str, ...], rows: list[dict]) -> None:
    """Each row's values written to the row of the table it names by the `key` columns."""
    if not rows:
        return
    changed = [column for column in rows[0] if column not in key]
    statement = (
        table.update()
        .where(and_(*(table.c[column] == bindparam(f"b_{column}") for column in key)))
        .values({column: bindparam(column) for column in changed})
    )
    session.execute(statement, [{**{f"b_{c}": row[c] for c in key}, **{c: row[c] for c in changed}} for row in rows])


def _hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hours_spanned(start: datetime, end: datetime):
    """(hour's start, seconds of [start, end) within it) for each UTC hour the span touches."""
    hour = _hour_of(start)
    while hour < end:
        following = hour + timedelta(hours=1)
        seconds = (min(end, following) - max(start, hour)).total_seconds()
        if seconds > 0:
            yield hour, int(seconds)
        hour = following


# Reports.


@dataclass(frozen=True)
class Range:
    since: date
    until: date  # inclusive

    @classmethod
    def parse(cls, since: str | None, until: str | None, today: date) -> Range:
        """From what an admin typed (YYYY-MM-DD, both optional: the last seven days through today)."""
        end = _day("until", until) if until else today
        start = _day("since", since) if since else end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise AdminError(f"since: {start} is after until ({end})")
        if (end - start).days >= MAX_DAYS:
            raise AdminError(f"since: at most {MAX_DAYS} days at once")
        return cls(start, end)

    @property
    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]


def _day(field_name: str, text: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise AdminError(f"{field_name}: {text.strip()[:40]!r} is not a date (YYYY-MM-DD)") from None
    if not 1970 <= day.year <= 9998:
        raise AdminError(f"{field_name}: {day} is out of range (years 1970 to 9998)")
    return day


@dataclass(frozen=True)
class DayUse:
    day: date
    phones: int  # phones with a session that ended that day
    sessions: int
    seconds: int
    peak: int  # most phones logged in at once (at a login that day)


@dataclass(frozen=True)
class HourUse:
    hour: int  # of the day, in the tenant's time zone
    average: float  # phones logged in, on average over the range's days
    peak: int


@dataclass(frozen=True)
class Use:
    """A phone's (key: its MAC) or an extension's sessions in the range."""

    key: str
    sessions: int
    seconds: int

    @property
    def average_seconds(self) -> int:
        return self.seconds // self.sessions if self.sessions else 0


@dataclass(frozen=True)
class Report:
    range: Range
    timezone: str
    days: list[DayUse]
    hours: list[HourUse]
    phones: list[Use]  # every phone of the tenant and every one with a session, most used first
    extensions: list[Use]  # every extension with a session, most used first
    ongoing: int  # sessions still going on (counted as if they ended now)
    read: int = field(default=0)  # events summed up for this report

    @property
    def sessions(self) -> int:
        return sum(day.sessions for day in self.days)

    @property
    def seconds(self) -> int:
        return sum(day.seconds for day in self.days)

    @property
    def average_seconds(self) -> int:
        return self.seconds // self.sessions if self.sessions else 0

    @property
    def peak(self) -> int:
        return max((day.peak for day in self.days), default=0)

    @property
    def phones_used(self) -> int:
        return sum(1 for phone in self.phones if phone.sessions)

    @property
    def unused(self) -> list[Use]:
        return [phone for phone in self.phones if not phone.sessions]

    @property
    def most_used(self) -> list[Use]:
        return [phone for phone in self.phones if phone.sessions][:RANKED]

    @property
    def least_used(self) -> list[Use]:
        return list(reversed(self.phones[-RANKED:]))


def report(
    session: Session,
    registry: Settings,
    *,
    since: str | None = None,
    until: str | None = None,
    tenant_id: int = DEFAULT_TENANT_ID,
    now: datetime | None = None,
) -> Report:
    """The tenant's occupancy over a range of days (its time zone), the history summed up first."""
    read = catch_up(session, registry)
    now = now or utcnow()
    zone = registry.values(session, tenant_id)[TIMEZONE]
    span = Range.parse(since, until, now.astimezone(zone).date())
    start = datetime.combine(span.since, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(span.until + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)

    stored_days = {
        row.day: row
        for row in session.scalars(
            select(OccupancyDay).where(
                OccupancyDay.tenant_id == tenant_id, OccupancyDay.day >= span.since, OccupancyDay.day <= span.until
            )
        )
    }
    hours = list(
        session.scalars(
            select(OccupancyHour).where(
                OccupancyHour.tenant_id == tenant_id, OccupancyHour.hour >= start, OccupancyHour.hour < end
            )
        )
    )
    ongoing = [
        row
        for row in session.scalars(select(OccupancyOpen).where(OccupancyOpen.tenant_id == tenant_id))
        if row.started_at < end and now >= start
    ]
    # Hours: phone-seconds per local hour of the day, and the most at once per local day.
    hour_seconds: dict[int, float] = defaultdict(float)
    hour_peak: dict[int, int] = defaultdict(int)
    day_peak: dict[date, int] = defaultdict(int)
    for hour in hours:
        local = hour.hour.astimezone(zone)
        hour_seconds[local.hour] += hour.seconds
        hour_peak[local.hour] = max(hour_peak[local.hour], hour.peak)
        day_peak[local.date()] = max(day_peak[local.date()], hour.peak)
    today = now.astimezone(zone).date()
    extra: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])  # phones, sessions, seconds
    for row in ongoing:  # as if they ended now: today's
        for hour_start, seconds in _hours_spanned(max(row.started_at, start), min(now, end)):
            hour_seconds[hour_start.astimezone(zone).hour] += seconds
        if span.since <= today <= span.until:
            extra[today][0] += 1
            extra[today][1] += 1
            extra[today][2] += int((now - row.started_at).total_seconds())
    if ongoing and span.since <= today <= span.until:
        day_peak[today] = max(day_peak[today], len(ongoing))
    days = []
    for day in span.days:
        stored = stored_days.get(day)
        more = extra.get(day, [0, 0, 0])
        days.append(
            DayUse(
                day=day,
                phones=(stored.phones if stored else 0) + more[0],
                sessions=(stored.sessions if stored else 0) + more[1],
                seconds=(stored.seconds if stored else 0) + more[2],
                peak=day_peak.get(day, 0),
            )
        )
    day_count = len(span.days)
    hour_uses = [HourUse(h, round(hour_seconds[h] / 3600 / day_count, 2), hour_peak[h]) for h in range(24)]

    ongoing_today = [row for row in ongoing if span.since <= today <= span.until]
    phones = _uses(
        session, tenant_id, PHONE, span, {r.mac: int((now - r.started_at).total_seconds()) for r in ongoing_today}
    )
    known = session.scalars(select(Device.mac).where(Device.tenant_id == tenant_id))
    phones |= {mac: Use(mac, 0, 0) for mac in known if mac not in phones}
    by_extension: dict[str, int] = defaultdict(int)
    for row in ongoing_today:
        by_extension[row.extension] += int((now - row.started_at).total_seconds())
    extensions = _uses(session, tenant_id, EXTENSION, span, by_extension)
    return Report(
        range=span,
        timezone=str(zone),
        days=days,
        hours=hour_uses,
        phones=_ranked(phones),
        extensions=[use for use in _ranked(extensions) if use.sessions],
        ongoing=len(ongoing),
        read=read,
    )


def _ranked(uses: dict[str, Use]) -> list[Use]:
    return sorted(uses.values(), key=lambda use: (-use.seconds, -use.sessions, use.key))


def _uses(session: Session, tenant_id: int, kind: str, span: Range, ongoing: dict[str, int]) -> dict[str, Use]:
    """Each key's sessions and seconds in the range: its running totals through `until` less those
    before `since` — two index lookups per key."""
    keys = OccupancyKey.__table__.alias("k")
    totals = OccupancyTotal.__table__

    def through(day: date, column):
        """The key's running total of `column` on its last day with a session on or before `day`."""
        return (
            select(column)
            .where(
                totals.c.tenant_id == keys.c.tenant_id,
                totals.c.kind == keys.c.kind,
                totals.c.key == keys.c.key,
                totals.c.day <= day,
            )
            .order_by(totals.c.day.desc())
            .limit(1)
            .scalar_subquery()
        )

    before = span.since - timedelta(days=1)
    end_sessions, end_seconds = through(span.until, totals.c.sessions), through(span.until, totals.c.seconds)
    start_sessions, start_seconds = through(before, totals.c.sessions), through(before, totals.c.seconds)
    rows = session.execute(
        select(keys.c.key, end_sessions, end_seconds, start_sessions, start_seconds).where(
            keys.c.tenant_id == tenant_id, keys.c.kind == kind
        )
    )
    uses = {}
    for key, sessions_to_end, seconds_to_end, sessions_before, seconds_before in rows:
        sessions = (sessions_to_end or 0) - (sessions_before or 0)
        seconds = (seconds_to_end or 0) - (seconds_before or 0)
        uses[key] = Use(key, sessions, seconds)
    for key, seconds in ongoing.items():
        found = uses.get(key, Use(key, 0, 0))
        uses[key] = Use(key, found.sessions + 1, found.seconds + seconds)
    return uses


def to_csv(found: Report) -> str:
    """The report as one CSV: a section per table, each with its header (for a spreadsheet)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["day", "phones_in_use", "peak_logged_in", "sessions", "logged_in_seconds", "average_session_seconds"]
    )
    for day in found.days:
        writer.writerow(
            [
                day.day.isoformat(),
                day.phones,
                day.peak,
                day.sessions,
                day.seconds,
                day.seconds // day.sessions if day.sessions else 0,
            ]
        )
    writer.writerow([])
    writer.writerow(["hour", "average_logged_in", "peak_logged_in"])
    writer.writerows([f"{hour.hour:02d}:00", hour.average, hour.peak] for hour in found.hours)
    writer.writerow([])
    writer.writerow(["phone", "sessions", "logged_in_seconds", "average_session_seconds"])
    writer.writerows([use.key, use.sessions, use.seconds, use.average_seconds] for use in found.phones)
    writer.writerow([])
    writer.writerow(["extension", "sessions", "logged_in_seconds", "average_session_seconds"])
    writer.writerows(
        [spreadsheet_safe(use.key), use.sessions, use.seconds, use.average_seconds] for use in found.extensions
    )
    return buffer.getvalue()
