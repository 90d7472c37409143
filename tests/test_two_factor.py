"""Issue 14, item 1: sign-in with an e-mailed access code after the password (two_factor = email;
a console admin's own --two-factor), as a person tries it: the password, then the code from a real
mailbox (aiosmtpd), signed in. Resend kills the first code; five wrong codes lock the account
(the right password too, until the lock ends or an admin unlocks); another person's code or an
expired one gets nothing; with two_factor off nothing changes; no e-mail address, no sign-in.
Every code sent and every outcome is in the tenant's history, never the code or the challenge."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from hotdesk import access_codes, lockout
from hotdesk.models import AccessCode, Event, EventKind
from tests.test_access_codes import code_in
from tests.test_app_api import App
from tests.test_console import Console
from tests.test_mail import add_alice, inbox, sender, smtp  # noqa: F401 (fixtures)
from tests.test_portal import Portal, _each_request_its_own_context, redirected_to, text  # noqa: F401 (fixture)

CHOSEN = "Alice's-own-passphrase-1"
BOBS = "Bob's-own-passphrase-22"
ADMIN_PASSWORD = "correct horse battery"
APP_HOST = "pbx.example.com"  # the smtp fixture's external_address: the default tenant's SIP domain


@pytest.fixture(autouse=True)
def _push_request_context():
    """As in tests/test_console.py: each request its own `g` (and CSRF token), as a real server gives."""


@pytest.fixture
def alice(run, smtp, sender):
    """Alice (alice@example.org) with a password of her own, two_factor = email; her account mail read."""
    add_alice(run)
    run("users", "set-password", "alice", "--password-stdin", stdin=CHOSEN + "\n")
    run("settings", "set", "two_factor", "email")
    smtp.wait_for(1)
    return "alice"


def add_bob(run):
    run("extensions", "add", "1002", "--name", "Bob", "--secret", "Bob-Secret-1002x", "--email", "bob@example.org",
        "--username", "bob")  # fmt: skip
    run("users", "set-password", "bob", "--password-stdin", stdin=BOBS + "\n")


def next_code(smtp, count: int, to: str = "alice@example.org") -> str:
    """The code of the `count`-th mail the server received (it must be to `to`)."""
    message = smtp.wait_for(count)[count - 1]
    assert message["To"] == to
    return code_in(message)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def history(session, *kinds):
    session.expire_all()
    query = select(Event).order_by(Event.id)
    if kinds:
        query = query.where(Event.kind.in_([kind.value for kind in kinds]))
    return list(session.scalars(query))


def assert_nothing_kept(session, caplog, *secrets):
    """No code and no challenge in the history, the logs, or any row of the access codes."""
    session.expire_all()
    for event in history(session):
        assert all(secret not in repr(vars(event)) for secret in secrets), event.kind
    for row in session.scalars(select(AccessCode)):
        assert all(secret not in repr(vars(row)) for secret in secrets)
    ours = [record.getMessage() for record in caplog.records if record.name != "mail.log"]  # not the SMTP server's
    assert all(secret not in line for line in ours for secret in secrets)


def a_minute_later(session):
    """Past a resend's wait (access_codes.RESEND_AFTER), without waiting for it."""
    session.expire_all()
    for row in session.scalars(select(AccessCode)):
        row.last_sent_at -= timedelta(minutes=1)
    session.commit()


# The app sign-in API


def test_the_app_gets_its_account_for_the_password_then_the_code_from_the_mailbox(
    app, alice, smtp, session, run, caplog
):
    caplog.set_level(logging.DEBUG)
    phone = App(app.test_client())
    answer = phone.sign_in(CHOSEN, username="alice", domain=APP_HOST)
    assert answer.status_code == 202, answer.get_json()
    challenge = answer.get_json()
    assert challenge["second_factor"] == "email" and challenge["sent_to"] == "a…@example.org"
    assert set(challenge) == {"second_factor", "challenge", "sent_to", "expires_at"}
    assert "account" not in challenge and "Str0ng-Secret-1001" not in answer.get_data(as_text=True)
    code = next_code(smtp, 2)

    done = phone.post("sign-in/code", {"challenge": challenge["challenge"], "code": code})
    assert done.status_code == 200, done.get_json()
    account = done.get_json()["account"]
    assert account["password"] == "Str0ng-Secret-1001" and account["username"] == "1001"
    assert account["provisioning_url"].startswith("https://hotdesk.example.com/app/config/")
    [line] = run("users", "apps", "alice").strip().splitlines()
    assert "Linphone-Android/5.2.5" in line  # the label of the sign-in request, kept in the challenge

    # Once: the same code again, or the challenge again, gets nothing.
    again = phone.post("sign-in/code", {"challenge": challenge["challenge"], "code": code})
    assert again.status_code == 401 and "account" not in again.get_json()

    sent, signed_in = history(session, EventKind.ACCESS_CODE_SENT), history(session, EventKind.APP_SIGNIN)
    assert [(e.detail, e.extension, e.tenant_id, e.actor) for e in sent] == [("app", "1001", 1, "alice")]
    assert [(e.extension, e.tenant_id) for e in signed_in] == [("1001", 1)]
    assert_nothing_kept(session, caplog, code, challenge["challenge"])


def test_resend_waits_then_kills_the_first_code(app, alice, smtp, session, caplog):
    phone = App(app.test_client())
    token = phone.sign_in(CHOSEN, username="alice", domain=APP_HOST).get_json()["challenge"]
    first = next_code(smtp, 2)
    soon = phone.post("sign-in/resend", {"challenge": token})
    assert soon.status_code == 429 and int(soon.headers["Retry-After"]) > 0 and soon.get_json()["error"]

    a_minute_later(session)
    resent = phone.post("sign-in/resend", {"challenge": token})
    assert resent.status_code == 202 and resent.get_json()["challenge"] == token
    second = next_code(smtp, 3)
    if first != second:  # one in a million they are the same
        killed = phone.post("sign-in/code", {"challenge": token, "code": first})
        assert killed.status_code == 401 and "account" not in killed.get_json()
    assert phone.post("sign-in/code", {"challenge": token, "code": second}).status_code == 200
    assert [e.detail for e in history(session, EventKind.ACCESS_CODE_RESENT)] == ["app"]
    unknown = phone.post("sign-in/resend", {"challenge": "no-such-challenge"})
    assert unknown.status_code == 401 and unknown.is_json
    assert_nothing_kept(session, caplog, first, second, token)


def test_five_wrong_codes_lock_the_account_for_password_and_code_until_an_admin_unlocks(app, alice, smtp, session, run):
    phone = App(app.test_client())
    token = phone.sign_in(CHOSEN, username="alice", domain=APP_HOST).get_json()["challenge"]
    code = next_code(smtp, 2)
    for left in (4, 3, 2, 1, 0):
        answer = phone.post("sign-in/code", {"challenge": token, "code": wrong(code)})
        assert answer.status_code == 401 and answer.get_json()["attempts_left"] == left
        assert "Wrong access code" in answer.get_json()["error"]
    assert phone.post("sign-in/code", {"challenge": token, "code": code}).status_code in (401, 429)

    # Locked: the right password is refused too, at the app and the portal, from anywhere.
    locked = App(app.test_client(), ip="198.51.100.99").sign_in(CHOSEN, username="alice", domain=APP_HOST)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 60
    assert Portal(app.test_client(), ip="198.51.100.98").sign_in("alice", CHOSEN).status_code == 429
    assert "extension\t1001" in run("lockouts")
    assert len(smtp.messages) == 2  # no code was sent for a locked account
    failures = history(session, EventKind.APP_SIGNIN_FAILED)
    assert [e.detail for e in failures[:5]] == [None] * 5 and all(e.tenant_id == 1 for e in failures)

    lockout.unlock(session, actor="ann", number="1001")
    session.commit()
    assert phone.sign_in(CHOSEN, username="alice", domain=APP_HOST).status_code == 202


def test_a_code_of_another_persons_sign_in_or_an_expired_one_gets_nothing(app, alice, smtp, session, run):
    add_bob(run)
    alices_app, bobs_app = App(app.test_client()), App(app.test_client(), ip="203.0.113.20")
    alices = alices_app.sign_in(CHOSEN, username="alice", domain=APP_HOST).get_json()["challenge"]
    alices_code = next_code(smtp, 3)  # after bob's account mail
    bobs = bobs_app.sign_in(BOBS, username="bob", domain=APP_HOST).get_json()["challenge"]
    bobs_code = next_code(smtp, 4, "bob@example.org")

    if alices_code != bobs_code:
        crossed = bobs_app.post("sign-in/code", {"challenge": bobs, "code": alices_code})
        assert crossed.status_code == 401 and "account" not in crossed.get_json()
    for row in session.scalars(select(AccessCode)):
        row.expires_at = row.created_at - timedelta(seconds=1)
    session.commit()
    for token, code in ((alices, alices_code), (bobs, bobs_code)):
        expired = alices_app.post("sign-in/code", {"challenge": token, "code": code})
        assert expired.status_code == 401 and "expired" in expired.get_json()["error"]
    assert history(session, EventKind.APP_SIGNIN) == []


def test_a_tenants_own_two_factor_setting_and_its_history(app, run, smtp, sender, session):
    """two_factor is per tenant: acme's people get a code, the default tenant's do not; acme's rows
    are acme's."""
    add_alice(run)
    run("users", "set-password", "alice", "--password-stdin", stdin=CHOSEN + "\n")
    run("tenants", "add", "acme", "--sip-domain", "acme.example.com")
    run("settings", "set", "external_address", "sip.acme.example.com", "--tenant", "acme")
    run("extensions", "add", "1001", "--name", "Carol", "--secret", "Acme-Secret-10011", "--tenant", "acme",
        "--email", "carol@acme.example", "--username", "carol")  # fmt: skip
    run("users", "set-password", "carol@acme.example.com", "--password-stdin", stdin=BOBS + "\n")
    run("settings", "set", "two_factor", "email", "--tenant", "acme")
    smtp.wait_for(2)  # the two account mails

    phone = App(app.test_client())
    assert phone.sign_in(CHOSEN, username="alice", domain=APP_HOST).status_code == 200
    challenge = phone.sign_in(BOBS, username="carol", domain="acme.example.com")
    assert challenge.status_code == 202 and challenge.get_json()["sent_to"] == "c…@acme.example"
    code = next_code(smtp, 3, "carol@acme.example")
    done = phone.post("sign-in/code", {"challenge": challenge.get_json()["challenge"], "code": code})
    assert done.status_code == 200 and done.get_json()["account"]["password"] == "Acme-Secret-10011"
    acme = session.scalar(select(Event.tenant_id).where(Event.kind == "access_code_sent"))
    assert acme != 1
    rows = [(e.kind, e.tenant_id) for e in history(session, EventKind.ACCESS_CODE_SENT, EventKind.APP_SIGNIN)]
    assert rows == [("app_signin", 1), ("access_code_sent", acme), ("app_signin", acme)]


def test_the_apps_first_password_change_gives_the_account_only_for_the_code(app, run, smtp, sender, session):
    generated = add_alice(run)
    run("settings", "set", "two_factor", "email")
    phone = App(app.test_client())
    refused = phone.sign_in(generated, username="alice", domain=APP_HOST)
    assert refused.status_code == 403 and refused.get_json() == {"error": "password_change_required"}
    changed = phone.change(generated, CHOSEN, username="alice", domain=APP_HOST)
    assert changed.status_code == 202 and "account" not in changed.get_json()
    assert "Str0ng-Secret-1001" not in changed.get_data(as_text=True)
    code = next_code(smtp, 2)
    done = phone.post("sign-in/code", {"challenge": changed.get_json()["challenge"], "code": code})
    assert done.status_code == 200 and done.get_json()["account"]["password"] == "Str0ng-Secret-1001"
    assert phone.sign_in(CHOSEN, username="alice", domain=APP_HOST).status_code == 202  # the new password


def test_with_two_factor_off_the_password_alone_gives_the_account(app, alice, smtp, session, run):
    run("settings", "set", "two_factor", "off")
    answer = App(app.test_client()).sign_in(CHOSEN, username="alice", domain=APP_HOST)
    assert answer.status_code == 200 and answer.get_json()["account"]["password"] == "Str0ng-Secret-1001"
    assert history(session, EventKind.ACCESS_CODE_SENT) == [] and len(smtp.messages) == 1


def test_no_email_address_is_a_clear_refusal_and_no_sign_in(app, alice, smtp, session, run):
    run("extensions", "set", "1001", "--email", "")
    answer = App(app.test_client()).sign_in(CHOSEN, username="alice", domain=APP_HOST)
    assert answer.status_code == 403 and "no e-mail address" in answer.get_json()["error"]
    [refused] = history(session, EventKind.APP_SIGNIN_FAILED)
    assert refused.detail == "no address for an access code" and history(session, EventKind.APP_SIGNIN) == []
    portal = Portal(app.test_client())
    refused_page = portal.sign_in("alice", CHOSEN)
    assert refused_page.status_code == 403 and "no e-mail address" in text(refused_page)
    assert redirected_to(portal.get("/portal/"), "/portal/sign-in")


def test_the_code_routes_are_limited_per_address_as_every_app_request(app, alice, run):
    run("settings", "set", "anonymous_requests_per_minute", "3")
    phone = App(app.test_client(), ip="203.0.113.77")
    for path, body in (
        ("sign-in/code", {"challenge": "guess", "code": "123456"}),
        ("sign-in/resend", {"challenge": "x"}),
    ):
        answers = [phone.post(path, body) for _ in range(4)]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        assert answers[-1].is_json and int(answers[-1].headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    "body",
    [{}, {"challenge": "x"}, {"challenge": 7, "code": "1"}, {"challenge": "x", "code": "1" * 300}],
)
def test_bad_code_bodies_are_400_json(app, alice, body):
    for path in ("sign-in/code", "sign-in/resend"):
        answer = App(app.test_client()).post(path, body)
        if path.endswith("resend") and "challenge" in body and isinstance(body["challenge"], str):
            assert answer.status_code == 401 and answer.is_json  # a well-formed, unknown challenge
        else:
            assert answer.status_code == 400 and answer.is_json and answer.get_json()["error"], (path, body)


# The portal


def test_the_portal_asks_for_the_code_then_signs_the_person_in(app, alice, smtp, session, caplog):
    caplog.set_level(logging.DEBUG)
    portal = Portal(app.test_client())
    answer = portal.sign_in("alice", CHOSEN)
    assert redirected_to(answer, "/portal/sign-in/code")
    page = portal.page("/portal/sign-in/code")
    assert page.xpath("string(//*[@id='sent-to'])") == "a…@example.org"
    assert page.xpath("//form[@id='access-code']//input[@name='code']")
    assert page.xpath("//form[@id='resend-code']//button[contains(., 'Resend code')]")
    first = next_code(smtp, 2)
    # The browser holds the challenge, not a signed-in person (another page abandons the sign-in).
    assert redirected_to(portal.get("/portal/"), "/portal/sign-in")
    assert redirected_to(portal.sign_in("alice", CHOSEN), "/portal/sign-in/code")  # a new challenge
    code = next_code(smtp, 3)  # the new sign-in's: the first one's challenge is closed

    if first != code:
        stale = portal.post("/portal/sign-in/code", {"code": first}, token_from=portal.page("/portal/sign-in/code"))
        assert stale.status_code == 401 and "Wrong access code. 4 attempt(s) left." in text(stale)
    done = portal.post("/portal/sign-in/code", {"code": code}, token_from=portal.page("/portal/sign-in/code"))
    assert redirected_to(done, "/portal/")
    assert "hotdesk_portal_browser" in done.headers.get("Set-Cookie", "") or any(
        "hotdesk_portal_browser" in value for value in done.headers.getlist("Set-Cookie")
    )
    home = portal.page("/portal/")
    assert "An access code was mailed to you for a sign-in here" in home.text_content()
    kinds = [(e.kind, e.detail) for e in history(session, EventKind.ACCESS_CODE_SENT, EventKind.USER_SIGNIN)]
    assert kinds == [("access_code_sent", "portal"), ("access_code_sent", "portal"), ("user_signin", None)]
    assert_nothing_kept(session, caplog, first, code)


def test_the_portals_resend_kills_the_first_code(app, alice, smtp, session):
    portal = Portal(app.test_client())
    portal.sign_in("alice", CHOSEN)
    first = next_code(smtp, 2)
    page = portal.page("/portal/sign-in/code")
    soon = portal.post("/portal/sign-in/resend", token_from=page)
    assert soon.status_code == 429 and "second(s)" in text(soon)
    a_minute_later(session)
    resent = portal.post("/portal/sign-in/resend", token_from=page)
    assert redirected_to(resent, "/portal/sign-in/code")
    assert "the one before no longer works" in portal.page("/portal/sign-in/code").text_content()
    second = next_code(smtp, 3)
    if first != second:
        killed = portal.post("/portal/sign-in/code", {"code": first}, token_from=page)
        assert killed.status_code == 401
    assert redirected_to(portal.post("/portal/sign-in/code", {"code": second}, token_from=page), "/portal/")
    assert [e.detail for e in history(session, EventKind.ACCESS_CODE_RESENT)] == ["portal"]


def test_five_wrong_codes_at_the_portal_lock_the_account(app, alice, smtp, session):
    portal = Portal(app.test_client())
    portal.sign_in("alice", CHOSEN)
    code = next_code(smtp, 2)
    page = portal.page("/portal/sign-in/code")
    for left in (4, 3, 2, 1):
        answer = portal.post("/portal/sign-in/code", {"code": wrong(code)}, token_from=page)
        assert answer.status_code == 401 and f"{left} attempt(s) left" in text(answer)
    last = portal.post("/portal/sign-in/code", {"code": wrong(code)}, token_from=page)
    assert last.status_code == 401 and "Sign in again" in text(last)
    over = portal.post("/portal/sign-in/code", {"code": code}, token_from=portal.page("/portal/sign-in"))
    assert redirected_to(over, "/portal/sign-in")  # the browser holds no challenge any more
    locked = portal.sign_in("alice", CHOSEN)
    assert locked.status_code == 429 and "Too many failed sign-ins" in text(locked)
    assert redirected_to(portal.get("/portal/"), "/portal/sign-in")


def test_with_two_factor_off_the_portal_signs_in_with_the_password(app, alice, smtp, run):
    run("settings", "set", "two_factor", "off")
    portal = Portal(app.test_client())
    assert redirected_to(portal.sign_in("alice", CHOSEN), "/portal/")
    assert portal.get("/portal/").status_code == 200 and len(smtp.messages) == 1


# Console admins


def console_code(console: Console, code: str):
    page = console.page("/admin/sign-in/code")
    return console.post("/admin/sign-in/code", {"code": code}, token_from=page)


def test_an_admin_with_two_factor_needs_the_code_from_the_mailbox(app, client, run, smtp, sender, session, caplog):
    caplog.set_level(logging.DEBUG)
    refused = run("admins", "add", "bea", "--two-factor", "--password-stdin", stdin=ADMIN_PASSWORD + "\n", code=1)
    assert refused.strip().splitlines()[-1] == (
        "Error: two-factor: admin bea has no e-mail address to send the access code to (--email)"
    )
    run("admins", "add", "bea", "--email", "bea@example.org", "--two-factor", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n")  # fmt: skip
    assert "bea\tsystem\t" in run("admins", "list") and "two-factor" in run("admins", "list")

    console = Console(client)
    answer = console.sign_in("bea", ADMIN_PASSWORD)
    assert redirected_to(answer, "/admin/sign-in/code")
    code = next_code(smtp, 1, "bea@example.org")
    assert redirected_to(console.get("/admin/"), "/admin/sign-in?next=/admin/")  # not signed in yet
    assert redirected_to(console.sign_in("bea", ADMIN_PASSWORD), "/admin/sign-in/code")
    page = console.page("/admin/sign-in/code")
    assert page.xpath("string(//*[@id='sent-to'])") == "b…@example.org"
    code = next_code(smtp, 2, "bea@example.org")
    assert "the hotdesk console" in smtp.messages[1].get_body(preferencelist=("plain",)).get_content()
    bad = console_code(console, wrong(code))
    assert bad.status_code == 401 and "4 attempt(s) left" in text(bad)
    assert redirected_to(console_code(console, code), "/admin/")
    assert console.get("/admin/").status_code in (200, 302) and console.page("/admin/") is not None

    kinds = [(e.kind, e.detail, e.actor) for e in history(session) if e.kind.startswith(("admin_signin", "access"))]
    assert kinds == [
        ("access_code_sent", "console", "bea"),
        ("access_code_sent", "console", "bea"),
        ("admin_signin_failed", None, "bea"),
        ("admin_signin", None, "bea"),
    ]
    assert_nothing_kept(session, caplog, code)

    # No mail server: a clear refusal, no sign-in (fail closed).
    run("settings", "set", "smtp_host", "")
    no_mail = Console(app.test_client()).sign_in("bea", ADMIN_PASSWORD)
    assert no_mail.status_code == 403 and "cannot send mail" in text(no_mail)
    assert history(session)[-1].detail == "no address for an access code"
    run("settings", "set", "smtp_host", "127.0.0.1")

    # Turned off from the command line: the password alone again; on again needs an address.
    assert run("admins", "set", "bea", "--no-two-factor").strip() == "admin bea signs in with the password alone"
    other = Console(app.test_client())
    assert redirected_to(other.sign_in("bea", ADMIN_PASSWORD), "/admin/")
    refused = run("admins", "set", "bea", "--email", "", "--two-factor", code=1)
    assert refused.strip().splitlines()[-1].startswith("Error: two-factor: admin bea has no e-mail address")


def test_five_wrong_codes_lock_the_admin_and_resend_kills_the_first(app, client, run, smtp, sender, session):
    run("admins", "add", "bea", "--email", "bea@example.org", "--two-factor", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n")  # fmt: skip
    console = Console(client)
    console.sign_in("bea", ADMIN_PASSWORD)
    first = next_code(smtp, 1, "bea@example.org")
    page = console.page("/admin/sign-in/code")
    assert console.post("/admin/sign-in/resend", token_from=page).status_code == 429
    a_minute_later(session)
    assert redirected_to(console.post("/admin/sign-in/resend", token_from=page), "/admin/sign-in/code")
    second = next_code(smtp, 2, "bea@example.org")
    assert [e.detail for e in history(session, EventKind.ACCESS_CODE_RESENT)] == ["console"]
    for _ in range(4):
        assert console_code(console, wrong(second) if wrong(second) != first else wrong(first)).status_code == 401
    if first != second:
        assert console_code(console, first).status_code == 401  # the fifth wrong code: the resend killed it
    else:
        assert console_code(console, wrong(wrong(second))).status_code == 401
    locked = console.sign_in("bea", ADMIN_PASSWORD)
    assert locked.status_code == 429 and "Too many failed sign-ins" in text(locked)


def test_the_console_access_page_turns_an_admins_code_on_and_refuses_it_without_an_address(
    app, client, run, smtp, sender, session
):
    run("admins", "add", "ann", "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    run("admins", "add", "bea", "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    console = Console(client)
    assert redirected_to(console.sign_in("ann", ADMIN_PASSWORD), "/admin/")
    refused = console.submit("/admin/access/admins/bea/sign-in", {"email": "", "two_factor": "on"})
    assert refused.status_code == 302
    assert "two-factor: admin bea has no e-mail address" in console.page("/admin/access").text_content()
    assert "two-factor" not in run("admins", "list")
    done = console.submit("/admin/access/admins/bea/sign-in", {"email": "bea@example.org", "two_factor": "on"})
    assert done.status_code == 302
    assert "bea@example.org\ttwo-factor" in run("admins", "list")
    assert redirected_to(Console(app.test_client()).sign_in("bea", ADMIN_PASSWORD), "/admin/sign-in/code")
    assert access_codes.MOST_WRONG_CODES == 5
