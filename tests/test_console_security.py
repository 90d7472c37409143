"""The console against a hostile browser: where sign-in sends it, what a copied cookie is worth
after sign-out, and how far password guessing gets (also while the real admin signs in)."""

import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlencode

import pytest
import requests
from lxml import html

from hotdesk.admin import accounts
from hotdesk.web.admin import BROWSER_COOKIE
from tests.test_api_security import assert_formula_safe, tricky_extensions
from tests.test_console import PASSWORD, Console, text


@pytest.fixture(autouse=True)
def _push_request_context():
    """As in test_console: each request its own `g`."""


@pytest.fixture
def admin(session):
    made = accounts.add_admin(session, "ann", PASSWORD, "test")
    session.commit()  # the caller commits: admin functions only flush
    return made


@pytest.mark.parametrize(
    "next_url",
    [
        "https:/admin.evil.test/",  # a browser reads "https:///admin.evil.test/" as that host
        "//admin.evil.test/admin/",
        "/\\admin.evil.test/admin/",
        "https://admin.evil.test/admin/",
        "http://localhost/admin/",  # absolute, even naming this host: only paths
        "javascript:alert(1)//admin/",
        "/admin/\r\nSet-Cookie: hotdesk_admin=stolen",
        "/admin/\x00",
        "/\t/admin.evil.test/admin/",
        "/admin.evil.test/",
    ],
)
def test_sign_in_sends_the_browser_only_to_a_console_path(client, admin, next_url):
    console = Console(client)
    page = console.get("/admin/sign-in?" + urlencode({"next": next_url}))
    assert page.status_code in (200, 400)
    token = Console(client).page("/admin/sign-in")
    response = console.post("/admin/sign-in", {"name": "ann", "password": PASSWORD, "next": next_url}, token_from=token)
    assert response.status_code in (302, 400), response.data[:300]
    if response.status_code == 302:
        assert response.headers["Location"] == "/admin/"


def forged(cookie: str) -> str:
    """The cookie with its last two characters changed (never to themselves)."""
    return cookie[:-2] + "".join("y" if ch == "x" else "x" for ch in cookie[-2:])


def test_sign_in_goes_on_to_the_page_asked_for(client, admin):
    console = Console(client)
    response = console.post(
        "/admin/sign-in",
        {"name": "ann", "password": PASSWORD, "next": "/admin/extensions?q=10"},
        token_from=console.page("/admin/sign-in"),
    )
    assert response.headers["Location"] == "/admin/extensions?q=10"


@pytest.mark.parametrize("referer", ["https:/evil.test/admin/", "http://evil.test/admin/", "//evil.test/admin/"])
def test_a_refused_action_returns_only_to_this_console(client, admin, referer):
    console = Console(client)
    console.sign_in()
    refused = console.submit(
        "/admin/pins", {"extension": "9999", "template": "yealink/default"}, headers={"Referer": referer}
    )
    assert refused.status_code == 302 and refused.headers["Location"] == "/admin/"
    assert "no extension 9999" in text(console.get("/admin/"))


@pytest.mark.parametrize("query", ["until=9999-12-31", "since=0001-01-01T00:00:00%2B01:00", "since=soon"])
def test_history_with_an_impossible_date_is_a_400_naming_it(client, admin, query):
    console = Console(client)
    console.sign_in()
    page = console.get(f"/admin/history?{query}")
    field = query.partition("=")[0]
    assert page.status_code == 400 and f"{field}: '" in text(page)
    export = console.get(f"/admin/history/export.csv?{query}")
    assert export.status_code == 400 and f"{field}: '" in text(export)


def test_a_copied_session_cookie_is_worthless_after_sign_out(app, client, admin):
    console = Console(client)
    console.sign_in()
    copied = client.get_cookie("hotdesk_admin").value
    assert console.submit("/admin/sign-out").status_code == 302
    thief = app.test_client()
    thief.set_cookie("hotdesk_admin", copied)
    response = thief.get("/admin/extensions")
    assert response.status_code == 302 and "/admin/sign-in" in response.headers["Location"]
    console.sign_in()  # the admin signs in again: the old copy stays worthless
    assert thief.get("/admin/extensions").status_code == 302
    assert console.get("/admin/extensions").status_code == 200


def test_a_password_change_from_the_command_line_ends_sessions_too(client, admin, session):
    console = Console(client)
    console.sign_in()
    accounts.set_password(session, "ann", PASSWORD, "cli")  # the same password again: sessions end all the same
    session.commit()
    assert console.get("/admin/").status_code == 302


class Browser:
    """A browser on a live server: its own cookies, the sign-in form's CSRF token."""

    def __init__(self, server, cookies=None):
        self.server = server
        self.http = requests.Session()
        self.http.cookies.update(cookies or {})
        page = html.fromstring(self.http.get(server.url("/admin/sign-in"), timeout=60).content)
        self.token = page.xpath("//input[@name='csrf_token']/@value")[0]

    def sign_in(self, password, name="ann"):
        return self.http.post(
            self.server.url("/admin/sign-in"),
            data={"name": name, "password": password, "csrf_token": self.token},
            allow_redirects=False,
            timeout=120,
        )


def test_racing_guesses_get_exactly_the_limit_and_the_admin_still_signs_in(live_server, admin):
    first = Browser(live_server)
    assert first.sign_in(PASSWORD).status_code == 302
    known = {BROWSER_COOKIE: first.http.cookies[BROWSER_COOKIE]}  # the admin's own browser, from now on

    attackers = [Browser(live_server) for _ in range(30)]
    own = Browser(live_server, cookies=known)
    start = threading.Barrier(len(attackers) + 1)

    def attack(browser):
        start.wait()
        return browser.sign_in("guess-" + secrets.token_hex(4)).status_code

    def real_admin():
        start.wait()
        time.sleep(0.2)  # in the middle of the storm
        return own.sign_in(PASSWORD)

    with ThreadPoolExecutor(len(attackers) + 1) as pool:
        signed_in = pool.submit(real_admin)
        guesses = list(pool.map(attack, attackers))
        response = signed_in.result()
    assert Counter(guesses) == {401: accounts.FAILURES_PER_NAME, 429: 30 - accounts.FAILURES_PER_NAME}
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    assert own.http.get(live_server.url("/admin/extensions"), timeout=60).status_code == 200

    # Anyone else, even with the right password, waits out the window; the admin's browser does not.
    assert Browser(live_server).sign_in(PASSWORD).status_code == 429
    assert Browser(live_server, cookies=known).sign_in(PASSWORD).status_code == 302
    # A known-browser cookie for another name, or forged, is no exemption.
    assert (
        Browser(live_server, cookies={BROWSER_COOKIE: forged(known[BROWSER_COOKIE])}).sign_in(PASSWORD).status_code
        == 429
    )


def test_a_known_browser_is_throttled_on_its_own(client, admin):
    console = Console(client)
    console.sign_in()
    for _ in range(accounts.FAILURES_PER_NAME):
        assert console.sign_in(password="not the password").status_code == 401
    assert console.sign_in().status_code == 429  # a stolen cookie buys no more guesses than a stranger has


def test_the_console_exports_run_no_formula(client, admin, session):
    tricky_extensions(session)
    console = Console(client)
    console.sign_in(name='=HYPERLINK("http://evil.test","x")', password="guess")  # into the history as typed
    console.sign_in()
    assert_formula_safe(console.get("/admin/extensions/export.csv").get_data(as_text=True))
    assert_formula_safe(console.get("/admin/history/export.csv").get_data(as_text=True))


HOSTILE = ["%ff%fe%ED%A0%80", "", "9" * 5000, "é", "../../etc", "1001\r\n", "\x7f", "\u202e"]
GETS = [
    "/admin/extensions?q=",
    "/admin/extensions?after=",
    "/admin/devices?q=",
    "/admin/devices?after=",
    "/admin/mappings?q=",
    "/admin/mappings/live?marker=",
    "/admin/history?before=",
    "/admin/history?extension=",
    "/admin/history?mac=",
    "/admin/history?kind=",
    "/admin/history?since=",
    "/admin/history/export.csv?until=",
    "/admin/templates/new?brand=",
    "/admin/sign-in?next=",
    "/admin/extensions/",
    "/admin/templates/yealink/",
]
POSTS = [
    "/admin/extensions/{}/delete",
    "/admin/templates/yealink/{}/default",
    "/admin/templates/yealink/{}/delete",
    "/admin/mappings/{}/logout",
    "/admin/devices/{}/reset-credentials",
    "/admin/pins/{}/yealink/delete",
    "/admin/pins/1001/{}/delete",
]


def test_every_console_page_and_form_answers_hostile_values_without_a_500(client, admin, extensions):
    console = Console(client)
    console.sign_in()
    form = console.page("/admin/")
    failures = []
    for value in HOSTILE:
        quoted = value if value.startswith("%") else quote(value, safe="")
        for path in GETS:
            failures += [path + quoted] if console.get(path + quoted).status_code >= 500 else []
        for path in POSTS:
            failures += (
                [path.format(quoted)] if console.post(path.format(quoted), token_from=form).status_code >= 500 else []
            )
        fields = dict.fromkeys(("number", "name", "secret", "voicemail_pin", "email", "auth_name", "template"), value)
        for path, data in [
            ("/admin/extensions/new", fields),
            ("/admin/extensions/1001", fields),
            ("/admin/pins", {"extension": value, "template": value}),
            ("/admin/templates/new?brand=yealink", {"name": value, "body": value}),
            ("/admin/templates/yealink/default", {"body": value}),
            (
                "/admin/settings",
                dict.fromkeys(("external_address", "phone_sip_port", "timezone", "daily_logout_time"), value),
            ),
            ("/admin/extensions/import", {"csv": f"extension,name,secret\n{value},{value},{value}"}),
            ("/admin/mappings/001565aabb01/logout", {"next": value}),
        ]:
            failures += [(path, value)] if console.post(path, data, token_from=form).status_code >= 500 else []
    assert failures == []
