"""Whichever process logs a phone out — the web app, `hotdesk logout`, `hotdesk auto-logout`, the
scheduler — the outcome of the NOTIFY it sends is in the history, as the README says."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotdesk import settings_registry
from hotdesk.cli import main
from hotdesk.models import Event, Mapping
from tests.phones import YealinkPhone

MAC = "001565aabb01"


@pytest.fixture
def environment(database_url, engine, tmp_path):
    return {"HOTDESK_DATABASE_URL": database_url, "HOTDESK_INSTANCE_PATH": str(tmp_path / "instance")}


@pytest.fixture
def run(environment, monkeypatch):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return lambda *args: CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def logged_in(client, extensions, session, sipp_uas):
    """Alice on a Yealink at 127.0.0.1, whose SIP port is a sipp expecting the reload NOTIFY."""
    YealinkPhone(client, MAC, ip="127.0.0.1").login("1001", "4321")
    peer = sipp_uas("check-sync;reboot=true")
    settings_registry().set(session, "phone_sip_port", str(peer.port))
    session.commit()
    return peer


def expire_the_login(session):
    session.scalar(select(Mapping)).expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.commit()


def notify_events(session, reason):
    session.expire_all()
    return [e for e in session.scalars(select(Event).where(Event.kind == "notify")) if reason in e.detail]


def test_cli_logout_records_the_notify_outcome(run, logged_in, session):
    assert run("logout", MAC).exit_code == 0
    assert logged_in.wait() == 0, logged_in.diagnostics()
    [event] = notify_events(session, "logout by admin (cli)")
    assert event.mac == MAC and event.ip == "127.0.0.1"
    assert "delivered, 200 OK" in event.detail


def test_timed_logout_records_the_notify_outcome(run, logged_in, session):
    expire_the_login(session)
    assert "1 phone(s) logged out" in run("auto-logout").output
    assert logged_in.wait() == 0, logged_in.diagnostics()
    [event] = notify_events(session, "automatic logout")
    assert event.mac == MAC and "delivered, 200 OK" in event.detail


def test_the_scheduler_records_the_notify_outcome_of_its_timed_logout(environment, logged_in, session, tmp_path):
    expire_the_login(session)
    script = Path(sys.executable).parent / "hotdesk"
    with open(tmp_path / "scheduler.log", "wb") as log:
        scheduler = subprocess.Popen(
            [script, "scheduler", "--interval", "0.2"],
            env={**os.environ, **environment},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not notify_events(session, "automatic logout") and time.monotonic() < deadline:
            assert scheduler.poll() is None, (tmp_path / "scheduler.log").read_text()
            time.sleep(0.1)
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=10)
    assert logged_in.wait() == 0, logged_in.diagnostics()
    [event] = notify_events(session, "automatic logout")
    assert event.mac == MAC and "delivered, 200 OK" in event.detail
