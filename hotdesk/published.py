"""Pre-rendered provisioning files that nginx serves without asking hotdesk: the fast path.

Off unless HOTDESK_PUBLISH_DIR is set. A device that has its own provisioning credentials gets a
secret path, /fast/<mac>/<sig>/, with sig = HMAC-SHA256(secret key, "publish|<mac>|<its
provisioning password>") cut to 32 hex digits: unguessable, and new whenever its credentials
are. The same files are hotdesk's own cache of rendered files: a phone fetching its file again
from /provision/ gets the copy (hotdesk.web.published_answers). Layout of the directory:

    current/<mac>/<sig>/<file>   what nginx serves at /fast/<mac>/<sig>/<file>; a missing file
                                 goes to hotdesk, which renders it and writes it here
    readers/<mac>                who may read the device's copies from /provision/ (a `Reader`:
                                 its user name and Digest HA1, the User-Agent they were rendered
                                 for); outside what nginx serves, and readable by hotdesk only
    .lock, .locks/<xx>           flock(2) files: one for everything, one per stripe of MACs

A published file must never outlive the state it was rendered from (a logged-out user's secret
served from a stale copy). Session hooks (`attach`) delete, after the commit of any change that
alters a file: current/<mac> and readers/<mac> of every device whose mapping, credentials or mapped extension
changed; all of current/ and readers/ for a change of a setting, template or pin (what the snapshot's revision
counter marks, hotdesk.snapshot). No code path can forget it: the hooks see every flush.

Why no stale file survives. Take a commit C and its deletion D, which runs after C holding the
MAC's stripe lock (or the global lock) exclusively. A publisher holds the same locks (the global
one shared) while it starts a fresh transaction, reads the device, renders and writes. The locks
order the two:
- the publisher first: what it wrote exists when D starts, and D deletes it;
- D first: the publisher's transaction begins after D took the lock, so after C committed, and
  it reads C's changes: what it writes is current.
A publisher that read the state before C and waited for the lock reads again inside it, so it
never writes what it read outside. A NOTIFY is sent after the commit returns, hence after D: the
phone that re-fetches finds no stale file.

Reading once. Reading the device again inside the lock costs a fetch two more queries; it can be
skipped when no deletion ran since the request began. Every deletion changes `generation()` while
holding its lock, and a request reads the generation before its first database read. Inside the
lock, an unchanged generation means that any D whose commit the request's reads missed has not
run yet (its commit came after the reads began, so its deletion after the generation was read,
and it would have changed it), so D still runs after this publisher and deletes what it writes.
A changed generation (any deletion, of any device) sends the publisher back to reading again.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from itertools import chain
from pathlib import Path

from sqlalchemy import Delete, FromClause, Insert, Update, event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from hotdesk.config import Config
from hotdesk.models import Device, Extension, Mapping
from hotdesk.snapshot import CONFIG_MODELS, CONFIG_TABLES  # what bumps the revision counter

log = logging.getLogger("hotdesk.published")

_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")  # one path segment, never hidden
_LINE_COLUMNS = ("number", "name", "secret", "auth_name")  # what of an extension a device file shows
_MACS, _RETIRE = "published_macs", "published_retire"  # session.info keys


def signature(secret_key: str, mac: str, password: str) -> str:
    return hmac.new(secret_key.encode(), f"publish|{mac}|{password}".encode(), hashlib.sha256).hexdigest()[:32]


def signed(secret_key: str, mac: str, password: str | None, sig: str) -> bool:
    """Is `sig` the fast path of the device with this MAC and provisioning password?"""
    return password is not None and hmac.compare_digest(signature(secret_key, mac, password), sig)


@dataclass(frozen=True)
class Reader:
    """Who may read a device's published copies from /provision/, as of when they were written."""

    device_id: int
    brand: str
    username: str
    ha1: str  # MD5(user:realm:password), as HTTP Digest has it: checks Basic and Digest alike
    sig: str
    user_agent: str  # what the copies were rendered for; another one (new firmware) renders again
    user: bool = False  # rendered with a user logged in (any change of that withdraws the copies)


class PublishedFiles:
    def __init__(self, directory: Path, secret_key: str):
        self.directory = Path(directory)
        self.current = self.directory / "current"
        self.readers = self.directory / "readers"
        self.secret_key = secret_key
        self.directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        (self.directory / ".locks").mkdir(mode=0o700, exist_ok=True)

    def path(self, mac: str, password: str) -> str:
        """The device's path under /fast/."""
        return f"{mac}/{signature(self.secret_key, mac, password)}/"

    @contextmanager
    def publishing(self, mac: str) -> Iterator[None]:
        """Hold while reading the device in a fresh transaction, rendering and writing its files."""
        with _flock(self.directory / ".lock", fcntl.LOCK_SH), _flock(self._stripe(mac), fcntl.LOCK_EX):
            yield

    def write(self, mac: str, password: str, filename: str, body: bytes) -> None:
        """Publish a file (inside `publishing(mac)`); names that are not one plain segment are not."""
        if not _FILE_NAME.fullmatch(filename):
            return
        folder = self.current / self.path(mac, password)
        # Each level made 0750 (mkdir's mode applies to the last one only): nginx reads through the
        # directory's group (deploy/README.md); to others not even the names, which hold the secret.
        for level in (self.current, folder.parent, folder):
            level.mkdir(mode=0o750, exist_ok=True)
        # Written aside, then renamed over: nginx serves the old file or the new one, never half of one.
        fd, written = tempfile.mkstemp(dir=folder, prefix=".")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
            os.chmod(written, 0o640)
            os.replace(written, folder / filename)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(written)
            raise

    def admit(self, mac: str, reader: Reader) -> None:
        """Let `reader` read the device's copies from /provision/ (inside `publishing(mac)`)."""
        self.readers.mkdir(mode=0o700, exist_ok=True)
        fd, written = tempfile.mkstemp(dir=self.readers, prefix=".")  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(asdict(reader), out)
            os.replace(written, self.readers / mac)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(written)
            raise

    def reader(self, mac: str) -> Reader | None:
        """Who may read the device's copies, if it has any (no lock: what exists is current)."""
        try:
            with open(self.readers / mac, "rb") as record:
                return Reader(**json.loads(record.read()))
        except (FileNotFoundError, NotADirectoryError, ValueError, TypeError):
            return None

    def read(self, mac: str, sig: str, filename: str) -> bytes | None:
        """A published copy, if there is one (no lock: what exists is current)."""
        if not _FILE_NAME.fullmatch(filename):
            return None
        try:
            with open(self.current / mac / sig / filename, "rb") as copy:
                return copy.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def generation(self) -> bytes:
        """Changes with every deletion (see "Reading once" above); read it before reading the database."""
        try:
            with open(self.directory / ".generation", "rb") as token:
                return token.read()
        except FileNotFoundError:
            return b""

    def forget(self, macs: Iterable[str]) -> None:
        """Delete every file published for these devices."""
        for mac in sorted(set(macs)):
            with _flock(self._stripe(mac), fcntl.LOCK_EX):
                _remove(self.current / mac)
                with suppress(FileNotFoundError):
                    os.unlink(self.readers / mac)
                self._next_generation()

    def retire(self) -> None:
        """Delete every published file: current/ and readers/ are renamed aside at once, then removed."""
        retired = [self.directory / f".retired-{secrets.token_hex(8)}" for _ in range(2)]
        with _flock(self.directory / ".lock", fcntl.LOCK_EX):
            for folder, aside in zip((self.current, self.readers), retired, strict=True):
                with suppress(FileNotFoundError):
                    os.rename(folder, aside)
            self._next_generation()
        for aside in retired:
            _remove(aside)

    def _next_generation(self) -> None:
        # Inside the deletion's lock (see "Reading once"). A random token, not a counter: deleters
        # of different stripes may write at once, and any new value is a change.
        fd, written = tempfile.mkstemp(dir=self.directory, prefix=".generation-")
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(8))
        os.replace(written, self.directory / ".generation")

    def _stripe(self, mac: str) -> Path:
        return self.directory / ".locks" / mac[-2:]


def attach(sessions: sessionmaker[Session], config: Config) -> PublishedFiles | None:
    """The published files of HOTDESK_PUBLISH_DIR (None when unset), kept current by hooks on
    every session `sessions` makes. Every process that changes the database must call it."""
    if config.publish_dir is None:
        return None
    files = PublishedFiles(config.publish_dir, config.secret_key)
    event.listen(sessions, "before_flush", _collect_flushed)
    event.listen(sessions, "do_orm_execute", _collect_bulk)
    event.listen(sessions, "after_commit", lambda session: _withdraw(session, files))
    event.listen(sessions, "after_rollback", _discard)
    return files


# Collected before the flush, not after it: deleting an extension or a device deletes its
# mappings by the foreign keys' ON DELETE CASCADE, and afterwards nothing says which devices they were on.
def _collect_flushed(session: Session, _context, _instances) -> None:
    device_ids: set[int] = set()
    extension_ids: set[int] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, CONFIG_MODELS):
            session.info[_RETIRE] = True
        elif isinstance(obj, Mapping):
            attrs = inspect(obj).attrs
            device_ids.update(i for i in attrs.device_id.history.sum() if i is not None)
            _affected(session).update(d.mac for d in attrs.device.history.sum() if d is not None)
        elif isinstance(obj, Device) and (obj in session.deleted or _changed(obj, "mac", "provisioning_password")):
            _affected(session).add(obj.mac)
        elif isinstance(obj, Extension) and (obj in session.deleted or _changed(obj, *_LINE_COLUMNS)):
            extension_ids.add(obj.id)
    connection = session.connection()  # Core: no autoflush from inside the flush
    if device_ids:
        _affected(session).update(connection.scalars(select(Device.mac).where(Device.id.in_(device_ids))))
    if extension_ids:
        mapped = (
            select(Device.mac)
            .join(Mapping, Mapping.device_id == Device.id)
            .where(Mapping.extension_id.in_(extension_ids))
        )
        _affected(session).update(connection.scalars(mapped))


_JOINS_TO_DEVICE: dict[FromClause, tuple[type[Mapping] | type[Extension], ...]] = {
    Device.__table__: (),
    Mapping.__table__: (Mapping,),
    Extension.__table__: (Mapping, Extension),
}


def _collect_bulk(state: ORMExecuteState) -> None:
    """The same for UPDATE/DELETE/INSERT statements, which bypass the flush."""
    statement = state.statement
    if not isinstance(statement, Insert | Update | Delete):
        return
    table = statement.table
    if table in CONFIG_TABLES or (isinstance(statement, Insert) and table == Mapping.__table__):
        state.session.info[_RETIRE] = True
        return
    if isinstance(statement, Insert):
        return  # a new device or extension has no published file yet
    joins = _JOINS_TO_DEVICE.get(table)
    if joins is None:
        return
    affected = select(Device.mac).select_from(Device)
    for model in joins:
        affected = affected.join(
            model, Mapping.device_id == Device.id if model is Mapping else Extension.id == Mapping.extension_id
        )
    if statement.whereclause is not None:
        affected = affected.where(statement.whereclause)
    _affected(state.session).update(state.session.connection().scalars(affected))


def _withdraw(session: Session, files: PublishedFiles) -> None:
    retire, macs = session.info.pop(_RETIRE, False), session.info.pop(_MACS, set())
    try:
        if retire:
            files.retire()
        elif macs:
            files.forget(macs)
    except OSError:
        # The change is committed; failing its request would not bring the file back. Loud instead.
        log.exception(
            "could not delete published files (%s): check the permissions of %s",
            "all" if retire else " ".join(sorted(macs)),
            files.directory,
        )


def _discard(session: Session) -> None:
    session.info.pop(_RETIRE, None)
    session.info.pop(_MACS, None)


def _affected(session: Session) -> set[str]:
    return session.info.setdefault(_MACS, set())


def _changed(obj, *names: str) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


@contextmanager
def _flock(path: Path, operation: int) -> Iterator[None]:
    # One open file per holder: flock(2) locks belong to the open file, so threads exclude each other too.
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    with suppress(FileNotFoundError):
        shutil.rmtree(path)
