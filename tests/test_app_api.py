"""A person signs their softphone app in by hand (seeds 000/001): SIP domain and server, then
username and account password. The app gets its account (with the SIP secret) only for the right
account password, after the generated one has been changed; the SIP secret and the PIN are wrong
passwords; guessing locks as the portal does; another tenant's person of the same username is
someone else; the configuration URL the app is given works and can be revoked."""

import re
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from sqlalchemy import select

from hotdesk import lockout
from hotdesk.models import Event, EventKind
from hotdesk.web import app_openapi
from tests.test_api_schema import CHECKS
from tests.test_portal import Portal

SECRET = "Str0ng-Secret-1001"
ACME_SECRET = "Acme-Secret-10011"
PIN = "4826"
BASE = "https://hotdesk.example.com"
CHOSEN = "My-own-long-passphrase-7"
SCHEMA_CHECKS = [check for check in CHECKS if check.__name__ != "ignored_auth"]  # no auth: nothing to ignore
APP = {"User-Agent": "Linphone-Android/5.2.5 (Pixel 7) LinphoneSDK/5.2.5"}
HOME = "198.51.100.7"


def generated_password(output: str) -> str:
    return re.search(r"^user password: (\S+)$", output, re.MULTILINE).group(1)


@pytest.fixture
def alice(run):
    """Alice of the installation without tenants (its SIP domain is its external address's host)."""
    run("settings", "set", "external_address", "pbx.example.com")
    run("settings", "set", "phone_base_url", BASE)
    out = run("extensions", "add", "1001", "--name", "Alice Martin", "--secret", SECRET, "--pin", PIN)
    return generated_password(out)  # shown once: the person must change it at the first sign-in


@pytest.fixture
def acme(run, alice):
    """Tenant acme has an alice.martin of its own: extension 1001 too, another person."""
    run("tenants", "add", "acme", "--sip-domain", "acme.example.com")
    run("settings", "set", "external_address", "sip.acme.example.com", "--tenant", "acme")
    out = run(
        "extensions",
        "add",
        "1001",
        "--name",
        "Alice Acme",
        "--secret",
        ACME_SECRET,
        "--username",
        "alice.martin",
        "--tenant",
        "acme",
    )
    return generated_password(out)


class App:
    """A softphone app talking to /app/v1/ as JSON, from one address."""

    def __init__(self, client, ip=HOME):
        self.client, self.ip = client, ip

    def post(self, path, body=None, **kwargs):
        kwargs.setdefault("json", body)
        return self.client.post(f"/app/v1/{path}", headers=APP, environ_base={"REMOTE_ADDR": self.ip}, **kwargs)

    def sign_in(self, password, username="alice.martin", domain="pbx.example.com"):
        return self.post("sign-in", {"sip_domain": domain, "username": username, "password": password})

    def change(self, password, new, username="alice.martin", domain="pbx.example.com"):
        body = {"sip_domain": domain, "username": username, "password": password, "new_password": new}
        return self.post("change-password", body)


def events(session, kind):
    session.expire_all()
    return list(session.scalars(select(Event).where(Event.kind == kind.value).order_by(Event.id)))


def test_first_sign_in_changes_the_generated_password_then_the_app_gets_its_account(app, alice, session, run):
    phone = App(app.test_client())
    found = phone.post("discover", {"sip_domain": "pbx.example.com", "server": "203.0.113.50"})
    assert found.status_code == 200
    assert found.get_json() == {"tenant": "default", "methods": [{"type": "password"}]}

    refused = phone.sign_in(alice)
    assert refused.status_code == 403 and refused.get_json() == {"error": "password_change_required"}
    assert SECRET not in refused.get_data(as_text=True)

    changed = phone.change(alice, CHOSEN)
    assert changed.status_code == 200
    account = changed.get_json()["account"]
    assert {k: account[k] for k in ("sip_domain", "username", "auth_name", "password", "server", "port")} == {
        "sip_domain": "pbx.example.com",
        "username": "1001",
        "auth_name": "1001",
        "password": SECRET,
        "server": "pbx.example.com",
        "port": 5060,
    }
    assert account["display_name"] == "Alice Martin" and account["transport"] == "udp"
    assert account["outbound_proxy"] == "" and account["login"] == "alice.martin"
    assert changed.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in changed.headers and "Set-Cookie" not in changed.headers

    # The generated password is gone; the chosen one signs in (with the LOGIN's case as typed).
    assert phone.sign_in(alice).status_code == 401
    again = phone.sign_in(CHOSEN, username="Alice.Martin")
    assert again.status_code == 200 and again.get_json()["account"]["password"] == SECRET
    assert again.get_json()["account"]["provisioning_url"] != account["provisioning_url"]  # each app its own

    # Every outcome is in the history, with the tenant, never a password.
    signins = events(session, EventKind.APP_SIGNIN)
    failures = events(session, EventKind.APP_SIGNIN_FAILED)
    assert [(e.extension, e.tenant_id, e.ip) for e in signins] == [("1001", 1, HOME)] * 2
    assert [e.detail for e in failures] == ["password change required", None]
    assert [e.actor for e in events(session, EventKind.PASSWORD_CHANGED)] == ["alice.martin"]
    for event in session.scalars(select(Event)):
        assert not {alice, CHOSEN, SECRET} & {event.detail, event.actor}
        assert all(word not in (event.detail or "") for word in (alice, CHOSEN, SECRET))
    assert len(run("users", "apps", "alice.martin").strip().splitlines()) == 2  # two apps, each revocable


def test_the_sip_secret_and_the_pin_are_wrong_passwords(app, alice, session, run):
    phone = App(app.test_client())
    for wrong in (SECRET, PIN, "1001"):
        answer = phone.sign_in(wrong)
        assert answer.status_code == 401 and answer.get_json() == {"error": "wrong username or password"}
        assert SECRET not in answer.get_data(as_text=True)
    assert phone.change(SECRET, CHOSEN).status_code == 401
    assert phone.sign_in(alice).status_code == 403  # only now the right one: its answer still holds no secret

    # Even a SIP secret set later to what the person chose opens nothing.
    assert phone.change(alice, CHOSEN).status_code == 200
    run("extensions", "set", "1001", "--secret", CHOSEN)
    assert phone.sign_in(CHOSEN).status_code == 401


def test_a_weak_new_password_is_refused_and_changes_nothing(app, alice, session):
    phone = App(app.test_client())
    for weak, why in (
        ("short1", "at least 10"),
        (SECRET, "SIP secret"),
        (alice, "differ from the current"),
        ("Alice.Martin", "username"),
    ):
        answer = phone.change(alice, weak)
        assert answer.status_code == 422 and why in answer.get_json()["error"], answer.get_json()
        assert SECRET not in answer.get_data(as_text=True)
    assert phone.sign_in(alice).status_code == 403  # still the generated one, still to change
    assert phone.change("not the password", CHOSEN).status_code == 401
    assert phone.change(alice, CHOSEN).status_code == 200


def test_guesses_lock_sign_in_with_retry_after_and_the_lock_lifts(app, alice, session, run):
    owner = App(app.test_client())
    assert owner.change(alice, CHOSEN).status_code == 200
    guesser = App(app.test_client(), ip="203.0.113.9")
    for _ in range(5):
        assert guesser.sign_in("Winter2026!").status_code == 401
    locked = guesser.sign_in(CHOSEN)  # even the right password
    assert locked.status_code == 429 and "15 minute(s)" in locked.get_json()["error"]
    assert int(locked.headers["Retry-After"]) > 14 * 60
    assert SECRET not in locked.get_data(as_text=True)
    assert owner.sign_in(CHOSEN).status_code == 429  # the account's lock: from any app
    assert owner.change(CHOSEN, "another long passphrase").status_code == 429
    assert [e.detail for e in events(session, EventKind.APP_SIGNIN_FAILED)][-3:] == ["locked out"] * 3
    assert "extension\t1001" in run("lockouts")  # admins see it with the other lockouts

    # The portal's count is the same account's: the app's failures lock it too, and the other way.
    assert Portal(app.test_client(), ip="203.0.113.10").sign_in("alice.martin", CHOSEN).status_code == 429

    for event in session.scalars(select(Event)):
        event.at -= timedelta(minutes=16)
    session.commit()
    assert owner.sign_in(CHOSEN).status_code == 200  # lifted

    for _ in range(5):
        guesser.sign_in("Winter2026!")
    assert owner.sign_in(CHOSEN).status_code == 429
    lockout.unlock(session, actor="ann", number="1001")  # an admin's unlock lifts it, as a PIN lock
    session.commit()
    assert owner.sign_in(CHOSEN).status_code == 200


def test_one_address_trying_many_usernames_is_locked(app, alice):
    sprayer = App(app.test_client(), ip="203.0.113.9")
    owner = App(app.test_client())
    assert owner.change(alice, CHOSEN).status_code == 200
    for n in range(20):
        assert sprayer.sign_in("Winter2026!", username=f"user{n}").status_code == 401
    assert sprayer.sign_in(CHOSEN).status_code == 429
    assert owner.sign_in(CHOSEN).status_code == 200  # another address


def test_another_tenants_person_of_the_same_username_is_someone_else(app, alice, acme, session):
    phone = App(app.test_client())
    assert phone.change(alice, CHOSEN).status_code == 200
    found = phone.post("discover", {"sip_domain": "ACME.example.com", "server": "sip.acme.example.com"})
    assert found.get_json() == {"tenant": "acme", "methods": [{"type": "password"}]}

    # Alice's password opens nothing at acme; acme's generated one nothing in the default tenant.
    assert phone.sign_in(CHOSEN, domain="acme.example.com").status_code == 401
    assert phone.sign_in(acme).status_code == 401
    assert phone.sign_in(acme, domain="acme.example.com").status_code == 403
    # The full LOGIN is accepted for its own domain, and names no one with another domain.
    assert phone.sign_in(acme, username="alice.martin@acme.example.com", domain="acme.example.com").status_code == 403
    assert phone.sign_in(acme, username="alice.martin@acme.example.com").status_code == 401
    assert phone.sign_in(CHOSEN, username="alice.martin@pbx.example.com").status_code == 200

    changed = phone.change(acme, "acme's own passphrase", domain="acme.example.com")
    account = changed.get_json()["account"]
    assert account["password"] == ACME_SECRET and account["sip_domain"] == "acme.example.com"
    assert account["server"] == "sip.acme.example.com" and account["login"] == "alice.martin@acme.example.com"
    acme_failures = [e for e in events(session, EventKind.APP_SIGNIN_FAILED) if e.tenant_id != 1]
    assert acme_failures and all(e.detail in (None, "password change required") for e in acme_failures)


def test_unknown_domains_and_the_server_field(app, alice):
    phone = App(app.test_client())
    unknown = phone.post("discover", {"sip_domain": "nowhere.example.org", "server": "pbx.example.com"})
    assert unknown.status_code == 404 and "error" in unknown.get_json()
    # The server is where the app sent its request: the public address, the private one or the web
    # domain all reach the same installation.
    for server in ("66.175.221.120", "192.168.1.72", "hotdesk.example.com"):
        assert phone.post("discover", {"sip_domain": "pbx.example.com", "server": server}).status_code == 200
    assert phone.sign_in(CHOSEN, domain="nowhere.example.org").status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b'{"sip_domain": "pbx.example.com"}',
        b'{"sip_domain": "pbx.example.com", "username": 7, "password": "x"}',
        b'{"sip_domain": null, "username": "alice.martin", "password": "x"}',
        b'{"sip_domain": "pbx.example.com", "username": "a\\u0000b", "password": "x"}',
        b'{"sip_domain": "pbx.example.com", "username": "\\ud800", "password": "x"}',
        b"[" * 100_000,
        b'{"sip_domain": "pbx.example.com", "username": "alice.martin", "password": "' + b"x" * 100_000 + b'"}',
    ],
)
def test_bad_bodies_are_400_json_and_change_nothing(app, alice, session, body):
    phone = App(app.test_client())
    for path in ("sign-in", "change-password", "discover"):
        answer = phone.post(path, json=None, data=body, content_type="application/json")
        assert answer.status_code == 400 and answer.is_json and answer.get_json()["error"], (path, answer.data[:200])
    assert events(session, EventKind.APP_SIGNIN_FAILED) == []


def test_wrong_methods_and_paths_answer_json(app):
    client = app.test_client()
    wrong = client.get("/app/v1/sign-in")
    assert wrong.status_code == 405 and wrong.is_json and "POST" in wrong.headers["Allow"]
    missing = client.post("/app/v1/nothing", json={})
    assert missing.status_code == 404 and missing.is_json


def test_the_provisioning_url_works_and_is_revocable(app, alice, run):
    phone = App(app.test_client())
    account = phone.change(alice, CHOSEN).get_json()["account"]
    url = account["provisioning_url"]
    assert url.startswith(f"{BASE}/app/config/")
    path = url.removeprefix(BASE)
    config = app.test_client().get(path, headers={"Accept": "application/json"})
    assert config.status_code == 200 and config.get_json()["account"]["password"] == SECRET
    xml = app.test_client().get(path, headers={"User-Agent": APP["User-Agent"], "Accept": "*/*"})
    assert xml.status_code == 200 and b"<config" in xml.data and SECRET.encode() in xml.data

    [line] = run("users", "apps", "alice.martin").strip().splitlines()
    app_id = line.split()[0]
    assert "Linphone-Android/5.2.5" in line
    run("users", "revoke-app", "alice.martin", app_id)
    assert app.test_client().get(path, headers={"Accept": "application/json"}).status_code == 410
    stopped = app.test_client().get(path, headers={"Accept": "*/*"})
    assert SECRET.encode() not in stopped.data


def test_the_app_api_is_limited_per_address_whatever_the_user_agent_says(app, alice, session, run):
    run("settings", "set", "anonymous_requests_per_minute", "3")
    client = app.test_client()
    # A User-Agent naming a phone's MAC exempts a provisioning request from the address's limit; not these.
    headers = {"User-Agent": "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc"}
    body = {"sip_domain": "pbx.example.com", "server": "pbx.example.com"}
    answers = [
        client.post("/app/v1/discover", json=body, headers=headers, environ_base={"REMOTE_ADDR": HOME})
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].is_json and int(answers[-1].headers["Retry-After"]) > 0


OPERATIONS = [(path, method) for path, item in app_openapi.document()["paths"].items() for method in item]


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
@pytest.mark.parametrize("path, method", OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_the_api_matches_its_openapi_document(app, alice, path, method, mode):
    """schemathesis, as tests/test_api_schema.py: valid and invalid bodies, never a 5xx, every answer
    as the document says, and never the SIP secret for a guessed password."""
    operation = schemathesis.openapi.from_wsgi("/app/v1/openapi.json", app)[path][method.upper()]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        response = case.call_and_validate(checks=SCHEMA_CHECKS)
        assert SECRET.encode() not in response.content

    check()
