"""Engine and sessions. Plain SQLAlchemy: the core receives a Session and never asks Flask for one."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hotdesk import snapshot
from hotdesk.config import private_file


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        # Users' SIP secrets are in it: 0600, and its directory 0700 when hotdesk makes it. SQLite
        # gives its -wal and -shm files the database file's mode.
        database = Path(parsed.database)
        database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            if path == database or path.exists():
                private_file(path)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        # WAL lets provisioning reads go on while a login writes; foreign keys are off by default.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    sessions = sessionmaker(engine, expire_on_commit=False)
    snapshot.track(sessions)  # a change of settings, templates or pins bumps the cache's counter, whoever makes it
    event.listen(sessions, "after_commit", _committed)
    event.listen(sessions, "after_transaction_end", _after_transaction)
    event.listen(sessions, "after_flush", _flushed)
    event.listen(sessions, "do_orm_execute", _executed)
    return sessions


_WROTE = "hotdesk.wrote"


def commit_if_written(session: Session) -> None:
    """Commit what the session has flushed or holds unflushed; else leave the transaction be (no
    round trip): for the hot path, whose writes are rare (a new address, a new firmware)."""
    if session.info.get(_WROTE) or session.info.get(_AFTER_COMMIT) or session.new or session.dirty or session.deleted:
        session.commit()


def _flushed(session: Session, _context) -> None:
    session.info[_WROTE] = True


def _executed(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


_AFTER_COMMIT = "hotdesk.after_commit"


def after_commit(session: Session, action: Callable[[], object]) -> None:
    """Run `action` once the session's transaction commits; forget it if the transaction ends
    otherwise. What tells the world about a change (a NOTIFY: the phone fetches its file at once)
    must not run before the change is there to see."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


_COMMITTED = "hotdesk.committed"


def _committed(session: Session) -> None:
    session.info[_COMMITTED] = session.info.pop(_AFTER_COMMIT, [])


def _after_transaction(session: Session, transaction) -> None:
    # Run when the transaction has ended, so after every after_commit hook, the published copies'
    # withdrawal too (hotdesk.published: a NOTIFY goes out after it).
    if transaction.parent is None:
        session.info.pop(_WROTE, None)
        session.info.pop(_AFTER_COMMIT, None)  # not committed: forgotten
        for action in session.info.pop(_COMMITTED, []):
            action()


_LOGIN_LOCK = "hotdesk.login_lock"


def serialize_logins(session: Session) -> None:
    """Take the lock every login and logout holds until commit, so racing logins queue up.

    The caller commits right after the login or logout it decided (web/phoneapp.py, the admin's
    request, the CLI command, the scheduler): nothing slow may run while the lock is held.

    Logins are rare and short, so one lock for all of them costs nothing and makes the
    multiple-login policy exact. PostgreSQL: a transaction-level advisory lock. SQLite: its
    single writer lock, which pysqlite takes when the transaction's first write starts — hence
    a write that changes nothing, issued before any read the decision depends on.

    Taken once per transaction: the phone app takes it before its checks, and the login or logout
    it then calls returns here at once. What the checks read was read under the lock, so reading
    the device and its login again (the expire_all) only cost a statement and the ORM's reloads
    under the lock (in the login storm of bench/, 2 of the submit's 14 statements).
    """
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_LOGIN_LOCK) is transaction:
        return
    session.flush()  # the expire_all below must not drop what the transaction changed before
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7405301)")
    elif connection.dialect.name == "sqlite":
        _take_sqlite_writer_lock(connection)
    session.expire_all()  # what was read before the lock may have changed since
    # The transaction itself, not a flag: a lock held by an ended transaction can never be taken for held.
    session.info[_LOGIN_LOCK] = session.get_transaction()


LOCK_POLL_SECONDS = 0.0005


def _take_sqlite_writer_lock(connection: Connection) -> None:
    """SQLite's writer lock for a login, asked for every half millisecond until it is free.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, ... ms between tries, so a login that
    arrives while another holds the lock (about 6 ms) got it at the first try after the other's
    commit: 8 or 18 ms after it asked, where 2-5 would have done. In the paced login storm of
    bench/ (2026-12-06) the slowest submits waited 8.2-9.0 and 18.9 ms, SQLite's sums of sleeps;
    polled, in three interleaved pairs, the storm's p99 was 34, 39, 54 ms against 40, 46, 44 (the
    last pair on a slower minute of the machine: median flow 29 ms against 25).

    Only here, where logins queue: other writers are brief and rare, and keep the busy handler. A
    try that finds the lock taken fails at once (busy_timeout 0 for it) and ends the transaction
    pysqlite began for it, so the next try starts afresh; for as long as the connection's own
    timeout, then "database is locked"."""
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    timeout_ms = driver.execute("PRAGMA busy_timeout").fetchone()[0]
    driver.execute("PRAGMA busy_timeout = 0")
    try:
        give_up = time.monotonic() + timeout_ms / 1000
        while True:
            try:
                connection.exec_driver_sql("UPDATE settings SET value = value WHERE 0")
                return
            except OperationalError as error:
                if not _locked(error) or time.monotonic() > give_up:
                    raise
            driver.rollback()
            time.sleep(LOCK_POLL_SECONDS)
    finally:
        driver.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")


def _locked(error: OperationalError) -> bool:
    return isinstance(error.orig, sqlite3.OperationalError) and error.orig.sqlite_errorcode == sqlite3.SQLITE_BUSY


def serialize_sign_ins(session: Session, *, of_people: bool = False) -> None:
    """Take the lock console sign-in attempts hold while they are counted and written down (until
    commit), so that racing attempts are counted exactly. As serialize_logins, on another lock.
    `of_people`: the portal's sign-ins, on a lock of their own (a storm of them holds up no admin)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({7405303 if of_people else 7405302})")
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("UPDATE settings SET value = value WHERE 0")
    session.expire_all()
