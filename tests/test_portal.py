"""The user portal (/portal/) through HTTP: a person signs in with their LOGIN, changes the
generated password first, sees the desk phones they are logged in on and logs out there, changes
their PIN and reads their own history — and nothing of anyone else's, whatever they send."""

import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import quote

import pytest
import requests
from flask.testing import FlaskClient
from lxml import html
from sqlalchemy import select

from hotdesk import lockout, people, settings_registry, tenancy
from hotdesk.admin import accounts
from hotdesk.models import Event, EventKind, Extension, Mapping, User
from hotdesk.web.portal import BROWSER_COOKIE
from tests.phones import YealinkPhone

ALICE_PASSWORD = "alice's own passphrase"
BOB_PASSWORD = "bob's own passphrase"
DESK, BOBS_DESK, ACME_DESK = "001565aabb01", "001565aabb02", "001565aabb03"
HOME = "192.0.2.7"


@pytest.fixture(autouse=True)
def _push_request_context():
    """As in test_console: each request its own `g` (and its own CSRF token), as on a real server."""


class _ClientOfItsOwn(FlaskClient):
    """Flask's test client keeps a request's app context pushed until its next request, and a
    request of another client (a second browser, a phone) would run in it: its `g`, Flask-WTF's
    cached CSRF token of the other browser. A real server gives each request its own."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        self._context_stack.close()
        return response


@pytest.fixture(autouse=True)
def _each_request_its_own_context(app):
    app.test_client_class = _ClientOfItsOwn


class Portal:
    """A browser without JavaScript on the portal: follows forms, sends their CSRF token."""

    def __init__(self, client, ip=HOME, base_url="http://localhost"):
        self.client, self.ip, self.base_url = client, ip, base_url

    def get(self, path, **kwargs):
        return self.client.get(path, environ_base={"REMOTE_ADDR": self.ip}, base_url=self.base_url, **kwargs)

    def page(self, path="/portal/"):
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code, response.data[:300])
        return html.fromstring(response.data)

    def post(self, path, data=None, token_from=None, **kwargs):
        data = dict(data or {})
        if token_from is not None:
            data["csrf_token"] = token_from.xpath("//input[@name='csrf_token']/@value")[0]
        # Over HTTPS Flask-WTF also wants the Referer of a page of this site, as a browser sends it.
        headers = {"Referer": f"{self.base_url}/portal/"}
        return self.client.post(
            path, data=data, environ_base={"REMOTE_ADDR": self.ip}, base_url=self.base_url, headers=headers, **kwargs
        )

    def submit(self, path, data=None, **kwargs):
        """POST with a CSRF token from the sign-in page (the one page every session can open)."""
        return self.post(path, data, token_from=self.page("/portal/sign-in"), **kwargs)

    def sign_in(self, login="alice", password=ALICE_PASSWORD):
        return self.submit("/portal/sign-in", {"login": login, "password": password})

    def change_password(self, current, new, confirm=None):
        return self.submit("/portal/password", {"current": current, "new": new, "confirm": confirm or new})


def text(response):
    return " ".join(html.fromstring(response.data).text_content().split())


def redirected_to(response, path):
    return response.status_code == 302 and response.headers["Location"] == path


@pytest.fixture
def generated(session, extensions):
    """Alice (1001) with the password the command generated: she must change it first."""
    made = people.create(session, session.scalar(select(Extension).where(Extension.number == "1001")), "alice")
    session.commit()
    return made.password


@pytest.fixture
def alice(session, generated):
    """Alice, past her first sign-in; Bob (1002) too."""
    user = session.scalar(select(User).where(User.username == "alice"))
    people.set_password(session, user, ALICE_PASSWORD, temporary=False)
    bob = people.create(session, session.scalar(select(Extension).where(Extension.number == "1002")), "bob")
    people.set_password(session, bob.user, BOB_PASSWORD, temporary=False)
    session.commit()
    return user


@pytest.fixture
def portal(client, alice):
    portal = Portal(client)
    assert redirected_to(portal.sign_in(), "/portal/")
    return portal


def events(session, *kinds):
    session.expire_all()
    return list(session.scalars(select(Event).where(Event.kind.in_(kinds)).order_by(Event.id)))


def seated(session):
    session.expire_all()
    return sorted((m.extension.number, m.device.mac) for m in session.scalars(select(Mapping)))


def no_secret_in_history(session, *secrets):
    session.expire_all()
    for event in session.scalars(select(Event)):
        row = " ".join(str(getattr(event, column.key)) for column in Event.__table__.columns)
        assert not any(secret in row for secret in secrets), row


# signing in


def test_every_page_needs_a_signed_in_person(client, alice):
    portal = Portal(client)
    for path in ("/portal/", "/portal/password"):
        assert redirected_to(portal.get(path), "/portal/sign-in")
    for path in ("/portal/pin", "/portal/phones/001565aabb01/logout", "/portal/sign-out", "/portal/password"):
        assert redirected_to(portal.submit(path, {"pin": "7193", "confirm": "7193"}), "/portal/sign-in"), path
    assert portal.get("/portal/static/portal.css").status_code == 200
    assert portal.get("/portal/nowhere").status_code == 404


def test_first_sign_in_forces_the_password_change_and_the_generated_one_is_gone(client, session, generated):
    portal = Portal(client)
    assert redirected_to(portal.sign_in(password=generated), "/portal/password")
    # Nothing else opens before the change: not the page, not a PIN change.
    assert redirected_to(portal.get("/portal/"), "/portal/password")
    assert redirected_to(portal.submit("/portal/pin", {"pin": "7193", "confirm": "7193"}), "/portal/password")
    assert session.scalar(select(Extension.voicemail_pin).where(Extension.number == "1001")) == "4321"
    assert "Choose a password of your own" in text(portal.get("/portal/password"))

    for current, new, confirm, why in [
        ("not it at all", ALICE_PASSWORD, None, "current password is not right"),
        (generated, "short", None, "at least 10"),
        (generated, ALICE_PASSWORD, "something else!", "differ"),
        (generated, generated, None, "must differ"),
        (generated, "alice-SIP-secret-9f3", None, "SIP secret"),
    ]:
        refused = portal.change_password(current, new, confirm)
        assert refused.status_code == 422 and why in text(refused), (new, text(refused))
    session.expire_all()
    assert session.scalar(select(User.initial_password)) == generated

    assert redirected_to(portal.change_password(generated, ALICE_PASSWORD), "/portal/")
    assert "Password changed" in text(portal.get("/portal/"))
    session.expire_all()
    user = session.scalar(select(User))
    assert (user.must_change_password, user.initial_password) == (False, None)
    again = Portal(client.application.test_client()).sign_in(password=generated)
    assert again.status_code == 401, text(again)
    assert redirected_to(Portal(client.application.test_client()).sign_in(), "/portal/")
    [changed] = events(session, EventKind.PASSWORD_CHANGED)
    assert (changed.tenant_id, changed.extension, changed.actor, changed.ip) == (1, "1001", "alice", HOME)
    no_secret_in_history(session, generated, ALICE_PASSWORD)


def test_sign_in_names_the_person_in_the_history_and_sets_safe_cookies(app, client, alice, session):
    portal = Portal(client)
    answer = portal.sign_in()
    cookies = {c.split("=", 1)[0]: c for c in answer.headers.getlist("Set-Cookie")}
    session_cookie = cookies["hotdesk_portal"]
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie and "Path=/portal" in session_cookie
    assert "Secure" not in session_cookie
    assert "hotdesk_admin" not in cookies  # the console's session is left alone
    known = cookies[BROWSER_COOKIE]
    assert "HttpOnly" in known and "SameSite=Strict" in known and "Path=/portal/sign-in" in known
    over_https = Portal(app.test_client(), base_url="https://localhost").sign_in()
    secure = [c for c in over_https.headers.getlist("Set-Cookie") if c.startswith("hotdesk_portal")]
    assert len(secure) == 2 and all("Secure" in c for c in secure)

    [signed_in] = events(session, EventKind.USER_SIGNIN)[:1]
    assert (signed_in.tenant_id, signed_in.extension, signed_in.actor, signed_in.ip) == (1, "1001", "alice", HOME)
    assert portal.sign_in(password="wrong password!").status_code == 401
    failed = events(session, EventKind.USER_SIGNIN_FAILED)[-1]
    assert (failed.tenant_id, failed.extension, failed.actor) == (1, "1001", "alice")
    no_secret_in_history(session, ALICE_PASSWORD, "wrong password!")


def test_an_unknown_login_gets_the_same_answer_after_the_same_work(client, alice, session, monkeypatch):
    verified = []

    class Counting:
        def __getattr__(self, name):
            return getattr(real, name)

        def verify(self, *args):
            verified.append(1)
            return real.verify(*args)

    real = people._hasher
    monkeypatch.setattr(people, "_hasher", Counting())
    portal = Portal(client)
    wrong = portal.sign_in("alice", "not her password")
    unknown = portal.sign_in("nobody", "not her password")
    typed_password = portal.sign_in(ALICE_PASSWORD, ALICE_PASSWORD)  # the password typed as the login
    assert wrong.status_code == unknown.status_code == typed_password.status_code == 401
    assert "Wrong login or password." in text(wrong)
    assert text(wrong).replace("alice", "nobody") == text(unknown)
    assert len(verified) == 3  # the slow check ran for the unknown LOGINs too
    # Counted like an account (under a hash of what was typed), never written down as typed.
    no_secret_in_history(session, ALICE_PASSWORD, "nobody")
    for _ in range(4):
        portal.sign_in("nobody", "not her password")
        portal.sign_in("alice", "not her password")
    assert portal.sign_in("nobody", "x").status_code == portal.sign_in("alice", "x").status_code == 429


def test_a_tenants_person_signs_in_with_the_sip_domain(client, session, extensions):
    acme = tenancy.add(session, settings_registry(), "acme", "acme.example.com", "test").tenant
    extension = Extension(tenant_id=acme.id, number="1001", name="Ann Acme", secret="acme-SIP-secret-1x")
    session.add(extension)
    session.flush()
    people.set_password(
        session, people.create(session, extension, "alice").user, "acme alice's password", temporary=False
    )
    session.commit()
    portal = Portal(client)
    assert portal.sign_in("alice", "acme alice's password").status_code == 401  # bare: the default tenant's
    assert redirected_to(portal.sign_in("alice@ACME.example.com", "acme alice's password"), "/portal/")
    assert "alice@acme.example.com" in text(portal.get("/portal/"))
    signed_in = events(session, EventKind.USER_SIGNIN)[-1]
    assert (signed_in.tenant_id, signed_in.extension, signed_in.actor) == (acme.id, "1001", "alice@acme.example.com")


# lockout


def age(session, minutes):
    """Let `minutes` pass for every sign-in event so far."""
    for event in session.scalars(select(Event)):
        event.at -= timedelta(minutes=minutes)
    session.commit()


def test_guesses_lock_the_account_progressively_but_not_for_the_persons_own_browser(app, client, alice, session):
    own = Portal(client, ip="198.51.100.5")
    assert redirected_to(own.sign_in(), "/portal/")  # her browser is known from now on
    own.submit("/portal/sign-out")
    stranger = Portal(app.test_client(), ip="203.0.113.9")
    for _ in range(5):
        assert stranger.sign_in(password="guess guess guess").status_code == 401
    locked = stranger.sign_in()  # even the right password: locked for 15 minutes
    assert locked.status_code == 429 and "15 minute(s)" in text(locked)
    assert int(locked.headers["Retry-After"]) > 14 * 60
    assert Portal(app.test_client(), ip="203.0.113.10").sign_in().status_code == 429  # any unknown browser
    assert redirected_to(own.sign_in(), "/portal/")  # the stranger did not lock her out

    age(session, 16)
    for _ in range(5):
        assert stranger.sign_in(password="guess guess guess").status_code == 401
    assert "30 minute(s)" in text(stranger.sign_in())  # the second lock lasts twice as long
    # An admin's unlock of the extension lifts it, as it lifts a PIN lock.
    lockout.unlock(session, actor="ann", number="1001")
    session.commit()
    assert redirected_to(stranger.sign_in(), "/portal/")


def test_the_persons_own_browser_has_a_count_of_its_own(client, alice):
    own = Portal(client)
    own.sign_in()
    own.submit("/portal/sign-out")
    for _ in range(5):
        assert own.sign_in(password="forgot it again").status_code == 401
    assert own.sign_in().status_code == 429


def test_a_forged_known_browser_cookie_counts_as_a_stranger(app, client, alice):
    stranger = Portal(client, ip="203.0.113.9")
    client.set_cookie(BROWSER_COOKIE, "eyJ1c2VyIjoxLCJicm93c2VyIjoieCJ9.forged.sig", path="/portal/sign-in")
    for _ in range(5):
        stranger.sign_in(password="guess guess guess")
    assert stranger.sign_in().status_code == 429


def test_one_address_spraying_many_logins_is_locked(app, client, alice, session):
    own = Portal(app.test_client(), ip="203.0.113.9")
    assert redirected_to(own.sign_in("bob", BOB_PASSWORD), "/portal/")  # Bob's browser, at that address
    own.submit("/portal/sign-out")
    sprayer = Portal(client, ip="203.0.113.9")
    for n in range(20):
        assert sprayer.sign_in(f"user{n}", "Winter2026!").status_code == 401
    assert sprayer.sign_in("alice", ALICE_PASSWORD).status_code == 429
    assert sprayer.sign_in("alice", "Winter2026!").status_code == 429
    assert redirected_to(Portal(app.test_client(), ip="203.0.113.10").sign_in(), "/portal/")  # another address
    assert redirected_to(own.sign_in("bob", BOB_PASSWORD), "/portal/")  # a known browser there


def test_a_tenants_lockout_settings_apply_and_sign_ins_are_throttled_even_with_phone_lockouts_off(
    client, alice, session
):
    registry = settings_registry()
    registry.set(session, "lockout_attempts", "0")  # desk-phone PIN lockouts off for the installation
    session.commit()
    stranger = Portal(client, ip="203.0.113.9")
    for _ in range(5):  # the default, still
        assert stranger.sign_in(password="guess guess guess").status_code == 401
    assert stranger.sign_in().status_code == 429

    acme = tenancy.add(session, registry, "acme", "acme.example.com", "test").tenant
    registry.set(session, "lockout_attempts", "2", acme.id)
    registry.set(session, "lockout_minutes", "60", acme.id)
    extension = Extension(tenant_id=acme.id, number="1001", name="Ann Acme", secret="acme-SIP-secret-1x")
    session.add(extension)
    session.flush()
    people.set_password(session, people.create(session, extension, "ann").user, "ann's own passphrase", temporary=False)
    session.commit()
    other = Portal(client.application.test_client(), ip="203.0.113.10")
    for _ in range(2):
        assert other.sign_in("ann@acme.example.com", "guess guess guess").status_code == 401
    locked = other.sign_in("ann@acme.example.com", "ann's own passphrase")
    assert locked.status_code == 429 and "60 minute(s)" in text(locked)
    # An unknown LOGIN of acme's domain is judged by acme's policy too: nothing tells them apart.
    for _ in range(2):
        assert other.sign_in("nobody@acme.example.com", "guess guess guess").status_code == 401
    locked = other.sign_in("nobody@acme.example.com", "guess guess guess")
    assert locked.status_code == 429 and "60 minute(s)" in text(locked)


class LiveBrowser:
    """A browser on a live server: its own cookies, the sign-in form's CSRF token."""

    def __init__(self, server, cookies=None):
        self.server = server
        self.http = requests.Session()
        self.http.cookies.update(cookies or {})
        page = html.fromstring(self.http.get(server.url("/portal/sign-in"), timeout=60).content)
        self.token = page.xpath("//input[@name='csrf_token']/@value")[0]

    def sign_in(self, password, login="alice"):
        return self.http.post(
            self.server.url("/portal/sign-in"),
            data={"login": login, "password": password, "csrf_token": self.token},
            allow_redirects=False,
            timeout=120,
        )


def test_racing_guesses_get_exactly_the_limit_and_the_person_still_signs_in(live_server, alice):
    first = LiveBrowser(live_server)
    assert first.sign_in(ALICE_PASSWORD).status_code == 302
    known = {BROWSER_COOKIE: first.http.cookies[BROWSER_COOKIE]}
    attackers = [LiveBrowser(live_server) for _ in range(12)]
    own = LiveBrowser(live_server, cookies=known)
    start = threading.Barrier(len(attackers) + 1)

    def attack(browser):
        start.wait()
        return browser.sign_in("guess-" + secrets.token_hex(4)).status_code

    def the_person():
        start.wait()
        time.sleep(0.2)  # in the middle of the storm
        return own.sign_in(ALICE_PASSWORD)

    with ThreadPoolExecutor(len(attackers) + 1) as pool:
        signed_in = pool.submit(the_person)
        guesses = list(pool.map(attack, attackers))
        response = signed_in.result()
    assert Counter(guesses) == {401: 5, 429: len(attackers) - 5}
    assert response.status_code == 302 and response.headers["Location"] == "/portal/"
    assert own.http.get(live_server.url("/portal/"), timeout=60).status_code == 200


# sessions


def test_a_copied_session_cookie_is_worthless_after_sign_out_or_a_password_change(app, client, alice, session):
    portal = Portal(client)
    portal.sign_in()
    copied = client.get_cookie("hotdesk_portal", path="/portal").value
    thief = app.test_client()
    thief.set_cookie("hotdesk_portal", copied, path="/portal")
    assert thief.get("/portal/").status_code == 200
    assert redirected_to(portal.submit("/portal/sign-out"), "/portal/sign-in")
    assert redirected_to(thief.get("/portal/"), "/portal/sign-in")

    portal.sign_in()
    copied = client.get_cookie("hotdesk_portal", path="/portal").value
    thief.set_cookie("hotdesk_portal", copied, path="/portal")
    assert redirected_to(portal.change_password(ALICE_PASSWORD, "alice's second passphrase"), "/portal/")
    assert portal.get("/portal/").status_code == 200  # the browser that changed it stays in
    assert redirected_to(thief.get("/portal/"), "/portal/sign-in")

    copied = client.get_cookie("hotdesk_portal", path="/portal").value
    thief.set_cookie("hotdesk_portal", copied, path="/portal")
    people.set_password(session, session.get(User, alice.id), None, temporary=True)  # an admin resets it
    session.commit()
    assert redirected_to(thief.get("/portal/"), "/portal/sign-in")
    assert redirected_to(portal.get("/portal/"), "/portal/sign-in")


def test_the_console_and_the_portal_keep_their_own_sessions(client, alice, session):
    accounts.add_admin(session, "ann", "correct horse battery", "test")
    session.commit()
    portal = Portal(client)
    portal.sign_in()
    console = html.fromstring(client.get("/admin/sign-in").data)
    token = console.xpath("//input[@name='csrf_token']/@value")[0]
    client.post("/admin/sign-in", data={"name": "ann", "password": "correct horse battery", "csrf_token": token})
    assert client.get("/admin/extensions").status_code == 200
    assert portal.get("/portal/").status_code == 200
    portal.submit("/portal/sign-out")
    assert client.get("/admin/extensions").status_code == 200
    # Neither cookie opens the other face.
    thief = client.application.test_client()
    thief.set_cookie("hotdesk_portal", client.get_cookie("hotdesk_admin").value, path="/portal")
    assert redirected_to(thief.get("/portal/"), "/portal/sign-in")


def test_a_form_without_its_csrf_token_changes_nothing(client, portal, session):
    YealinkPhone(client, DESK).login("1001", "4321")
    for path, data in [
        (f"/portal/phones/{DESK}/logout", {}),
        ("/portal/pin", {"pin": "7193", "confirm": "7193"}),
        ("/portal/password", {"current": ALICE_PASSWORD, "new": "x" * 12, "confirm": "x" * 12}),
        ("/portal/sign-out", {}),
    ]:
        answer = portal.post(path, data)
        assert answer.status_code == 400 and "Form expired" in text(answer), path
        answer = portal.post(path, data | {"csrf_token": "forged"})
        assert answer.status_code == 400, path
    assert seated(session) == [("1001", DESK)]
    assert session.scalar(select(Extension.voicemail_pin).where(Extension.number == "1001")) == "4321"
    assert portal.get("/portal/").status_code == 200


# where am I logged in


def test_a_person_sees_their_desk_phone_and_logs_out_there(client, portal, session, notifier):
    phone = YealinkPhone(client, DESK, ip="10.20.0.41")
    assert phone.login("1001", "4321").findtext("Title") == "Logged in"
    page = portal.page()
    [card] = page.xpath("//article[@data-mac]")
    assert card.get("data-mac") == DESK
    shown = " ".join(card.text_content().split())
    assert "Yealink T46S" in shown and DESK in shown and "10.20.0.41" in shown and "the external server" in shown

    notifier.sent.clear()
    answer = portal.post(f"/portal/phones/{DESK}/logout", token_from=page)
    assert redirected_to(answer, "/portal/")
    assert f"Logged out of the Yealink T46S ({DESK})" in text(portal.get("/portal/"))
    assert seated(session) == []
    assert [(sent.mac, sent.host) for sent in notifier.sent] == [(DESK, "10.20.0.41")]
    assert phone.boot()["account.1.enable"] == "0"
    [logout] = events(session, EventKind.LOGOUT)
    assert (logout.extension, logout.mac, logout.actor, logout.ip, logout.tenant_id) == ("1001", DESK, "alice", HOME, 1)
    assert "You are not logged in on any desk phone" in text(portal.get("/portal/"))


def test_another_persons_phone_is_never_shown_nor_logged_out(client, portal, session, notifier):
    acme = tenancy.add(session, settings_registry(), "acme", "acme.example.com", "test")
    session.add(
        Extension(tenant_id=acme.tenant.id, number="1001", name="Ann Acme", secret="acme-SIP-1x", voicemail_pin="5555")
    )
    session.commit()
    YealinkPhone(client, BOBS_DESK).login("1002", "55667788")  # Bob (the global user password)
    YealinkPhone(client, ACME_DESK, credentials=(acme.provisioning_username, acme.provisioning_password)).login(
        "1001", "5555"
    )  # acme's 1001: the same number, another tenant
    assert seated(session) == [("1001", ACME_DESK), ("1002", BOBS_DESK)]
    page = portal.page()
    assert page.xpath("//article[@data-mac]") == []
    shown = text(portal.get("/portal/"))
    assert BOBS_DESK not in shown and ACME_DESK not in shown
    notifier.sent.clear()
    for mac in (BOBS_DESK, ACME_DESK, "001565AABB02", "00:15:65:aa:bb:02", "nonsense", "%00", "9" * 500):
        answer = portal.post(f"/portal/phones/{quote(mac, safe='')}/logout", token_from=page)
        assert answer.status_code in (302, 400, 404), mac
        if answer.status_code == 302:
            assert "not logged in on that phone" in text(portal.get("/portal/")), mac
    assert seated(session) == [("1001", ACME_DESK), ("1002", BOBS_DESK)]
    assert notifier.sent == []
    assert events(session, EventKind.LOGOUT) == []


# PIN


def test_a_person_changes_their_pin_under_the_policy(client, portal, session):
    for pin, confirm, why in [
        ("12ab", None, "PIN refused: not digits only."),
        ("719", None, "PIN refused: shorter than 4 digits."),
        ("7" * 13, None, "PIN refused: longer than 12 digits."),
        ("1234", None, "PIN refused: a sequence."),
        ("1001", None, "PIN refused: the extension number."),
        ("7193", "7194", "The two PINs differ"),
        ("", None, "PIN refused: not digits only."),
    ]:
        answer = portal.post("/portal/pin", {"pin": pin, "confirm": confirm or pin}, token_from=portal.page())
        assert redirected_to(answer, "/portal/")
        assert why in text(portal.get("/portal/")), pin
    assert session.scalar(select(Extension.voicemail_pin).where(Extension.number == "1001")) == "4321"
    assert events(session, EventKind.PIN_CHANGED) == []

    settings_registry().set(session, "pin_length", "6")  # the policy of the person's tenant
    session.commit()
    assert "Digits only, 6 digits" in text(portal.get("/portal/"))
    answer = portal.post("/portal/pin", {"pin": "7193", "confirm": "7193"}, token_from=portal.page())
    assert "PIN refused: not 6 digits." in text(portal.get("/portal/"))
    answer = portal.post("/portal/pin", {"pin": "719305", "confirm": "719305"}, token_from=portal.page())
    assert redirected_to(answer, "/portal/") and "PIN changed" in text(portal.get("/portal/"))
    phone = YealinkPhone(client, DESK)
    assert phone.login("1001", "4321").findtext("Title") != "Logged in"
    assert phone.login("1001", "719305").findtext("Title") == "Logged in"
    [changed] = events(session, EventKind.PIN_CHANGED)
    assert (changed.tenant_id, changed.extension, changed.actor) == (1, "1001", "alice")
    no_secret_in_history(session, "719305")


# my history


def test_my_recent_logins_show_my_own_only(client, portal, session):
    acme = tenancy.add(session, settings_registry(), "acme", "acme.example.com", "test")
    session.add(
        Extension(tenant_id=acme.tenant.id, number="1001", name="Ann Acme", secret="acme-SIP-1x", voicemail_pin="5555")
    )
    session.commit()
    desk = YealinkPhone(client, DESK, ip="10.20.0.41")
    desk.login("1001", "0000")  # a wrong PIN on a phone
    desk.login("1001", "4321")
    YealinkPhone(client, BOBS_DESK).login("1002", "55667788")
    acme_phone = YealinkPhone(client, ACME_DESK, credentials=(acme.provisioning_username, acme.provisioning_password))
    acme_phone.login("1001", "5555")
    Portal(client.application.test_client(), ip="203.0.113.9").sign_in(password="a guess of someone")
    items = [" ".join(li.text_content().split()) for li in portal.page().xpath("//ul[@id='recent']/li")]
    assert any("Logged in on the Yealink T46S (001565aabb01)" in item for item in items)
    assert any("Failed login on the Yealink T46S (001565aabb01) (wrong PIN)" in item for item in items)
    assert any("Failed sign-in here from 203.0.113.9" in item for item in items)
    assert any(f"Signed in here from {HOME}" in item for item in items)
    shown = " ".join(items)
    assert BOBS_DESK not in shown and ACME_DESK not in shown
    failed = portal.page().xpath("//ul[@id='recent']/li[@class='failed']")
    assert len(failed) == 2


def test_a_number_handed_on_does_not_bring_its_former_holders_history(client, session, extensions):
    YealinkPhone(client, DESK).login("1001", "4321")  # before Alice had her account
    extension = session.scalar(select(Extension).where(Extension.number == "1001"))
    people.set_password(session, people.create(session, extension, "alice").user, ALICE_PASSWORD, temporary=False)
    session.commit()
    portal = Portal(client)
    portal.sign_in()
    assert DESK in text(portal.get("/portal/"))  # she is logged in there now: that is hers
    items = [" ".join(li.text_content().split()) for li in portal.page().xpath("//ul[@id='recent']/li")]
    assert not any("Logged in on" in item for item in items)


HOSTILE = ["%ff%fe%ED%A0%80", "", "9" * 5000, "é", "../../etc", "1001\r\n", "\x7f", "\u202e", "%00"]


def test_every_portal_form_answers_hostile_values_without_a_500(client, portal):
    page = portal.page()
    failures = []
    for value in HOSTILE:
        quoted = value if value.startswith("%") else quote(value, safe="")
        for path, data in [
            (f"/portal/phones/{quoted}/logout", {}),
            ("/portal/pin", {"pin": value, "confirm": value}),
            ("/portal/password", {"current": value, "new": value, "confirm": value}),
        ]:
            failures += [(path, value)] if portal.post(path, data, token_from=page).status_code >= 500 else []
        fresh = Portal(client.application.test_client())
        if fresh.sign_in(value, value).status_code >= 500:
            failures.append(("sign-in", value))
    assert failures == []
    assert portal.get("/portal/").status_code == 200


@pytest.mark.parametrize("faces, served", [("admin", True), ("phones", False)])
def test_the_portal_rides_the_consoles_listener(database_url, engine, notifier, tmp_path, faces, served):
    from hotdesk import create_app
    from hotdesk.config import Config

    app = create_app(
        Config(database_url=database_url, secret_key="k", trusted_proxies=0, instance_path=tmp_path),
        notifier=notifier,
        faces=faces,
    )
    assert app.test_client().get("/portal/sign-in").status_code == (200 if served else 404)
    app.extensions["hotdesk"].engine.dispose()


def test_admins_see_a_locked_portal_sign_in_and_lift_it(app, client, alice, session):
    from tests.test_console import Console, rows

    stranger = Portal(app.test_client(), ip="203.0.113.9")
    for _ in range(5):
        stranger.sign_in(password="guess guess guess")
    accounts.add_admin(session, "ann", "correct horse battery", "test")
    session.commit()
    console = Console(client)
    console.sign_in("ann", "correct horse battery")
    [locked] = rows(console.get("/admin/devices"), "lockouts")
    assert locked[:2] == ["extension 1001", "portal sign-in, from browsers it has not signed in from (and app sign-in)"]
    assert locked[3] == "5"
    assert console.submit("/admin/lockouts/unlock", {"extension": "1001"}).status_code == 302
    assert rows(console.get("/admin/devices"), "lockouts") == [["Nobody is locked out."]]
    assert redirected_to(stranger.sign_in(), "/portal/")


def test_a_password_hashed_with_older_parameters_is_hashed_again_at_the_next_sign_in(client, session, alice):
    """An account checks as fast as an unknown LOGIN once its owner has signed in (hotdesk.people):
    a hash made with older argon2 parameters still opens it, and is made again with today's."""
    from argon2 import PasswordHasher

    older = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
    alice.password_hash = older.hash(ALICE_PASSWORD)
    session.commit()
    assert redirected_to(Portal(client).sign_in(), "/portal/")
    session.expire_all()
    assert alice.password_hash.startswith("$argon2id$v=19$m=7168,t=5,p=1$")
    assert redirected_to(Portal(client).sign_in(), "/portal/")
    assert not redirected_to(Portal(client).sign_in(password="not-" + ALICE_PASSWORD), "/portal/")
