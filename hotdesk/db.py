"""Engine and sessions. Plain SQLAlchemy: the core receives a Session and never asks Flask for one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
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
    return sessions


def serialize_logins(session: Session) -> None:
    """Take the lock every login and logout holds until commit, so racing logins queue up.

    Logins are rare and short, so one lock for all of them costs nothing and makes the
    multiple-login policy exact. PostgreSQL: a transaction-level advisory lock. SQLite: its
    single writer lock, which pysqlite takes when the transaction's first write starts — hence
    a write that changes nothing, issued before any read the decision depends on.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7405301)")
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("UPDATE settings SET value = value WHERE 0")
    session.expire_all()  # what was read before the lock may have changed since


def serialize_sign_ins(session: Session) -> None:
    """Take the lock console sign-in attempts hold while they are counted and written down (until
    commit), so that racing attempts are counted exactly. As serialize_logins, on another lock."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7405302)")
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("UPDATE settings SET value = value WHERE 0")
    session.expire_all()
