"""Issue 4 policies on real phones: lockout, multiple logins, screen state, races, automatic logout."""

import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.exc import OperationalError

from hotdesk import hotdesking, settings_registry
from hotdesk.db import make_session_factory, serialize_logins
from hotdesk.models import Event, Extension, Mapping
from hotdesk.settings import SettingValues
from tests.phones import YealinkPhone

MAC_A, MAC_B = "001565aabb01", "001565aabb02"


def setting(session, name, value):
    settings_registry().set(session, name, value)
    session.commit()


def mappings(session):
    session.expire_all()
    return [(m.extension.number, m.device.mac) for m in session.scalars(select(Mapping).order_by(Mapping.id))]


# lockout


def test_five_wrong_pins_lock_the_extension_even_against_the_right_pin(client, extensions, session):
    phone = YealinkPhone(client, MAC_A)
    for _ in range(5):
        assert phone.login("1001", "0000").findtext("Text") == "Wrong password for extension 1001."
    answer = phone.login("1001", "4321")
    assert answer.findtext("Text") == "Too many failed logins. Try again in 15 minute(s)."
    assert mappings(session) == []
    other_phone = YealinkPhone(client, MAC_B)
    assert "Too many failed logins" in other_phone.login("1001", "4321").findtext("Text")


def test_one_phone_trying_many_extensions_is_locked_too(client, extensions, session):
    phone = YealinkPhone(client, MAC_A)
    for number in ("2001", "2002", "2003", "2004", "2005"):
        phone.login(number, "0000")
    assert "Too many failed logins" in phone.login("1002", "55667788").findtext("Text")
    assert YealinkPhone(client, MAC_B).login("1002", "55667788").findtext("Title") == "Logged in"


def test_a_successful_login_starts_the_count_again(client, extensions, session):
    phone = YealinkPhone(client, MAC_A)
    for _ in range(4):
        phone.login("1001", "0000")
    assert phone.login("1001", "4321").findtext("Title") == "Logged in"
    phone.boot()
    phone.choose(phone.press("Logout"), "Logout")
    for _ in range(4):
        phone.login("1001", "0000")
    assert phone.login("1001", "4321").findtext("Title") == "Logged in"


def test_lockout_ends_when_the_window_has_passed(session, extensions):
    registry = settings_registry()
    device = hotdesking.record_device(session, brand="yealink", mac=MAC_A, model="T46S", firmware=None, ip="10.0.0.1")
    session.commit()
    old = datetime.now(UTC) - timedelta(minutes=16)
    session.add_all(
        [Event(kind="login_failed", extension="1001", mac=MAC_A, detail="wrong_password", at=old) for _ in range(5)]
    )
    session.commit()
    made = hotdesking.login(session, registry.values(session), device, "1001", "4321", hotdesking.Address.EXTERNAL)
    session.commit()
    assert isinstance(made, hotdesking.LoggedIn)


def test_lockout_can_be_switched_off(client, extensions, session):
    setting(session, "lockout_attempts", "0")
    phone = YealinkPhone(client, MAC_A)
    for _ in range(8):
        phone.login("1001", "0000")
    assert phone.login("1001", "4321").findtext("Title") == "Logged in"


def test_failed_login_line_matches_the_shipped_fail2ban_filter(client, extensions, caplog):
    phone = YealinkPhone(client, MAC_A, ip="192.0.2.7")
    with caplog.at_level(logging.WARNING, logger="hotdesk.login"):
        phone.login("10 01 ip=6.6.6.6", "0000")
    [line] = [r.getMessage() for r in caplog.records if "login failed" in r.getMessage()]
    assert "0000" not in line
    conf = (Path(__file__).parent.parent / "deploy/fail2ban/filter.d/hotdesk.conf").read_text()
    failregex = re.search(r"^failregex = (.+)$", conf, re.MULTILINE).group(1)
    match = re.search(failregex.replace("<HOST>", r"(?P<host>\S+)"), line)
    assert match and match.group("host") == "192.0.2.7"


# multiple logins


def test_deny_policy_shows_where_and_lets_the_user_override_with_the_pin(client, extensions, session, notifier):
    setting(session, "multiple_login", "deny")
    first, second = YealinkPhone(client, MAC_A, ip="10.0.0.1"), YealinkPhone(client, MAC_B, ip="10.0.0.2")
    first.login("1001", "4321")

    menu = second.login("1001", "4321")
    assert menu.tag == "YealinkIPPhoneTextMenu"
    assert menu.findtext("Title") == f"1001 is logged in at T46S {MAC_A}"
    assert mappings(session) == [("1001", MAC_A)]

    form = second.choose(menu, "Log in here anyway")
    fields = {f.findtext("Parameter"): f.findtext("Default") for f in form.iter("InputField")}
    assert fields["extension"] == "1001"
    assert second.submit(form, extension="1001", password="0000").findtext("Title") == "Login failed"
    assert mappings(session) == [("1001", MAC_A)]

    form = second.choose(second.login("1001", "4321"), "Log in here anyway")
    assert second.submit(form, extension="1001", password="4321").findtext("Title") == "Logged in"
    assert mappings(session) == [("1001", MAC_B)]
    assert [n.mac for n in notifier.sent][-2:] == [MAC_A, MAC_B]  # the first phone is told


def test_allow_policy_keeps_both_phones(client, extensions, session):
    setting(session, "multiple_login", "allow")
    YealinkPhone(client, MAC_A).login("1001", "4321")
    YealinkPhone(client, MAC_B).login("1001", "4321")
    assert sorted(mappings(session)) == [("1001", MAC_A), ("1001", MAC_B)]


@pytest.mark.parametrize("policy, winners", [("auto_logout", 8), ("deny", 1), ("allow", 8)])
def test_racing_logins_end_exactly_as_the_policy_says(app, extensions, session, policy, winners):
    setting(session, "multiple_login", policy)
    phones = [YealinkPhone(app.test_client(), f"0015650000{i:02x}", ip=f"10.0.1.{i}") for i in range(8)]
    forms = []
    for phone in phones:
        phone.boot()
        forms.append(phone.press("External"))
    barrier = threading.Barrier(len(phones))
    answers = [None] * len(phones)

    def race(i):
        barrier.wait()
        answers[i] = phones[i].submit(forms[i], extension="1001", password="4321")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(phones))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    logged_in = [a for a in answers if a is not None and a.findtext("Title") == "Logged in"]
    assert len(logged_in) == winners
    held = mappings(session)
    assert len(held) == (8 if policy == "allow" else 1)
    assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == "login")) == winners


def test_a_session_takes_the_login_lock_again_in_each_transaction(engine):
    """The lock is taken once per transaction (the phone app's checks, then the login); a session
    that goes on to another transaction (the CLI, the scheduler) must wait for it again."""
    sessions = make_session_factory(engine)
    with sessions() as holder, sessions() as later:
        serialize_logins(later)
        later.commit()  # the transaction that held it has ended
        serialize_logins(holder)
        passed = threading.Event()

        def take_again():
            serialize_logins(later)
            passed.set()
            later.rollback()

        thread = threading.Thread(target=take_again)
        thread.start()
        assert not passed.wait(0.5), "a new transaction passed a login lock another one holds"
        holder.commit()
        thread.join(30)
        assert passed.is_set()


def test_a_login_waiting_for_sqlites_writer_lock_gets_it_once_free_and_others_keep_their_patience(engine):
    """SQLite: the login lock is asked for again and again while another login holds it (not left to
    SQLite's sleeping busy handler); the connection keeps its busy timeout for every other write."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's writer lock")
    sessions = make_session_factory(engine)
    with sessions() as holder, sessions() as waiter:
        serialize_logins(holder)
        taken = threading.Event()

        def wait_for_it():
            serialize_logins(waiter)
            taken.set()

        thread = threading.Thread(target=wait_for_it)
        thread.start()
        assert not taken.wait(0.2)
        holder.commit()
        thread.join(30)
        assert taken.is_set()
        assert waiter.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        waiter.execute(select(Extension).limit(1))  # the transaction it holds goes on
        waiter.commit()


def test_a_login_lock_held_past_the_connections_timeout_is_a_locked_database_not_a_hang(database_url, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's writer lock")
    impatient = create_engine(database_url, connect_args={"timeout": 0.3})
    with make_session_factory(engine)() as holder, make_session_factory(impatient)() as waiter:
        serialize_logins(holder)
        with pytest.raises(OperationalError, match="database is locked"):
            serialize_logins(waiter)
        assert waiter.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() == 300
    impatient.dispose()


def test_the_login_lock_is_taken_once_per_transaction(engine, extensions):
    """Taken again in the same transaction, it costs nothing: no statement, nothing read again."""
    statements = []

    def executed(_connection, _cursor, statement, *_args):
        statements.append(statement)

    with make_session_factory(engine)() as session:
        serialize_logins(session)
        extension = session.scalars(select(Extension)).first()
        event.listen(engine, "before_cursor_execute", executed)
        try:
            serialize_logins(session)
            assert extension.number  # still loaded: nothing expired, nothing read again
        finally:
            event.remove(engine, "before_cursor_execute", executed)
        session.rollback()
    assert statements == []


# screen state


def test_a_captured_submit_url_cannot_be_replayed_after_the_login(client, extensions, session):
    phone = YealinkPhone(client, MAC_A)
    phone.boot()
    form = phone.press("External")
    assert phone.submit(form, extension="1001", password="4321").findtext("Title") == "Logged in"
    phone.boot()
    phone.choose(phone.press("Logout"), "Logout")

    replay = phone.submit(form, extension="1001", password="4321")
    assert replay.findtext("Text") == "This screen has expired. Please start again."
    assert mappings(session) == []


def test_a_tampered_state_is_refused(client, extensions, session):
    phone = YealinkPhone(client, MAC_A)
    phone.boot()
    form = phone.press("External")
    url = form.find("URL")
    url.text = url.text[:-3] + ("abc" if not url.text.endswith("abc") else "xyz")
    assert "expired" in phone.submit(form, extension="1001", password="4321").findtext("Text")
    assert mappings(session) == []


def test_an_old_screen_expires(client, extensions, session, monkeypatch):
    phone = YealinkPhone(client, MAC_A)
    phone.boot()
    form = phone.press("External")
    import itsdangerous.timed

    later = itsdangerous.timed.time.time() + 301
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    assert "expired" in phone.submit(form, extension="1001", password="4321").findtext("Text")
    assert mappings(session) == []


# automatic logout


def with_values(session, **changed: str) -> SettingValues:
    registry = settings_registry()
    return SettingValues(registry.specs.values(), registry.all(session) | changed)


def test_max_login_time_and_per_extension_override(session):
    settings = with_values(session, max_login_minutes="480")
    now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert hotdesking.login_expiry(settings, Extension(max_login_minutes=None), now) == now + timedelta(hours=8)
    assert hotdesking.login_expiry(settings, Extension(max_login_minutes=60), now) == now + timedelta(hours=1)
    assert hotdesking.login_expiry(settings, Extension(max_login_minutes=0), now) is None


def test_daily_logout_is_the_next_local_time_across_dst(session):
    settings = with_values(session, daily_logout_time="20:00", timezone="Europe/Paris")
    before_dst = datetime(2026, 3, 28, 20, 30, tzinfo=UTC)  # 21:30 in Paris: next is tomorrow
    assert hotdesking.login_expiry(settings, Extension(max_login_minutes=None), before_dst) == datetime(
        2026,
        3,
        29,
        18,
        0,
        tzinfo=UTC,  # 20:00 CEST, the clocks went forward that night
    )
    morning = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    assert hotdesking.login_expiry(settings, Extension(max_login_minutes=None), morning) == datetime(
        2026, 1, 5, 19, 0, tzinfo=UTC
    )


def test_expired_logins_are_logged_out_and_returned_for_notify(client, extensions, session):
    setting(session, "max_login_minutes", "30")
    YealinkPhone(client, MAC_A).login("1001", "4321")
    YealinkPhone(client, MAC_B).login("1002", "55667788")
    assert hotdesking.expired_logins(session, datetime.now(UTC) + timedelta(minutes=10)) == []
    session.commit()
    devices = hotdesking.expired_logins(session, datetime.now(UTC) + timedelta(minutes=31))
    session.commit()
    assert sorted(d.mac for d in devices) == [MAC_A, MAC_B]
    assert mappings(session) == []
    logouts = list(session.scalars(select(Event).where(Event.kind == "logout")))
    assert {(e.actor, e.detail) for e in logouts} == {("hotdesk", "automatic logout")}


# emergency-capable guest line


def test_a_logged_out_phone_registers_the_guest_line_when_one_is_set_up(client, extensions, session):
    for name, value in {
        "guest_line_username": "emergency",
        "guest_line_secret": "em-secret-1",
        "guest_line_address": "10.1.0.9:5062",
    }.items():
        setting(session, name, value)
    phone = YealinkPhone(client, MAC_A)
    guest = phone.boot()
    assert (guest["account.1.enable"], guest["account.1.user_name"], guest["account.1.password"]) == (
        "1",
        "emergency",
        "em-secret-1",
    )
    assert (guest["account.1.sip_server.1.address"], guest["account.1.sip_server.1.port"]) == ("10.1.0.9", "5062")
    assert guest["account.1.display_name"] == "Emergency calls only"
    assert set(phone.keys()) == {"External", "Internal"}

    phone.login("1001", "4321")
    assert phone.boot()["account.1.user_name"] == "1001"
    phone.choose(phone.press("Logout"), "Logout")
    assert phone.boot()["account.1.user_name"] == "emergency"


def test_no_guest_line_by_default(client, session):
    assert YealinkPhone(client, MAC_A).boot()["account.1.enable"] == "0"
