"""Issue 11 (item 6): an admin logs an extension in on a phone — console, API, CLI — through one
function over the core login: no PIN, the multiple_login policy applies, the phones are told, the
history names the admin, and the login is bound to the phone's known address (never the admin's)."""

from sqlalchemy import select

from hotdesk import settings_registry
from hotdesk.models import Event, Mapping
from tests.brands.aastra_phone import AastraPhone
from tests.brands.test_digium import DigiumPhone
from tests.phones import YealinkPhone
from tests.test_api import api, assert_json_error, token  # noqa: F401 (fixtures)
from tests.test_cli import run  # noqa: F401 (fixture)
from tests.test_console import _push_request_context, admin, console, rows, text  # noqa: F401 (fixtures)

DESK, SHARED = "001565aabb01", "001565aabb02"
AASTRA = "00085d1a2b3c"
DIGIUM = "000fd3a1b2c3"


def seated(session) -> list[tuple[str, str]]:
    session.expire_all()
    return [(m.extension.number, m.device.mac) for m in session.scalars(select(Mapping).order_by(Mapping.id))]


def setting(session, name, value):
    settings_registry().set(session, name, value)
    session.commit()


def test_api_logs_an_extension_in_displaces_it_elsewhere_and_tells_both_phones(
    api, client, extensions, session, notifier
):
    desk = YealinkPhone(client, DESK, ip="10.20.0.41")
    assert desk.login("1001", "4321").findtext("Title") == "Logged in"
    shared = YealinkPhone(client, SHARED, ip="10.20.0.42")
    shared.boot()
    notifier.sent.clear()

    answer = api.post(f"/devices/{SHARED}/login", json={"extension": "1001", "address": "internal"})

    assert answer.status_code == 200, answer.json
    assert answer.json == {
        "mac": SHARED,
        "extension": "1001",
        "address": "internal",
        "ip": "10.20.0.42",
        "logged_out": [DESK],
    }
    assert seated(session) == [("1001", SHARED)]
    assert sorted((sent.mac, sent.host) for sent in notifier.sent) == [(DESK, "10.20.0.41"), (SHARED, "10.20.0.42")]
    login = session.scalars(select(Event).where(Event.kind == "login").order_by(Event.id.desc())).first()
    assert (login.extension, login.mac, login.actor, login.ip, login.address, login.detail) == (
        "1001",
        SHARED,
        "api:billing-sync",
        "10.20.0.42",
        "internal",
        "made by an admin",
    )
    displaced = session.scalars(select(Event).where(Event.kind == "logout")).one()
    assert (displaced.mac, displaced.actor, displaced.detail) == (DESK, "api:billing-sync", f"logged in on {SHARED}")
    shared.boot()
    assert shared.line()["secret"] == "alice-SIP-secret-9f3" and shared.line()["registrar_host"] == "10.1.0.5"


def test_a_token_with_the_longest_name_logs_in_and_displaces(client, extensions, session):
    """The actor is "api:" and up to 64 characters: the history keeps 64 (PostgreSQL refuses more)."""
    from hotdesk.admin import accounts

    secret = accounts.create_token(session, "t" * 64, "test").secret
    session.commit()
    YealinkPhone(client, DESK).login("1001", "4321")
    YealinkPhone(client, SHARED).boot()
    answer = client.post(
        f"/api/v1/devices/{SHARED}/login", json={"extension": "1001"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 200, answer.json
    actors = session.scalars(select(Event.actor).where(Event.kind.in_(("login", "logout"))).order_by(Event.id))
    assert list(actors) == [None, ("api:" + "t" * 64)[:64], ("api:" + "t" * 64)[:64]]


def test_api_refuses_what_the_rules_refuse_and_changes_nothing(api, client, extensions, session, notifier):
    YealinkPhone(client, DESK).login("1001", "4321")
    YealinkPhone(client, SHARED).boot()
    setting(session, "multiple_login", "deny")
    notifier.sent.clear()

    assert_json_error(api.post(f"/devices/{SHARED}/login", json={"extension": "1001"}), 409, "multiple_login is deny")
    assert_json_error(api.post(f"/devices/{SHARED}/login", json={"extension": "9999"}), 404, "no extension 9999")
    assert_json_error(api.post(f"/devices/{SHARED}/login", json={"extension": ""}), 422, "extension: required")
    assert_json_error(api.post(f"/devices/{SHARED}/login", json={"extension": "1002", "address": "moon"}), 422)
    assert_json_error(api.post("/devices/001565ffffff/login", json={"extension": "1002"}), 404)
    assert_json_error(api.post(f"/devices/{SHARED}/login", json={}), 400, "extension: required")
    assert_json_error(api.post(f"/devices/{SHARED}/login", json={"extension": "1002", "pin": "1"}), 400)
    setting(session, "internal_address", "")
    assert_json_error(
        api.post(f"/devices/{SHARED}/login", json={"extension": "1002", "address": "internal"}), 422, "internal_address"
    )

    assert seated(session) == [("1001", DESK)] and notifier.sent == []


def test_deny_policy_still_lets_the_admin_log_in_where_nobody_else_is(api, client, extensions, session):
    setting(session, "multiple_login", "deny")
    YealinkPhone(client, SHARED).boot()
    assert api.post(f"/devices/{SHARED}/login", json={"extension": "1002"}).status_code == 200
    assert seated(session) == [("1002", SHARED)]


def test_an_admin_made_login_on_an_aastra_serves_the_line_only_to_the_phones_address(api, client, extensions):
    """Aastra phones have no credentials of their own: the login's address is what binds the line."""
    phone = AastraPhone(client, AASTRA, ip="10.20.0.31")
    phone.boot()
    assert phone.line() is None

    assert api.post(f"/devices/{AASTRA}/login", json={"extension": "1001"}).json["ip"] == "10.20.0.31"

    neighbour = AastraPhone(client, AASTRA, ip="10.66.0.66")  # the shared credentials and the same User-Agent
    neighbour.boot()
    assert neighbour.line() is None
    assert not [name for name, body in neighbour.files.items() if b"alice-SIP-secret-9f3" in body]
    phone.boot()
    assert phone.line()["secret"] == "alice-SIP-secret-9f3"


def test_console_phones_page_logs_an_extension_in(console, client, extensions, session, notifier):
    YealinkPhone(client, SHARED, ip="10.20.0.42").boot()
    page = console.page("/admin/devices")
    [link] = page.xpath(f"//tr[@data-mac='{SHARED}']//a[normalize-space()='Log in extension…']/@href")

    form = console.page(link)
    answer = console.post(link, {"extension": "1002", "address": "internal"}, token_from=form)

    assert answer.status_code == 302
    assert "1002 logged in on 001565aabb02" in text(console.get(answer.headers["Location"]))
    assert seated(session) == [("1002", SHARED)]
    assert [(sent.mac, sent.host) for sent in notifier.sent] == [(SHARED, "10.20.0.42")]
    login = session.scalars(select(Event).where(Event.kind == "login")).one()
    assert (login.actor, login.ip) == ("ann", "10.20.0.42")

    refused = console.post(
        link,
        {"extension": "9999", "address": "internal"},
        token_from=form,
        headers={"Referer": f"http://localhost{link}"},
    )
    assert refused.status_code == 302
    assert "no extension 9999" in text(console.get(refused.headers["Location"]))
    assert seated(session) == [("1002", SHARED)]


def test_cli_logs_a_digium_phone_in_and_it_reloads_into_its_users_line(run, client, extensions, session, sipp_uas):
    """Digium D phones have no login app: the README's promise is kept by an admin-made login."""
    phone = DigiumPhone(client, DIGIUM, ip="127.0.0.1")
    phone.boot()
    assert phone.line() is None
    peer = sipp_uas("check-sync")
    setting(session, "phone_sip_port", str(peer.port))

    result = run("login", "1002", "00:0F:D3:A1:B2:C3", "--internal")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"1002 logged in on {DIGIUM} (internal)", f"NOTIFY to {DIGIUM}: 200 OK"]
    assert peer.wait() == 0, peer.diagnostics()
    phone.boot()
    assert (phone.line()["user_name"], phone.line()["secret"], phone.line()["registrar_host"]) == (
        "1002",
        "bob-SIP-secret-77a",
        "10.1.0.5",
    )
    assert session.scalars(select(Event.actor).where(Event.kind == "login")).one() == "cli"


def test_cli_login_errors_are_one_line(run, client, extensions, session):
    YealinkPhone(client, SHARED).boot()
    for args, message in (
        (("login", "9999", SHARED), "Error: no extension 9999"),
        (("login", "1001", "zz"), "Error: mac: 'zz' is not a MAC address (12 hex digits, separators allowed)"),
        (("login", "1001", "001565ffffff"), "Error: no phone with MAC 001565ffffff has contacted hotdesk"),
    ):
        result = run(*args)
        assert result.exit_code == 1 and result.output == message + "\n", result.output
    assert seated(session) == []
