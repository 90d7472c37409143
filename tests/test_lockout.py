"""Issue 11 (item 4): failed-login lockouts that cannot be turned against users.

Real phones through the phone app: one phone's lock does not spill onto the extensions typed on
it (nor an extension's onto the phones), locks grow, a sprayer on other or freshly minted phones
does not keep a user off their own phone, and admins see and lift locks in the console, API and CLI.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hotdesk import hotdesking, lockout, settings_registry
from hotdesk.models import Address, Event, EventKind, Mapping
from tests.phones import YealinkPhone
from tests.test_api import api, token  # noqa: F401 (fixtures)
from tests.test_cli import run  # noqa: F401 (fixture)
from tests.test_console import _push_request_context, admin, console, rows  # noqa: F401 (fixtures)

DESK, SHARED, ATTACKER = "001565aabb01", "001565aabb02", "001565aabb03"
LOCKED = "Too many failed logins"


def minted(n: int) -> str:
    return f"001565cc{n:04x}"


def setting(session, name, value):
    settings_registry().set(session, name, value)
    session.commit()


def logged_in(answer) -> bool:
    return answer.findtext("Title") == "Logged in"


def log_out(phone) -> None:
    phone.boot()
    assert phone.choose(phone.press("Logout"), "Logout").findtext("Title") == "Logged out"


def seated(session) -> list[tuple[str, str]]:
    session.expire_all()
    return [(m.extension.number, m.device.mac) for m in session.scalars(select(Mapping).order_by(Mapping.id))]


def past_failures(session, number, mac, minutes_ago, count):
    """`count` failed logins that tested a PIN, `minutes_ago` minutes ago."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    session.add_all(
        [
            Event(kind="login_failed", extension=number, mac=mac, detail="wrong_password", at=at + timedelta(seconds=i))
            for i in range(count)
        ]
    )
    session.commit()


# M2: one lock does not spill onto the other


def test_a_locked_phone_does_not_lock_the_extensions_typed_on_it(client, extensions, session):
    shared = YealinkPhone(client, SHARED)
    for number in ("2001", "2002", "2003", "2004", "2005"):  # someone sprays extensions: the phone locks
        shared.login(number, "0000")
    for _ in range(6):  # the real user of 1001 tries, and tries again, at that phone
        assert LOCKED in shared.login("1001", "4321").findtext("Text")

    assert logged_in(YealinkPhone(client, DESK).login("1001", "4321"))
    refusals = session.scalars(select(Event.detail).where(Event.extension == "1001", Event.kind == "login_failed"))
    assert set(refusals) == {lockout.PHONE_LOCKED}


def test_a_locked_extension_does_not_lock_the_phones_it_is_typed_on(client, extensions, session):
    attacker = YealinkPhone(client, ATTACKER)
    for _ in range(5):
        attacker.login("1001", "0000")
    shared = YealinkPhone(client, SHARED)
    for _ in range(6):  # its user, not knowing, tries at a shared phone
        assert LOCKED in shared.login("1001", "4321").findtext("Text")

    assert logged_in(shared.login("1002", "55667788"))  # the shared phone still serves everyone else


# progressive locks


def test_each_further_run_of_failures_locks_twice_as_long(client, extensions, session):
    past_failures(session, "1001", ATTACKER, minutes_ago=20, count=5)  # the first lock (15 min) is over
    phone = YealinkPhone(client, ATTACKER)
    for _ in range(4):
        assert "Wrong password" in phone.login("1001", "0000").findtext("Text")
    assert phone.login("1001", "0000").findtext("Text") == "Wrong password for extension 1001."
    assert phone.login("1001", "4321").findtext("Text") == "Too many failed logins. Try again in 30 minute(s)."

    lock = session.scalars(select(Event).where(Event.kind == EventKind.LOCKOUT.value, Event.extension == "1001"))
    assert [e.detail for e in lock] == [
        "extension 1001 locked on phones it has not logged in on for 30 minute(s): 10 failed logins"
    ]


def test_locks_stop_growing_at_lockout_max_minutes_and_failures_are_forgotten(session, extensions):
    setting(session, "lockout_max_minutes", "45")
    registry = settings_registry()
    device = hotdesking.record_device(
        session, brand="yealink", mac=ATTACKER, model="T46S", firmware=None, ip="10.0.0.9"
    )
    past_failures(session, "1001", ATTACKER, minutes_ago=80, count=10)  # two locks, both over
    for _ in range(5):
        hotdesking.login(session, registry.values(session), device, "1001", "0000", Address.EXTERNAL)
        session.commit()
    refused = hotdesking.login(session, registry.values(session), device, "1001", "4321", Address.EXTERNAL)
    session.commit()
    assert isinstance(refused, hotdesking.Refused)
    assert refused.retry_after is not None
    assert timedelta(minutes=44) < refused.retry_after <= timedelta(minutes=45)

    session.query(Event).delete()
    past_failures(session, "1001", ATTACKER, minutes_ago=7 * 45 + 1, count=10)  # older than 7 longest locks
    for _ in range(5):
        hotdesking.login(session, registry.values(session), device, "1001", "0000", Address.EXTERNAL)
        session.commit()
    refused = hotdesking.login(session, registry.values(session), device, "1001", "4321", Address.EXTERNAL)
    session.commit()
    assert isinstance(refused, hotdesking.Refused)
    assert refused.retry_after is not None
    assert timedelta(minutes=14) < refused.retry_after <= timedelta(minutes=15)


# a sprayer elsewhere does not keep the user off their own phone


def test_pins_sprayed_from_minted_phones_lock_them_all_but_not_the_users_own_phone(client, extensions, session):
    desk = YealinkPhone(client, DESK)
    assert logged_in(desk.login("1001", "4321"))  # the user's own phone, known from now on
    log_out(desk)
    for n in range(5):  # one guess from each of five freshly minted phones
        YealinkPhone(client, minted(n)).login("1001", "0000")

    assert LOCKED in YealinkPhone(client, minted(99)).login("1001", "4321").findtext("Text")
    assert logged_in(desk.login("1001", "4321"))
    assert seated(session) == [("1001", DESK)]


def test_the_user_keeps_their_phone_even_while_the_spray_goes_on_and_locks_grow(client, extensions, session):
    desk = YealinkPhone(client, DESK)
    assert logged_in(desk.login("1001", "4321"))
    log_out(desk)
    past_failures(session, "1001", ATTACKER, minutes_ago=20, count=5)
    for n in range(5):
        YealinkPhone(client, minted(n)).login("1001", "0000")
    assert logged_in(desk.login("1001", "4321"))  # a success on the own phone does not wipe the sprayer's count
    log_out(desk)
    assert "30 minute(s)" in YealinkPhone(client, minted(7)).login("1001", "4321").findtext("Text")


def test_a_phone_is_known_at_the_address_it_logged_in_from_not_by_its_mac_alone(client, extensions, session):
    """Brands without credentials of their own can be named by anyone: a MAC is no device cookie."""
    desk = YealinkPhone(client, DESK, ip="10.20.0.31")
    assert logged_in(desk.login("1001", "4321"))
    log_out(desk)
    registry = settings_registry()
    device = hotdesking.find_device(session, mac=DESK)
    for _ in range(5):  # a neighbour's requests name the desk phone, from the neighbour's address
        hotdesking.login(session, registry.values(session), device, "1001", "0000", Address.EXTERNAL, "10.66.0.66")
        session.commit()
    refused = hotdesking.login(
        session, registry.values(session), device, "1001", "4321", Address.EXTERNAL, "10.66.0.66"
    )
    session.commit()
    assert isinstance(refused, hotdesking.Refused)
    assert refused.failure is hotdesking.LoginFailure.LOCKED_OUT

    assert logged_in(desk.login("1001", "4321"))


def test_failures_on_the_own_phone_lock_the_extension_everywhere(client, extensions, session):
    desk = YealinkPhone(client, DESK)
    assert logged_in(desk.login("1001", "4321"))
    log_out(desk)
    for _ in range(5):
        desk.login("1001", "0000")
    assert LOCKED in desk.login("1001", "4321").findtext("Text")
    assert LOCKED in YealinkPhone(client, SHARED).login("1001", "4321").findtext("Text")


def test_a_phones_own_lock_does_not_refuse_the_extensions_that_sit_there(client, extensions, session):
    desk = YealinkPhone(client, DESK)
    assert logged_in(desk.login("1001", "4321"))
    log_out(desk)
    for number in ("2001", "2002", "2003", "2004", "2005"):  # someone at that desk sprays other extensions
        desk.login(number, "0000")
    assert LOCKED in desk.login("1002", "55667788").findtext("Text")
    assert logged_in(desk.login("1001", "4321"))


def test_the_lock_of_an_extension_calls_the_hook_its_users_mail_will_hang_on(client, extensions, monkeypatch):
    told = []
    monkeypatch.setattr(lockout, "extension_locked_hooks", [lambda number, lock, where: told.append((number, where))])
    phone = YealinkPhone(client, ATTACKER)
    for _ in range(5):
        phone.login("1001", "0000")
    phone.login("1001", "0000")  # refused: no second call
    assert told == [("1001", "phones it has not logged in on")]


def test_the_login_path_reads_at_most_one_query_more_than_before(session, extensions):
    """Before: the extension's and the phone's latest attempts. Now: also its known phones."""
    from sqlalchemy import event

    hotdesking.record_device(session, brand="yealink", mac=ATTACKER, model="T46S", firmware=None, ip="10.0.0.9")
    session.commit()
    registry = settings_registry()
    settings = registry.values(session)
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(session.bind, "before_cursor_execute", listener)
    try:
        lockout.check(session, settings, "1001", ATTACKER, "10.0.0.9")
    finally:
        event.remove(session.bind, "before_cursor_execute", listener)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 3


# admins see and lift locks: console, API, CLI, one function, in the history


def lock_1001_and_attacker(client):
    attacker = YealinkPhone(client, ATTACKER)
    for _ in range(5):
        attacker.login("1001", "0000")
    return attacker


def test_api_lists_and_lifts_lockouts_of_extensions_and_phones(api, client, extensions, session):
    attacker = lock_1001_and_attacker(client)
    listed = api.get("/lockouts")
    assert listed.status_code == 200
    assert {(item["kind"], item["key"], item["level"], item["failures"]) for item in listed.json["items"]} == {
        ("extension", "1001", 1, 5),
        ("phone", ATTACKER, 1, 5),
    }

    assert api.post("/extensions/1001/unlock").json == {"unlocked": "extension 1001"}
    assert [item["kind"] for item in api.get("/lockouts").json["items"]] == ["phone"]
    assert logged_in(YealinkPhone(client, SHARED).login("1001", "4321"))
    assert LOCKED in attacker.login("1002", "55667788").findtext("Text")
    assert api.post("/devices/00:15:65:AA:BB:03/unlock").json == {"unlocked": f"phone {ATTACKER}"}
    assert api.get("/lockouts").json["items"] == []
    assert logged_in(attacker.login("1002", "55667788"))

    unlocks = session.scalars(select(Event).where(Event.kind == "unlock").order_by(Event.id))
    assert [(e.extension, e.mac, e.actor) for e in unlocks] == [
        ("1001", None, "api:billing-sync"),
        (None, ATTACKER, "api:billing-sync"),
    ]
    assert api.post("/extensions/9999/unlock").status_code == 404
    assert api.post("/devices/001565ffffff/unlock").status_code == 404
    assert api.post("/devices/nonsense/unlock").status_code == 422


def test_console_phones_page_lists_lockouts_with_unlock(console, client, extensions, session):
    lock_1001_and_attacker(client)
    page = console.get("/admin/devices")
    assert [row[:2] for row in rows(page, "lockouts")] == [
        ["extension 1001", "phones it has not logged in on"],
        [f"phone {ATTACKER}", "extensions that have not logged in on it"],
    ] or [row[:2] for row in rows(page, "lockouts")] == [
        [f"phone {ATTACKER}", "extensions that have not logged in on it"],
        ["extension 1001", "phones it has not logged in on"],
    ]
    answer = console.submit("/admin/lockouts/unlock", {"extension": "1001"})
    assert answer.status_code == 302
    assert [row[0] for row in rows(console.get("/admin/devices"), "lockouts")] == [f"phone {ATTACKER}"]
    console.submit("/admin/lockouts/unlock", {"mac": ATTACKER})
    assert rows(console.get("/admin/devices"), "lockouts") == [["Nobody is locked out."]]
    actors = session.scalars(select(Event.actor).where(Event.kind == "unlock"))
    assert list(actors) == ["ann", "ann"]


def test_cli_lists_and_lifts_lockouts(run, client, extensions):
    lock_1001_and_attacker(client)
    listed = run("lockouts").output.splitlines()
    assert sorted(line.split("\t")[:2] for line in listed) == [["extension", "1001"], ["phone", ATTACKER]]
    assert run("unlock", "--phone", ATTACKER).output == f"phone {ATTACKER} unlocked\n"
    assert run("unlock", "1001").output == "extension 1001 unlocked\n"
    assert run("lockouts").output == ""
    refused = run("unlock")
    assert refused.exit_code == 1 and refused.output == "Error: name an extension or a phone to unlock\n"


@pytest.mark.parametrize("attempts", ["0"])
def test_no_lockouts_when_switched_off(api, client, extensions, session, attempts):
    setting(session, "lockout_attempts", attempts)
    lock_1001_and_attacker(client)
    assert api.get("/lockouts").json["items"] == []
