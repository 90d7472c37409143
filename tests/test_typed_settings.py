"""Settings are stored and shown as text, and read typed: parsed once per snapshot (hotdesk.settings)."""

import logging

from sqlalchemy import update

from hotdesk.models import Setting
from hotdesk.settings import LOCKOUT_ATTEMPTS, MULTIPLE_LOGIN, MultipleLogin
from tests.phones import YealinkPhone
from tests.test_cli import run  # noqa: F401 (fixture)

MAC = "001565aabb51"


def test_a_value_stored_behind_the_checks_back_costs_its_setting_not_the_phones(client, extensions, session, caplog):
    # Written straight into the database (by hand, or by a version with a looser check): every
    # request used to parse it at each use, and every login answered 500.
    session.execute(update(Setting).where(Setting.name == "lockout_attempts").values(value="lots"))
    session.commit()
    with caplog.at_level(logging.WARNING, logger="hotdesk.settings"):
        assert YealinkPhone(client, MAC).login("1001", "4321").findtext("Title") == "Logged in"
    assert "setting lockout_attempts: the stored value is not valid, the default applies" in caplog.text
    assert "lots" not in caplog.text


def test_code_reads_typed_values_and_every_face_shows_the_text(app, session, run):
    hotdesk = app.extensions["hotdesk"]
    hotdesk.settings.set(session, "multiple_login", "DENY")
    hotdesk.settings.set(session, "lockout_attempts", "007")
    session.commit()
    values = hotdesk.snapshots.get(session).settings
    assert values[MULTIPLE_LOGIN] is MultipleLogin.DENY and values[LOCKOUT_ATTEMPTS] == 7
    assert run("settings", "get", "multiple_login").output == "deny\n"
    assert run("settings", "get", "lockout_attempts").output == "7\n"
