"""A person chooses their account password with a single-use link: the one in the account mail, or
one they ask for on the portal's "Forgot your password?" page. Through the real path: the mail as
a real SMTP server (aiosmtpd) received it, the link taken out of it, the portal's pages over HTTP
with their CSRF tokens, the portal's sign-in with the password chosen. A link works once, until it
expires, and only while the password is the one it was made for; looking at it uses nothing up;
the "Forgot" page tells nobody which LOGINs exist, and is throttled per account and per address;
no token reaches a log line or the history."""

from __future__ import annotations

import logging
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hotdesk import logs, password_links, self_service
from hotdesk.models import Event, EventKind, QueuedMail, User, utcnow
from hotdesk.softphone.links import LINK_PATH
from tests.conftest import running_app
from tests.test_mail import BASE, PIN, SECRET, add_alice, assert_no_secret, inbox, qr_url_of, sender, smtp  # noqa: F401
from tests.test_portal import (  # noqa: F401 (fixtures)
    Portal,
    _each_request_its_own_context,
    _push_request_context,
    redirected_to,
    text,
)

NEW_PASSWORD = "alice's chosen passphrase"
LINK = re.compile(re.escape(BASE + password_links.PATH) + r"[^\s\"<>]+")


def link_in(message) -> str:
    """The choose-your-password link of a mail: the same in its text and its HTML."""
    plain = message.get_body(preferencelist=("plain",)).get_content()
    rich = message.get_body(preferencelist=("html",)).get_content()
    [url] = set(LINK.findall(plain))
    assert f'href="{url}"' in rich
    return url.removeprefix(BASE)


def alice(session) -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.username == "alice"))


def choose(portal: Portal, path: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    """Open the link's page and send its form, as a browser does."""
    form = portal.page(path)
    return portal.post(path, {"new": new, "confirm": new if confirm is None else confirm}, token_from=form)


def signs_in(app, login: str, password: str) -> bool:
    return redirected_to(Portal(app.test_client()).sign_in(login, password), "/portal/")


def test_the_links_path_is_the_portals_route(app):
    rules = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    assert rules[password_links.PATH + "<token>"] == "portal.password_link"
    assert password_links.link_url("https://h.example/", "1.a.b") == "https://h.example/portal/password/1.a.b"


def test_the_account_mail_carries_a_link_that_sets_the_password_once(run, smtp, app, client, sender, session):
    generated = add_alice(run)
    [message] = smtp.wait_for(1)
    text_part = message.get_body(preferencelist=("plain",)).get_content()
    assert "Choose your password here" in text_part and "from your manager" not in text_part
    assert qr_url_of(message).startswith(BASE + LINK_PATH)  # the QR code is still there
    path = link_in(message)
    assert_no_secret(smtp.raw[0], SECRET, PIN, generated)

    # Looking at it (twice: a mail scanner, then the person) changes nothing and uses nothing up.
    portal = Portal(client)
    for _ in range(2):
        page = portal.page(path)
        assert page.xpath("//strong/text()") == ["alice"]
        assert page.xpath("//input[@name='new']") and page.xpath("//input[@name='csrf_token']")
    assert alice(session).initial_password == generated and alice(session).must_change_password

    done = choose(portal, path)
    assert redirected_to(done, "/portal/sign-in")
    assert "Password set" in text(portal.get("/portal/sign-in"))
    assert alice(session).must_change_password is False and alice(session).initial_password is None
    assert signs_in(app, "alice", NEW_PASSWORD)  # straight to the person's page: no change forced
    assert Portal(app.test_client()).sign_in("alice", generated).status_code == 401

    # The same link again: refused, in the portal's look, and nothing changes.
    again = portal.get(path)
    assert again.status_code == 404 and "Ask for a new one" in text(again)
    assert b"portal.css" in again.data
    assert choose_blind(portal, path, "yet another passphrase").status_code == 404
    assert signs_in(app, "alice", NEW_PASSWORD)

    token = path.rsplit("/", 1)[1]
    [changed] = session.scalars(select(Event).where(Event.kind == EventKind.PASSWORD_CHANGED.value))
    assert changed.extension == "1001" and changed.detail == self_service.BY_LINK
    for event in session.scalars(select(Event)):
        assert token not in f"{event.detail} {event.actor}"


def choose_blind(portal: Portal, path: str, new: str):
    """POST to a link with a CSRF token from another page (its own page refuses to show a form)."""
    return portal.post(path, {"new": new, "confirm": new}, token_from=portal.page("/portal/sign-in"))


@pytest.fixture
def mailed(run, smtp, app, session):
    """Alice's account mail, sent: the path of its password link."""
    add_alice(run)
    app.extensions["hotdesk"].mail.send_due()
    return link_in(smtp.wait_for(1)[0])


def test_any_other_password_change_kills_the_link(run, mailed, client):
    run("users", "set-password", "alice", "--password-stdin", stdin="set by an admin 42\n")
    assert Portal(client).get(mailed).status_code == 404


def test_a_link_used_kills_every_earlier_one(app, mailed, client, smtp, session):
    portal = Portal(client)
    assert portal.submit("/portal/forgot", {"login": "alice"}).status_code == 200
    app.extensions["hotdesk"].mail.send_due()
    second = link_in(smtp.wait_for(2)[1])
    assert second != mailed and portal.get(mailed).status_code == 200  # two links, both usable
    assert redirected_to(choose(portal, second), "/portal/sign-in")
    assert portal.get(mailed).status_code == 404


def test_an_expired_link_is_refused(app, mailed, client, session):
    key = app.extensions["hotdesk"].config.secret_key
    old = password_links.new_link(alice(session), key, timedelta(hours=72), BASE, now=utcnow() - timedelta(hours=73))
    portal = Portal(client)
    assert portal.get(old.url.removeprefix(BASE)).status_code == 404
    assert choose_blind(portal, old.url.removeprefix(BASE), NEW_PASSWORD).status_code == 404
    assert portal.get(mailed).status_code == 200  # the mail's own has 72 hours
    assert alice(session).password_changed_at is None


def test_a_tampered_or_made_up_token_is_refused_and_changes_nothing(app, run, mailed, client, session):
    run("extensions", "add", "1002", "--name", "Bob", "--secret", SECRET, "--username", "bob")
    bob = session.scalar(select(User.id).where(User.username == "bob"))
    user_id, expiry, nonce, signature = mailed.rsplit("/", 1)[1].split(".")
    flipped = ("B" if signature[0] != "B" else "C") + signature[1:]
    forged = [
        f"{user_id}.{expiry}.{nonce}.{flipped}",  # another signature
        f"{bob}.{expiry}.{nonce}.{signature}",  # another account
        f"{user_id}.{int(expiry, 16) + 3600:x}.{nonce}.{signature}",  # a later expiry
        f"{user_id}.0x{expiry}.{nonce}.{signature}",  # the same expiry, written otherwise
        f"{user_id}.{expiry}.{nonce}x.{signature}",  # another nonce
        f"{user_id}.{expiry}.{signature}",  # none
        "1.2",
        "x" * 500,
        f"{'9' * 30}.{expiry}.{nonce}.{signature}",
        f"\u0661.{expiry}.{nonce}.{signature}",  # ARABIC-INDIC DIGIT ONE: a digit to str.isdigit
    ]
    portal = Portal(client)
    for token in forged:
        assert portal.get(password_links.PATH + token).status_code == 404, token
        assert choose_blind(portal, password_links.PATH + token, NEW_PASSWORD).status_code == 404, token
    assert alice(session).password_changed_at is None and alice(session).must_change_password
    refused = session.scalar(select(func.count()).where(Event.kind == EventKind.PASSWORD_LINK_REFUSED.value))
    assert refused == 2 * len(forged)
    assert portal.get(mailed).status_code == 429  # 20 refusals: the address is locked, as for failed sign-ins
    assert Portal(client, ip="192.0.2.8").get(mailed).status_code == 200


@pytest.mark.parametrize(
    "new, confirm, why",
    [
        ("short", None, "at least 10"),
        (SECRET, None, "SIP secret"),
        ("alice", None, "at least 10"),
        ("0123456789", "0123456788", "differ"),
    ],
)
def test_a_refused_password_changes_nothing_and_the_link_still_works(app, mailed, client, session, new, confirm, why):
    portal = Portal(client)
    refused = choose(portal, mailed, new, confirm)
    assert refused.status_code == 422 and why in text(refused)
    assert alice(session).password_changed_at is None and alice(session).must_change_password
    assert redirected_to(choose(portal, mailed), "/portal/sign-in")
    assert signs_in(app, "alice", NEW_PASSWORD)


def test_the_rules_are_peoples(app, run, smtp, session, client):
    """Not the PIN, not the username either."""
    run(
        "extensions", "add", "1003", "--name", "Carl", "--secret", SECRET, "--pin", "7391582046",
        "--email", "carl@example.org", "--username", "carl.longname",
    )  # fmt: skip
    app.extensions["hotdesk"].mail.send_due()
    path = link_in(smtp.wait_for(1)[0])
    portal = Portal(client)
    for weak, why in (("7391582046", "PIN"), ("Carl.Longname", "username")):
        refused = choose(portal, path, weak)
        assert refused.status_code == 422 and why in text(refused)


def test_the_page_needs_the_portals_csrf_token(mailed, client, session):
    portal = Portal(client)
    portal.page(mailed)
    answer = portal.post(mailed, {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": "forged"})
    assert answer.status_code == 400 and alice(session).password_changed_at is None


def test_two_requests_racing_with_one_link_set_one_password(app, mailed, session):
    portals = [Portal(app.test_client()) for _ in range(4)]
    forms = [portal.page(mailed) for portal in portals]
    answers: list = [None] * len(portals)
    start = threading.Barrier(len(portals))

    def post(index):
        start.wait()
        answers[index] = portals[index].post(
            mailed, {"new": f"racer number {index}!", "confirm": f"racer number {index}!"}, token_from=forms[index]
        )

    threads = [threading.Thread(target=post, args=(index,)) for index in range(len(portals))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.status_code for answer in answers) == [302, 404, 404, 404]
    [winner] = [index for index, answer in enumerate(answers) if answer.status_code == 302]
    assert signs_in(app, "alice", f"racer number {winner}!")
    changes = session.scalar(select(func.count()).where(Event.kind == EventKind.PASSWORD_CHANGED.value))
    assert changes == 1


# Forgot your password?


def queued(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(QueuedMail))


def test_forgot_mails_a_link_and_answers_alike_whatever_the_login(run, smtp, app, client, session):
    add_alice(run)
    run("extensions", "add", "1002", "--name", "Bob", "--secret", SECRET, "--username", "bob")  # no e-mail
    app.extensions["hotdesk"].mail.send_due()
    smtp.wait_for(1)
    assert queued(session) == 1

    portal = Portal(client)
    sign_in = portal.page("/portal/sign-in")
    assert sign_in.xpath("//a[@href='/portal/forgot']/text()") == ["Forgot your password?"]
    answers = {}
    for login in ("alice", "bob", "nobody", "alice@no-such.example", "ALICE"):
        answer = portal.submit("/portal/forgot", {"login": login})
        assert answer.status_code == 200, login
        answers[login] = text(answer)
    assert len(set(answers.values())) == 1 and "a link to choose your password is on its way" in answers["nobody"]
    assert queued(session) == 3  # alice's two (her LOGIN in any case), nobody else's

    app.extensions["hotdesk"].mail.send_due()
    messages = smtp.wait_for(3)
    assert [m["To"] for m in messages[1:]] == ["alice@example.org"] * 2
    assert "Choose your phone account password" in messages[1]["Subject"]
    path = link_in(messages[1])
    assert redirected_to(choose(portal, path), "/portal/sign-in")
    assert signs_in(app, "alice", NEW_PASSWORD)

    asked = list(session.scalars(select(Event).where(Event.kind == EventKind.PASSWORD_LINK_REQUESTED.value)))
    assert [event.extension for event in asked] == ["1001", "1002", None, None, "1001"]
    assert asked[0].detail.endswith("to alice@example.org") and asked[0].ip == "192.0.2.7"
    assert "no e-mail address" in asked[1].detail
    for event in asked:  # an unknown LOGIN is not written down (a password typed into the field would be)
        assert "nobody" not in f"{event.actor} {event.detail}" and "no-such" not in f"{event.actor} {event.detail}"
    # The person sees it in their own history.
    own = Portal(app.test_client())
    assert redirected_to(own.sign_in("alice", NEW_PASSWORD), "/portal/")
    history = text(own.get("/portal/"))
    assert "A link to choose a new password asked for from 192.0.2.7" in history
    assert "Password changed with a mailed link from 192.0.2.7" in history


def test_forgot_is_throttled_per_account_and_per_address_alike_for_unknown_logins(run, smtp, app, session):
    add_alice(run)
    for login in ("alice", "nobody"):
        portal = Portal(app.test_client(), ip="198.51.100.1" if login == "alice" else "198.51.100.2")
        for _ in range(self_service.LINK_MAILS):
            assert portal.submit("/portal/forgot", {"login": login}).status_code == 200
        throttled = portal.submit("/portal/forgot", {"login": login})
        assert throttled.status_code == 429 and "Too many requests" in text(throttled), login
        assert int(throttled.headers["Retry-After"]) > 50 * 60
        # From another address too: it is the account's count.
        assert (
            Portal(app.test_client(), ip="198.51.100.3").submit("/portal/forgot", {"login": login}).status_code == 429
        )
    assert queued(session) == 1 + self_service.LINK_MAILS  # the account mail, and three links

    sprayer = Portal(app.test_client(), ip="203.0.113.50")
    for n in range(self_service.LINK_MAILS * self_service.ADDRESS_FACTOR):
        assert sprayer.submit("/portal/forgot", {"login": f"user{n}"}).status_code == 200
    assert sprayer.submit("/portal/forgot", {"login": "someone.else"}).status_code == 429
    assert Portal(app.test_client(), ip="203.0.113.51").submit("/portal/forgot", {"login": "x"}).status_code == 200


def test_guessing_links_locks_the_address_as_failed_sign_ins_do(app, mailed, session):
    guesser = Portal(app.test_client(), ip="203.0.113.60")
    for n in range(20):  # lockout_attempts 5, four accounts' worth for an address
        assert guesser.get(f"{password_links.PATH}1.{n:x}.nonce.guess").status_code == 404
    locked = guesser.get(mailed)
    assert locked.status_code == 429 and "Try again in" in text(locked) and "Retry-After" in locked.headers
    assert guesser.sign_in("alice", "whatever").status_code == 429  # one budget with the sign-in
    assert Portal(app.test_client(), ip="203.0.113.61").get(mailed).status_code == 200


def test_no_token_in_a_log_line(engine, database_url, notifier, tmp_path, run, smtp, caplog):
    """With JSON logs the request log names each request's path: a link's path, cut."""
    made = running_app(database_url, notifier, tmp_path, log_format="json")
    app = next(made)
    add_alice(run)
    app.extensions["hotdesk"].mail.send_due()
    path = link_in(smtp.wait_for(1)[0])
    token = path.rsplit("/", 1)[1]
    portal = Portal(app.test_client())
    with caplog.at_level(logging.INFO, logger="hotdesk"):
        assert redirected_to(choose(portal, path), "/portal/sign-in")
        assert portal.get(path).status_code == 404
    paths = [record.path for record in caplog.records if record.name == "hotdesk.request"]
    assert paths.count("/portal/password/…") == 3, paths
    assert all(token not in record.getMessage() for record in caplog.records)
    assert logs.scrubbed(f'"GET {path} HTTP/1.1" 404 "https://h.example{path}"').count("/portal/password/…") == 2
    next(made, None)
