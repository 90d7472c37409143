"""What admins do, as plain functions over a database session: the console, the REST API and
the CLI all call these, so a rule holds the same whichever face an admin uses.

Every change is written to the history as an `admin` event whose actor is the admin's (or API
token's) name. No Flask here, no brand names.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import Session

from hotdesk import events
from hotdesk.models import Device, Event, EventKind

T = TypeVar("T")

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class AdminError(ValueError):
    """A request an admin should be told about in one line; nothing was changed."""


class NotFound(AdminError):
    pass


class Conflict(AdminError):
    pass


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; `next` is the cursor of the following page, None on the last."""

    items: Sequence[T]
    next: str | None


@dataclass(frozen=True)
class ImportCheck(Generic[T]):
    """What an import would do, row by row, and every bad row (each naming file, line and field):
    a CSV import is all or nothing, so one error and nothing is written."""

    rows: list[T]
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors

    def first_error(self) -> str:
        extra = len(self.errors) - 1
        return self.errors[0] + (f" (and {extra} more bad row(s))" if extra else "")


def page_size(limit: int | None) -> int:
    if limit is None:
        return PAGE_SIZE
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise AdminError(f"limit: must be from 1 to {MAX_PAGE_SIZE}")
    return limit


def paged(rows: list, limit: int, cursor_of) -> Page:
    """`rows` were fetched with limit + 1: the extra row only says there is a next page."""
    if len(rows) > limit:
        return Page(rows[:limit], str(cursor_of(rows[limit - 1])))
    return Page(rows, None)


def in_chunks(session: Session, query: Select, key, size: int = 1000) -> Iterator[list]:
    """The rows of `query` in order of the unique `key`, a chunk at a time (keyset, never OFFSET).

    The transaction ends between chunks, so a download read slowly, or abandoned, holds no
    connection from the pool. For reads only: whatever the session holds unsaved is committed
    with the first chunk.
    """
    last = None
    while True:
        chunk = list(session.scalars((query if last is None else query.where(key > last)).order_by(key).limit(size)))
        session.commit()
        if chunk:
            yield chunk
        if len(chunk) < size:
            return
        last = getattr(chunk[-1], key.key)


def record_change(
    session: Session,
    actor: str,
    detail: str,
    *,
    extension: str | None = None,
    device: Device | None = None,
    brand: str | None = None,
    template: str | None = None,
    tenant_id: int | None = None,
) -> Event:
    """The history line of an admin's change (not committed: it commits with the change).
    `tenant_id`: the tenant changed (else the device's, else the default tenant)."""
    event = events.record(
        session,
        EventKind.ADMIN,
        extension=extension,
        device=device,
        template=template,
        actor=actor[:64],
        detail=detail,
        tenant_id=tenant_id,
    )
    if brand is not None:
        event.brand = brand
    return event
