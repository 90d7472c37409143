"""`hotdesk backup` and `hotdesk restore` as an operator uses them: a backup taken while phones log
in restores to a server that has every login acknowledged before it began; a restore refuses to
overwrite without --force, onto a newer schema, and from a file that is no backup."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from hotdesk.db import make_engine, make_session_factory
from hotdesk.models import Extension, Mapping
from tests.live_http import LiveClient
from tests.live_servers import Gunicorn
from tests.phones import YealinkPhone
from tests.test_cli import run  # noqa: F401 (fixture)
from tests.test_operations import people_and_their_phones

HOTDESK = [sys.executable, "-c", "from hotdesk.cli import main; main()"]


def numbers(session) -> list[str]:
    session.expire_all()
    return sorted(session.scalars(select(Extension.number)))


def test_a_backup_restores_what_was_there_and_only_with_force(run, session, extensions, tmp_path):
    copy = tmp_path / "hotdesk.backup"
    made = run("backup", copy)
    assert made.exit_code == 0, made.output
    assert made.output.startswith(f"backed up to {copy} (schema ")
    assert copy.stat().st_mode & 0o077 == 0  # users' SIP secrets are in it

    session.add(Extension(number="1003", name="After the backup", secret="Later-Secret-3"))
    session.delete(session.scalar(select(Extension).where(Extension.number == "1001")))
    session.commit()
    session.close()

    refused = run("restore", copy)
    assert refused.exit_code == 1
    assert refused.output == "Error: the database is not empty: --force replaces everything in it with the backup\n"
    assert numbers(session) == ["1002", "1003"]
    session.close()

    restored = run("restore", copy, "--force")
    assert restored.exit_code == 0, restored.output
    assert numbers(session) == ["1001", "1002"]


def test_a_restore_refuses_a_newer_schema_either_way(run, session, extensions, tmp_path, database_url):
    copy = tmp_path / "hotdesk.backup"
    assert run("backup", copy).exit_code == 0
    session.close()
    engine = make_engine(database_url)
    with engine.begin() as connection:
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        newer_database = run("restore", copy, "--force")
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
    # The database is at 0001 and the backup at the head: that is an older database, not a newer one.
    assert newer_database.exit_code == 0, newer_database.output

    # A backup from a later hotdesk (a schema this one does not know).
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        assert run("backup", tmp_path / "future.backup").exit_code == 0
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
    future = run("restore", tmp_path / "future.backup", "--force")
    assert future.exit_code == 1
    assert "its schema (9999) is newer than this hotdesk knows: upgrade hotdesk first" in future.output
    assert numbers(session) == ["1001", "1002"]
    session.close()
    engine.dispose()


def test_the_database_newer_than_the_backup_is_refused(run, session, extensions, tmp_path, database_url):
    copy = tmp_path / "old.backup"
    engine = make_engine(database_url)
    with engine.begin() as connection:
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        connection.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    try:
        assert run("backup", copy).exit_code == 0  # a backup "made by" the version at 0010
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
    session.close()
    refused = run("restore", copy, "--force")
    assert refused.exit_code == 1
    assert f"the database's schema ({current}) is newer than the backup's (0010)" in refused.output
    assert numbers(session) == ["1001", "1002"]
    engine.dispose()


def test_what_is_no_backup_is_refused(run, session, extensions, tmp_path):
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database at all" * 100)
    session.close()
    answer = run("restore", junk, "--force")
    assert answer.exit_code == 1 and "not a hotdesk backup of" in answer.output
    assert run("restore", tmp_path / "absent.backup").output.endswith("absent.backup: no such file\n")
    assert run("backup", tmp_path / "no" / "such" / "dir" / "x").exit_code == 1
    assert numbers(session) == ["1001", "1002"]


def test_a_sqlite_backup_restores_into_a_fresh_database_without_force(
    run, extensions, tmp_path, database_url, monkeypatch
):
    if make_url(database_url).get_backend_name() != "sqlite":
        pytest.skip("a fresh SQLite file; PostgreSQL's restore is the storm test's")
    copy = tmp_path / "hotdesk.backup"
    assert run("backup", copy).exit_code == 0
    fresh = tmp_path / "fresh.db"
    monkeypatch.setenv("HOTDESK_DATABASE_URL", f"sqlite:///{fresh}")
    restored = run("restore", copy)
    assert restored.exit_code == 0, restored.output
    engine = make_engine(f"sqlite:///{fresh}")
    with make_session_factory(engine)() as session:
        assert numbers(session) == ["1001", "1002"]
    engine.dispose()


@pytest.mark.slow
def test_a_backup_taken_during_a_login_storm_restores_every_acknowledged_login(engine, database_url, tmp_path):
    phones = 40
    responder = people_and_their_phones(engine, phones, 3000, 8100)
    env = {
        **os.environ,
        "HOTDESK_DATABASE_URL": database_url,
        "HOTDESK_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOTDESK_SECRET_KEY": "backup-test-key",
    }
    server = Gunicorn("wsgi:app", tmp_path / "gunicorn.log", env, workers=2)
    acknowledged: dict[int, float] = {}  # phone -> when its login was answered "Logged in"
    credentials: dict[int, tuple[str, str]] = {}
    lock = threading.Lock()
    backup_started = threading.Event()
    copy = tmp_path / "storm.backup"

    def storm(n: int) -> None:
        client = LiveClient(server.url)
        try:
            phone = YealinkPhone(client, f"0015650d{n:04x}")
            phone.boot()  # issued its own credentials
            if n >= phones // 2:
                backup_started.wait(30)  # the second half log in while the backup runs, or after it
            answer = phone.login(str(3000 + n), str(8100 + n))
            if answer.findtext("Title") == "Logged in":
                with lock:
                    acknowledged[n] = time.monotonic()
                    credentials[n] = phone.credentials
        finally:
            client.close()

    try:
        threads = [threading.Thread(target=storm, args=(n,)) for n in range(phones)]
        for thread in threads:
            thread.start()
        while len(acknowledged) < phones // 4:
            time.sleep(0.01)
        with lock:
            began = time.monotonic()
            before = {n for n, moment in acknowledged.items() if moment <= began}
        backup_started.set()
        made = subprocess.run([*HOTDESK, "backup", str(copy)], env=env, capture_output=True, text=True, check=False)
        assert made.returncode == 0, made.stderr
        for thread in threads:
            thread.join()
        assert len(acknowledged) == phones  # the storm went on while the backup ran
    finally:
        server.stop()
        responder.close(settle=0)

    refused = subprocess.run([*HOTDESK, "restore", str(copy)], env=env, capture_output=True, text=True, check=False)
    assert refused.returncode == 1 and "--force" in refused.stderr
    restored = subprocess.run(
        [*HOTDESK, "restore", str(copy), "--force"], env=env, capture_output=True, text=True, check=False
    )
    assert restored.returncode == 0, restored.stderr

    with make_session_factory(engine)() as session:
        logged_in = {mapping.extension.number for mapping in session.scalars(select(Mapping))}
    assert {str(3000 + n) for n in before} <= logged_in  # every login acknowledged before the backup began
    assert logged_in <= {str(3000 + n) for n in range(phones)}

    # A fresh server on the restored database gives each of those phones its user's line.
    fresh = Gunicorn("wsgi:app", tmp_path / "fresh.log", env, workers=2)
    try:
        for n in sorted(before):
            client = LiveClient(fresh.url)
            phone = YealinkPhone(client, f"0015650d{n:04x}", credentials=credentials[n])
            phone.boot()
            assert phone.line() is not None and phone.line()["user_name"] == str(3000 + n)
            client.close()
        ready = LiveClient(fresh.url)
        assert ready.get("/readyz").status_code == 200
        ready.close()
    finally:
        fresh.stop()
