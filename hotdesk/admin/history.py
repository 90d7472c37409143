"""The history as admins read it: filtered by extension, phone, kind and time; paged; CSV export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hotdesk.admin import AdminError, Page, in_chunks, page_size, paged
from hotdesk.directory import spreadsheet_safe
from hotdesk.mac import normalize_mac
from hotdesk.models import DEFAULT_TENANT_ID, Event, EventKind

COLUMNS = ("id", "at", "kind", "extension", "mac", "brand", "model", "template", "address", "ip", "actor", "detail")
KINDS = tuple(kind.value for kind in EventKind)


@dataclass(frozen=True)
class Filters:
    extension: str | None = None
    mac: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # exclusive

    @classmethod
    def parse(cls, *, extension=None, mac=None, kind=None, since=None, until=None) -> Filters:
        """From what an admin typed; AdminError naming the field that is wrong."""
        normalized_mac = None
        if mac:
            normalized_mac = normalize_mac(mac)
            if normalized_mac is None:
                raise AdminError(f"mac: {mac!r} is not a MAC address (12 hex digits, separators allowed)")
        if kind is not None and kind not in KINDS:
            raise AdminError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
        if extension and not extension.isprintable():
            raise AdminError("extension: not an extension number")
        return cls(
            extension=(extension or "").strip()[:32] or None,
            mac=normalized_mac,
            kind=kind or None,
            since=parse_moment("since", since) if since else None,
            until=parse_moment("until", until, end_of_day=True) if until else None,
        )

    def apply(self, query: Select) -> Select:
        if self.extension:
            query = query.where(Event.extension == self.extension)
        if self.mac:
            query = query.where(Event.mac == self.mac)
        if self.kind:
            query = query.where(Event.kind == self.kind)
        if self.since:
            query = query.where(Event.at >= self.since)
        if self.until:
            query = query.where(Event.at < self.until)
        return query


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # nothing in the history is older
LATEST = datetime(9999, 1, 1, tzinfo=UTC)  # a bound later ones would overflow


def parse_moment(field: str, text: str, *, end_of_day: bool = False) -> datetime:
    """'2026-03-01' (a whole day: until means through its end) or an ISO date-time; UTC unless it says."""
    text = text.strip()
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time(), UTC)
            moment += timedelta(days=1) if end_of_day else timedelta(0)
        else:
            moment = datetime.fromisoformat(text)
            moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except ValueError:
        raise AdminError(
            f"{field}: {text!r} is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS][+HH:MM])"
        ) from None
    except OverflowError:  # 9999-12-31 through its end, 0001-01-01 at +01:00: no such moment
        moment = None
    if moment is None or not EARLIEST <= moment <= LATEST:
        raise AdminError(f"{field}: {text!r} is out of range (years {EARLIEST:%Y} to {LATEST.year - 1})")
    return moment


def _of_tenant(tenant_id: int) -> Select:
    return select(Event).where(Event.tenant_id == tenant_id)


def page(
    session: Session,
    filters: Filters,
    *,
    before: str | None = None,
    limit: int | None = None,
    tenant_id: int = DEFAULT_TENANT_ID,
) -> Page[Event]:
    """The tenant's events, newest first; `before` is the cursor (an event id) the previous page returned."""
    limit = page_size(limit)
    query = filters.apply(_of_tenant(tenant_id)).order_by(Event.id.desc()).limit(limit + 1)
    if before is not None:
        if not re.fullmatch(r"[0-9]{1,18}", before):
            raise AdminError(f"before: {before!r} is not a page cursor")
        query = query.where(Event.id < min(int(before), 2**31 - 1))  # ids are 32-bit integers
    return paged(list(session.scalars(query)), limit, lambda event: event.id)


def export_csv(session: Session, filters: Filters, *, tenant_id: int = DEFAULT_TENANT_ID) -> Iterator[str]:
    """Every matching event of the tenant, oldest first, as CSV in chunks (for a spreadsheet or an archive)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for chunk in in_chunks(session, filters.apply(_of_tenant(tenant_id)), Event.id):
        writer.writerows([_cell(getattr(event, column)) for column in COLUMNS] for event in chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return spreadsheet_safe(str(value))  # the history holds what phones and browsers typed
