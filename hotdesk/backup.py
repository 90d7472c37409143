"""Backups while the server runs, and putting one back.

SQLite: SQLite's online backup API copies the database page by page under one read transaction,
so the copy is the database as of one moment, whatever the workers write meanwhile (a file copy
could catch a page half-written, or miss what is still in the WAL). The copy is itself an SQLite
database (mode 0600), and a restore copies it back the same way.

PostgreSQL: `pg_dump --format=custom` (one snapshot: consistent while the server runs) and
`pg_restore --clean --single-transaction` (all or nothing), with the connection taken from
HOTDESK_DATABASE_URL and the password handed over in PGPASSWORD, never on a command line. Both
programs come with PostgreSQL's client package (postgresql-client); their major version must be at
least the server's.

A restore is refused onto a database that holds anything unless forced, onto a database whose
schema is newer than the backup's (restore into the version that made it, or a fresh database),
and from a backup whose schema is newer than this hotdesk knows. A backup of an older schema is
migrated after the restore. Settings, templates and pins cached by running workers are renewed
(the revision counter moves past both the old and the restored value).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing, suppress
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL

from hotdesk import schema
from hotdesk.config import private_file
from hotdesk.snapshot import COUNTER


class BackupError(ValueError):
    """One line for the admin; nothing was changed."""


def _revisions() -> list[str]:
    """Every schema revision this code knows, oldest first."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(schema.MIGRATIONS))
    return [script.revision for script in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))]


def backup(engine: Engine, file: Path) -> str:
    """Write a consistent copy of the database to `file` (replaced whole, once complete); its schema revision."""
    file = Path(file)
    if file.is_dir():
        raise BackupError(f"{file}: is a directory")
    if not file.parent.is_dir():
        raise BackupError(f"{file.parent}: no such directory")
    fd, partial_name = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.")  # mode 0600
    os.close(fd)
    partial = Path(partial_name)
    try:
        if engine.dialect.name == "sqlite":
            with closing(_sqlite(engine)) as source, closing(sqlite3.connect(partial)) as copy:
                source.backup(copy)
        elif engine.dialect.name == "postgresql":
            _run(engine.url, ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(partial)])
        else:
            raise BackupError(f"backups of {engine.dialect.name} databases: not supported (SQLite, PostgreSQL)")
        revision = revision_of(engine, partial)
        os.replace(partial, file)
    finally:
        with suppress(FileNotFoundError):
            partial.unlink()
    return revision


def revision_of(engine: Engine, file: Path) -> str:
    """The schema revision a backup holds (BackupError if it is not a backup of this kind of database)."""
    if engine.dialect.name == "sqlite":
        try:
            with closing(sqlite3.connect(f"file:{file}?mode=ro", uri=True)) as copy:
                row = copy.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            row = None
    else:
        listing = _run(
            engine.url,
            ["pg_restore", "--data-only", "--table=alembic_version", "--file=-", str(file)],
            connect=False,
            refusal=f"{file}: not a hotdesk backup of a PostgreSQL database",
        )
        found = re.search(r"^COPY [^\n]*alembic_version[^\n]*\n([0-9A-Za-z_]+)\n", listing, re.MULTILINE)
        row = (found.group(1),) if found else None
    if not row:
        kind = "an SQLite" if engine.dialect.name == "sqlite" else "a PostgreSQL"
        raise BackupError(f"{file}: not a hotdesk backup of {kind} database")
    return str(row[0])


def restore(engine: Engine, file: Path, *, force: bool = False) -> str:
    """Put the backup in `file` in place of the database; the schema revision it has after."""
    file = Path(file)
    if not file.is_file():
        raise BackupError(f"{file}: no such file")
    known = _revisions()
    restored = revision_of(engine, file)
    if restored not in known:
        raise BackupError(f"{file}: its schema ({restored}) is newer than this hotdesk knows: upgrade hotdesk first")
    current, holds_anything, counter = _state(engine)
    if current is not None and current in known and known.index(current) > known.index(restored):
        raise BackupError(
            f"the database's schema ({current}) is newer than the backup's ({restored}): restore it with the "
            "hotdesk version that made it, or into a fresh database"
        )
    if holds_anything and not force:
        raise BackupError("the database is not empty: --force replaces everything in it with the backup")
    engine.dispose()  # no pooled connection of ours holds the old database
    if engine.dialect.name == "sqlite":
        with closing(sqlite3.connect(f"file:{file}?mode=ro", uri=True)) as copy, closing(_sqlite(engine)) as target:
            copy.backup(target)
    else:
        _run(
            engine.url,
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                str(file),
            ],
            database_flag=True,
        )
    schema.upgrade(engine)  # a backup of an older schema
    with engine.begin() as connection:  # every worker's cached settings and templates are renewed
        connection.execute(
            text("UPDATE revisions SET value = :value WHERE name = :name"),
            {"value": max(counter, _counter(connection)) + 1, "name": COUNTER},
        )
    return known[-1]


def _state(engine: Engine) -> tuple[str | None, bool, int]:
    """The database's schema revision (None: none yet), whether it holds anything, its revision counter."""
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables:
            return None, bool(tables), 0
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        holds = any(
            connection.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first()
            for table in ("extensions", "devices", "events", "admins", "api_tokens")
            if table in tables
        )
        return current, holds, _counter(connection) if "revisions" in tables else 0


def _counter(connection) -> int:
    return connection.execute(text("SELECT value FROM revisions WHERE name = :name"), {"name": COUNTER}).scalar() or 0


def _sqlite(engine: Engine) -> sqlite3.Connection:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory database has nothing to back up")
    path = Path(database)
    if path.exists():
        private_file(path)
    connection = sqlite3.connect(path, timeout=30)
    return connection


def _run(
    url: URL, command: list[str], *, connect: bool = True, database_flag: bool = False, refusal: str | None = None
) -> str:
    """Run a PostgreSQL client program against the database of `url`; its standard output."""
    program = shutil.which(command[0])
    if program is None:
        raise BackupError(f"{command[0]}: not found (Debian: apt-get install postgresql-client)")
    env = dict(os.environ)
    if connect:
        env |= {
            "PGHOST": url.host or "localhost",
            "PGPORT": str(url.port or 5432),
            "PGUSER": url.username or "",
            "PGDATABASE": url.database or "",
        }
        if url.password is not None:
            env["PGPASSWORD"] = str(url.password)
    arguments = [program, *command[1:]]
    if database_flag:
        arguments[1:1] = ["--dbname", url.database or ""]
    done = subprocess.run(arguments, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        if refusal is not None:
            raise BackupError(refusal)
        message = next((line for line in done.stderr.splitlines() if line.strip()), f"exit status {done.returncode}")
        if url.password:
            message = message.replace(str(url.password), "…")
        raise BackupError(f"{command[0]}: {message}")
    return done.stdout
