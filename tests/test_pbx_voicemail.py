"""directory_source asterisk: a desk-phone login checks the PIN against voicemail.conf as it is
now (FreePBX's layout, tests/fixtures/asterisk/freepbx), without a restart; a file caught broken or
half-written neither lets a wrong PIN in nor locks anyone out."""

import configparser
import logging
import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from hotdesk import settings_registry
from hotdesk.models import Event, EventKind, Extension, Mapping
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD
from tests.phones import YealinkPhone
from tests.test_portal import _each_request_its_own_context, _push_request_context  # noqa: F401 (autouse)

FIXTURES = Path(__file__).parent / "fixtures" / "asterisk" / "freepbx"


@pytest.fixture
def etc_asterisk(tmp_path, session):
    """A copy of the PBX's /etc/asterisk, and hotdesk pointed at it; the database's PINs differ
    from the file's, so a login that works proves the file was read."""
    directory = tmp_path / "etc-asterisk"
    shutil.copytree(FIXTURES, directory)
    registry = settings_registry()
    registry.set(session, "directory_source", "asterisk")
    registry.set(session, "asterisk_config_dir", str(directory))
    session.add_all(
        [
            Extension(number=number, name=f"User {number}", secret=f"SIP-secret-{number}x", voicemail_pin="9999")
            for number in ("1001", "1002", "1003", "1004", "2001")
        ]
    )
    session.commit()
    return directory


class Desk:
    """A desk of phones: each try on a phone of its own, so a login does not stand in the next one's way."""

    def __init__(self, client):
        self.client, self.count = client, 0

    def login(self, number: str, pin: str):
        self.count += 1
        return YealinkPhone(self.client, f"001565aa{self.count:04x}").login(number, pin)


@pytest.fixture
def phone(client, etc_asterisk):
    return Desk(client)


def logged_in(answer) -> bool:
    return answer.findtext("Title") == "Logged in"


def rewrite(path: Path, old: str, new: str) -> None:
    """As Asterisk's voicemail menu does: the file rewritten in place, its mtime moved on."""
    text = path.read_text().replace(old, new)
    assert text != path.read_text()
    stat = path.stat()
    path.write_text(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_the_pin_is_voicemail_conf_s_not_the_database_s(phone):
    assert not logged_in(phone.login("1001", "9999"))
    assert logged_in(phone.login("1001", "4321"))


def test_a_pin_changed_in_voicemail_conf_works_at_the_next_try(phone, etc_asterisk, session):
    assert logged_in(phone.login("1001", "4321"))
    rewrite(etc_asterisk / "voicemail.conf", "1001 => 4321,", "1001 => 8024,")

    assert not logged_in(phone.login("1001", "4321"))
    assert logged_in(phone.login("1001", "8024"))


def test_freepbx_s_syntax(phone, etc_asterisk, session):
    # "-7531": the user may not change it; checked without the minus.
    assert logged_in(phone.login("1003", "7531"))
    assert not logged_in(phone.login("1003", "-7531"))
    # 1004 has a mailbox without a password: the user password, as for an extension without voicemail.
    assert logged_in(phone.login("1004", USER_PASSWORD))
    # A mailbox in another context (voicemail.conf_custom, #included) is not the default context's.
    assert not logged_in(phone.login("1001", "1111"))
    settings_registry().set(session, "voicemail_context", "other")
    session.commit()
    assert logged_in(phone.login("1001", "1111"))
    assert not logged_in(phone.login("1001", "4321"))


def test_a_change_in_an_included_file_is_seen(phone, etc_asterisk, session):
    settings_registry().set(session, "voicemail_context", "other")
    session.commit()
    assert logged_in(phone.login("1001", "1111"))
    rewrite(etc_asterisk / "voicemail.conf_custom", "1001 => 1111,", "1001 => 3141,")
    assert not logged_in(phone.login("1001", "1111"))
    assert logged_in(phone.login("1001", "3141"))


def test_a_half_written_file_keeps_the_last_good_reading(phone, etc_asterisk, caplog):
    assert logged_in(phone.login("1001", "4321"))
    path = etc_asterisk / "voicemail.conf"
    whole = path.read_text().replace("1001 => 4321,", "1001 => 8024,")
    # Caught mid-write: the new PIN's line cut after "80" (no newline yet).
    cut = whole[: whole.index("1001 => 8024,") + len("1001 => 80")]
    path.write_text(cut)
    caplog.set_level(logging.WARNING, logger="hotdesk.pbx")

    assert not logged_in(phone.login("1001", "80"))  # never the cut PIN
    assert logged_in(phone.login("1002", "8642"))  # everyone else keeps working
    assert logged_in(phone.login("1001", "4321"))  # the last good reading
    warnings = [r.getMessage() for r in caplog.records if r.name == "hotdesk.pbx"]
    assert len(warnings) == 1 and "voicemail.conf:" in warnings[0] and "8024" not in warnings[0]

    path.write_text(whole)  # the write completes
    assert logged_in(phone.login("1001", "8024"))
    assert not logged_in(phone.login("1001", "4321"))


def test_an_empty_or_broken_or_unreadable_file_keeps_the_last_good_reading(phone, etc_asterisk, caplog):
    assert logged_in(phone.login("1002", "8642"))
    path = etc_asterisk / "voicemail.conf"
    good = path.read_text()
    caplog.set_level(logging.WARNING, logger="hotdesk.pbx")
    for broken in ("", good.replace("[default]", "[default"), good + "1005 4444\n"):
        path.write_text(broken)
        assert logged_in(phone.login("1002", "8642"))
        assert not logged_in(phone.login("1002", "0000"))
        assert logged_in(phone.login("1002", "8642"))
    path.write_text(good)
    path.chmod(0)
    if not os.access(path, os.R_OK):  # root reads anything
        assert logged_in(phone.login("1002", "8642"))
    path.chmod(0o644)
    problems = [r.getMessage() for r in caplog.records if r.name == "hotdesk.pbx"]
    expected = [  # each once, not once per login; never the line itself
        "voicemail PINs: voicemail.conf:1: the last line is cut short or the file is empty (being written?",
        "voicemail PINs: voicemail.conf:16: a [section] line without its closing ']' or with text after it",
        "voicemail PINs: voicemail.conf:25: no '=' in the line (key = value expected)",
    ]
    assert len(problems) >= 3 and all(p.startswith(e) for p, e in zip(problems, expected, strict=False))


def test_included_file_missing_is_a_broken_reading(phone, etc_asterisk):
    assert logged_in(phone.login("1002", "8642"))
    (etc_asterisk / "vm_email.inc").unlink()
    assert logged_in(phone.login("1002", "8642"))
    rewrite(etc_asterisk / "voicemail.conf", "1002 => 8642,", "1002 => 1357,")
    assert logged_in(phone.login("1002", "8642"))  # Asterisk would not load it either: the last good one


def test_no_good_reading_ever_refuses_pins_but_counts_nothing(phone, etc_asterisk, session, caplog):
    (etc_asterisk / "voicemail.conf").unlink()
    caplog.set_level(logging.WARNING, logger="hotdesk.login")
    for _ in range(8):
        answer = phone.login("1001", "4321")
        assert "PINs cannot be checked now" in answer.findtext("Text")
    # fail2ban bans no office for the PBX's trouble: the filter ignores these lines.
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(Path(__file__).parent.parent / "deploy" / "fail2ban" / "filter.d" / "hotdesk.conf")
    lines = [r.getMessage() for r in caplog.records if r.name == "hotdesk.login"]
    assert len(lines) == 8 and all(re.search(conf["Definition"]["ignoreregex"], line) for line in lines)
    assert logged_in(phone.login("1001", ADMIN_PASSWORD))
    failures = session.scalars(select(Event.detail).where(Event.kind == EventKind.LOGIN_FAILED.value)).all()
    assert set(failures) == {"pins_unavailable"}
    shutil.copy(FIXTURES / "voicemail.conf", etc_asterisk / "voicemail.conf")
    assert logged_in(phone.login("1001", "4321"))  # not locked out by the eight refusals


def test_the_file_is_not_read_again_while_it_does_not_change(phone, etc_asterisk, monkeypatch):
    from hotdesk.pbx import config

    reads = []
    real = config.read
    monkeypatch.setattr(config, "read", lambda *a, **k: reads.append(a) or real(*a, **k))
    for _ in range(3):
        assert logged_in(phone.login("1001", "4321"))
    assert len(reads) <= 1
    rewrite(etc_asterisk / "voicemail.conf", "1001 => 4321,", "1001 => 8024,")
    assert logged_in(phone.login("1001", "8024"))
    assert len(reads) <= 2


def test_the_portal_does_not_pretend_to_change_a_pin_the_pbx_owns(client, etc_asterisk, session):
    from hotdesk import people
    from tests.test_portal import Portal, text

    extension = session.scalar(select(Extension).where(Extension.number == "1001"))
    made = people.create(session, extension, "alice")
    people.set_password(session, made.user, "alice's own passphrase", temporary=False)
    session.commit()
    portal = Portal(client)
    portal.sign_in(password="alice's own passphrase")
    home = portal.page()
    assert not home.xpath("//input[@name='pin']")
    assert "change it from the voicemail menu" in home.get_element_by_id("pin-rule").text_content()
    # A form kept from before (or typed by hand) is refused, not pretended.
    portal.post("/portal/pin", {"pin": "7193", "confirm": "7193"}, token_from=home)
    assert "change it from the voicemail menu" in text(portal.get("/portal/"))
    session.expire_all()
    assert session.scalar(select(Extension.voicemail_pin).where(Extension.number == "1001")) == "9999"
    assert not logged_in(Desk(client).login("1001", "7193"))


def test_an_admin_cannot_set_a_pin_the_pbx_owns(client, etc_asterisk, session, database_url, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from hotdesk.cli import main

    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(main, ["extensions", "set", "1001", "--pin", "7193"])
    assert result.exit_code == 1
    assert "the PBX owns the PINs" in result.output
    session.expire_all()
    assert session.scalar(select(Extension.voicemail_pin).where(Extension.number == "1001")) == "9999"
    assert session.scalar(select(Mapping)) is None
