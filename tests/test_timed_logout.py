"""Automatic logout from the command line and the scheduler's lease; weak PINs; unlock."""

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotdesk import policy, settings_registry
from hotdesk.cli import main
from hotdesk.models import Mapping
from hotdesk.scheduler import hold_lease
from hotdesk.settings import PinLength
from tests.phones import YealinkPhone


@pytest.fixture
def run(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))
    return lambda *args: CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_auto_logout_command_logs_out_expired_phones_and_tells_them(run, client, extensions, session, sipp_uas):
    phone = YealinkPhone(client, "001565aabb01", ip="127.0.0.1")
    phone.login("1001", "4321")
    mapping = session.scalar(select(Mapping))
    mapping.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    peer = sipp_uas("check-sync;reboot=true")
    settings_registry().set(session, "phone_sip_port", str(peer.port))
    session.commit()

    result = run("auto-logout")

    assert result.exit_code == 0, result.output
    assert "1 phone(s) logged out" in result.output
    assert peer.wait() == 0, peer.diagnostics()
    assert phone.boot()["account.1.enable"] == "0"
    assert run("auto-logout").output.startswith("0 phone(s)")


def test_only_one_scheduler_holds_the_lease(session):
    ttl = timedelta(seconds=90)
    assert hold_lease(session, "auto-logout", "host-a:1", ttl)
    assert not hold_lease(session, "auto-logout", "host-b:2", ttl)
    assert hold_lease(session, "auto-logout", "host-a:1", ttl)  # renewal


def test_an_expired_lease_passes_to_another_scheduler(session):
    assert hold_lease(session, "auto-logout", "host-a:1", timedelta(seconds=-1))
    assert hold_lease(session, "auto-logout", "host-b:2", timedelta(seconds=90))


@pytest.mark.parametrize(
    "pin, weak",
    [
        ("1111", True),
        ("1234", True),
        ("9876", True),
        ("0123", True),
        ("1001", True),
        ("121212", True),
        ("2580", True),
        ("12", True),
        ("4817", False),
        ("739164", False),
    ],
)
def test_weak_pins(pin, weak):
    assert (policy.weak_pin(pin, "1001", PinLength(4, 12)) is not None) is weak


def test_weak_pins_are_reported_to_the_admin(run, tmp_path):
    csv = tmp_path / "u.csv"
    csv.write_text("extension,name,secret,voicemail_pin\n2001,A,s,1111\n2002,B,s,4817\n")
    result = run("extensions", "import", str(csv))
    assert "1 imported PIN(s) are outside pin_length or trivial to guess" in result.output
    report = run("extensions", "weak-pins")
    assert report.exit_code == 1 and report.output == "2001\tone digit repeated\n"


def test_unlock_lifts_a_lockout(run, client, extensions):
    phone = YealinkPhone(client, "001565aabb01")
    for _ in range(5):
        phone.login("1001", "0000")
    other = YealinkPhone(client, "001565aabb02")
    assert "Too many" in other.login("1001", "4321").findtext("Text")
    assert run("unlock", "1001").exit_code == 0
    assert other.login("1001", "4321").findtext("Title") == "Logged in"
    assert run("unlock", "9999").exit_code != 0
