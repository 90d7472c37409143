"""The desk phone's second factor (phone_two_factor = email), on every brand with a login app: the
right PIN brings an "Access code" screen in the phone's dialect, the code reaches a real mailbox
(aiosmtpd), and typing it completes the login as a PIN login does; a wrong code is a failed login
that counts towards the extension's lock, the code works only on that phone at that address, and
neither the code nor its challenge lands in a log line or the history."""

from __future__ import annotations

import configparser
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from hotdesk import access_codes
from hotdesk.models import AccessCode, Event, EventKind, Extension, Mapping
from tests.brands import EMULATORS
from tests.test_access_codes import code_in
from tests.test_every_brand import assert_reloaded
from tests.test_mail import inbox, sender, smtp  # noqa: F401 (fixtures)

PIN = "4321"  # 1001's voicemail PIN (the `extensions` fixture)
ALICE_SECRET = "alice-SIP-secret-9f3"
MAC, OTHER_MAC = "0004f2a1b2c3", "0004f2d4e5f6"
WITH_APP = sorted(name for name, emulator in EMULATORS.items() if getattr(emulator, "has_login_app", True))
_FILTER = configparser.ConfigParser(interpolation=None)
_FILTER.read(Path(__file__).parent.parent / "deploy" / "fail2ban" / "filter.d" / "hotdesk.conf")
FAIL2BAN = {name: _FILTER["Definition"][name].strip().splitlines()[0] for name in ("failregex", "ignoreregex")}
WITH_RESEND = {"yealink", "aastra", "cisco_spa", "cisco_sip", "grandstream", "polycom", "snom"}


@pytest.fixture
def two_factor(run, smtp, extensions, session):
    """phone_two_factor on, 1001 with an e-mail address, mail through the test's SMTP server."""
    run("settings", "set", "phone_two_factor", "email")
    session.execute(update(Extension).where(Extension.number == "1001").values(email="alice@example.org"))
    session.commit()
    return smtp


@pytest.fixture(params=WITH_APP)
def phone(request, client):
    return EMULATORS[request.param](client, MAC)


def key_url(screen, label: str) -> str | None:
    """The URL behind the key or link a user reads as `label`, in any brand's dialect."""
    for element in screen.iter():
        if not isinstance(element.tag, str):
            continue
        if element.get("label") == label:  # Grandstream's SoftKey
            return element.get("commandArgs")
        if (element.text or "").strip() == label:
            if element.get("href"):  # Polycom's link
                return element.get("href")
            for tag in ("URI", "URL"):  # Yealink/Aastra/Fanvil SoftKey, Cisco/Snom SoftKeyItem
                found = element.getparent().findtext(tag)
                if found:
                    return found
    return None


def code_screen(phone):
    """Boot, press External, type 1001's PIN: the access code screen."""
    screen = phone.login("1001", PIN)
    assert phone.is_form(screen), phone.text(screen)
    assert phone.form_parameters(screen) == ["code"]
    assert "Access code" in phone.text(screen) and "a…@example.org" in phone.text(screen)
    return screen


def challenge_of(phone, screen) -> str:
    """The challenge in the code screen's submit URL: /phone/<token>/login/<address>/access-code/<challenge>/submit."""
    parts = urlsplit(phone.submit_url(screen, {"code": ""})).path.split("/")
    assert parts[5] == "access-code" and parts[7] == "submit", parts
    return parts[6]


def hotdesks_log(caplog) -> str:
    """What hotdesk (and Flask, Werkzeug) logged; not the test's SMTP server, which logs every mail."""
    return "\n".join(record.getMessage() for record in caplog.records if not record.name.startswith("mail.log"))


def history(session, kind: EventKind) -> list[Event]:
    session.expire_all()
    return list(session.scalars(select(Event).where(Event.kind == kind.value).order_by(Event.id)))


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_at_a_desk_phone_with_two_factor_on_the_code_from_the_mail_completes_the_login(
    phone, two_factor, sender, session, notifier, caplog
):
    caplog.set_level(logging.DEBUG)
    screen = code_screen(phone)
    assert session.scalar(select(Mapping)) is None
    assert not history(session, EventKind.LOGIN)  # the PIN alone logs nobody in, and resets no count
    [sent] = history(session, EventKind.ACCESS_CODE_SENT)
    assert (sent.extension, sent.mac, sent.detail) == ("1001", MAC, "phone")
    challenge = challenge_of(phone, screen)
    [message] = two_factor.wait_for(1)
    code = code_in(message)
    assert message["To"] == "alice@example.org" and MAC in message.get_body().get_content()

    answer = phone.submit(screen, code=wrong(code))
    assert "Wrong access code" in phone.text(answer) and "4 attempt(s) left" in phone.text(answer)
    [failed] = history(session, EventKind.LOGIN_FAILED)
    assert (failed.extension, failed.detail) == ("1001", "wrong_access_code")
    screen = phone.open(key_url(answer, "Retry"))  # the error screen's Retry: the same code screen again
    assert phone.form_parameters(screen) == ["code"]

    answer = phone.submit(screen, code=code)
    assert "Alice Martin" in phone.text(answer)
    assert_reloaded(phone, answer, notifier, 0)
    phone.boot()
    assert phone.line()["secret"] == ALICE_SECRET and phone.line()["user_name"] == "1001"
    assert session.scalar(select(Mapping)).device.mac == MAC
    [login] = history(session, EventKind.LOGIN)
    assert (login.extension, login.mac, login.address) == ("1001", MAC, "external")

    rows = [repr(vars(event)) for event in [*history(session, EventKind.LOGIN_FAILED), sent, login]]
    logged = hotdesks_log(caplog)
    for secret in (code, challenge):
        assert all(secret not in row for row in rows) and secret not in logged


def test_the_challenge_is_in_the_submit_path_and_no_log_line_or_history_row_holds_it(
    two_factor, sender, client, session, caplog
):
    caplog.set_level(logging.DEBUG)
    phone = EMULATORS["yealink"](client, MAC)
    screen = code_screen(phone)
    path = urlsplit(screen.findtext("URL")).path
    challenge = challenge_of(phone, screen)
    code = code_in(two_factor.wait_for(1)[-1])
    phone.submit(screen, code=wrong(code))
    phone.submit(screen, code=code)
    assert session.scalar(select(Mapping)) is not None

    from hotdesk.logs import scrubbed

    assert challenge not in scrubbed(f'"GET {path}?code={code} HTTP/1.1" 200')
    logged = hotdesks_log(caplog)
    assert challenge not in logged and code not in logged
    session.expire_all()
    for row in [*session.scalars(select(Event)), *session.scalars(select(AccessCode))]:
        assert challenge not in repr(vars(row)) and code not in repr(vars(row))


def test_five_wrong_codes_lock_the_extension(phone, two_factor, session):
    screen = code_screen(phone)
    for left in (4, 3, 2, 1):
        answer = phone.submit(screen, code="000000")
        assert f"{left} attempt(s) left" in phone.text(answer)
    answer = phone.submit(screen, code="000000")
    assert "no attempts left" in phone.text(answer)
    assert [e.detail for e in history(session, EventKind.LOGIN_FAILED)] == ["wrong_access_code"] * 5
    locks = history(session, EventKind.LOCKOUT)  # the extension's, and this (not yet known) phone's own
    assert any(lock.extension == "1001" and "5 failed logins" in lock.detail for lock in locks), locks
    # The right PIN now gets no code: the extension is locked.
    answer = phone.submit(phone.press("External"), extension="1001", password=PIN)
    assert "Too many failed logins" in phone.text(answer)
    assert len(history(session, EventKind.ACCESS_CODE_SENT)) == 1 and session.scalar(select(Mapping)) is None


def test_a_right_pin_does_not_reset_the_count_of_wrong_ones(two_factor, client, session):
    phone = EMULATORS["yealink"](client, MAC)
    phone.boot()
    for _ in range(4):
        phone.submit(phone.press("External"), extension="1001", password="0000")
    screen = code_screen(phone)
    answer = phone.submit(screen, code="000000")  # the fifth failure since the last login
    assert "Wrong access code" in phone.text(answer)
    assert any(lock.extension == "1001" for lock in history(session, EventKind.LOCKOUT))
    answer = phone.submit(phone.press("External"), extension="1001", password=PIN)
    assert "Too many failed logins" in phone.text(answer)


def test_the_code_works_only_on_that_phone_at_that_address(phone, two_factor, sender, client, session):
    screen = code_screen(phone)
    code = code_in(two_factor.wait_for(1)[-1])
    submit = phone.submit_url(screen, {"code": code})

    other = type(phone)(client, OTHER_MAC)
    other.boot()
    own_token = urlsplit(phone.keys()["External"]).path.split("/")[2]
    other_token = urlsplit(other.keys()["External"]).path.split("/")[2]
    answer = other.open(submit.replace(own_token, other_token))
    assert "expired" in other.text(answer).lower() or "not allowed" in other.text(answer).lower()

    phone.ip, home = "10.20.0.99", phone.ip  # the same phone's URL, from another address
    answer = phone.open(submit)
    assert not phone.is_form(answer) and "Alice" not in phone.text(answer)
    phone.ip = home
    assert session.scalar(select(Mapping)) is None and not history(session, EventKind.LOGIN)

    answer = phone.open(submit)  # the phone itself, where it asked: the code still works
    assert "Alice Martin" in phone.text(answer)
    answer = phone.open(submit)  # and only once
    assert "expired" in phone.text(answer).lower()
    assert [e.mac for e in history(session, EventKind.LOGIN)] == [MAC]


def test_resend_sends_a_new_code_that_replaces_the_first(phone, two_factor, sender, session):
    screen = code_screen(phone)
    first = code_in(two_factor.wait_for(1)[-1])
    resend = key_url(screen, "Resend") or key_url(screen, "Resend code")
    if phone.brand not in WITH_RESEND:
        assert resend is None  # no key for a URL on this dialect's input screen: the person logs in again
        return
    assert resend is not None
    answer = phone.open(resend)
    assert "can be sent in" in phone.text(answer)  # too soon
    row = session.scalar(select(AccessCode))
    row.last_sent_at -= access_codes.RESEND_AFTER  # half a minute later
    session.commit()
    screen = phone.open(resend)
    assert phone.form_parameters(screen) == ["code"] and "New code sent" in phone.text(screen)
    second = code_in(two_factor.wait_for(2)[-1])
    [resent] = history(session, EventKind.ACCESS_CODE_RESENT)
    assert (resent.extension, resent.detail) == ("1001", "phone")
    if first != second:
        answer = phone.submit(screen, code=first)
        assert "Wrong access code" in phone.text(answer)
    answer = phone.submit(screen, code=second)
    assert "Alice Martin" in phone.text(answer)


def test_no_e_mail_address_or_no_mail_server_means_no_login(two_factor, run, client, session, caplog):
    caplog.set_level(logging.WARNING, logger="hotdesk.login")
    phone = EMULATORS["yealink"](client, MAC)
    session.execute(update(Extension).where(Extension.number == "1001").values(email=None))
    session.commit()
    answer = phone.login("1001", PIN)
    assert not phone.is_form(answer) and "ask your administrator" in phone.text(answer)
    session.execute(update(Extension).where(Extension.number == "1001").values(email="alice@example.org"))
    session.commit()
    run("settings", "set", "smtp_host", "")
    answer = phone.login("1001", PIN)
    assert not phone.is_form(answer) and "ask your administrator" in phone.text(answer)
    assert session.scalar(select(Mapping)) is None
    assert [e.detail for e in history(session, EventKind.LOGIN_FAILED)] == ["access_code_unavailable"] * 2
    assert not history(session, EventKind.ACCESS_CODE_SENT)
    # Not a guess: fail2ban's filter lets these lines be (it bans for a wrong code, as for a wrong PIN).
    lines = [r.getMessage() for r in caplog.records if r.name == "hotdesk.login"]
    assert len(lines) == 2 and all(re.search(FAIL2BAN["ignoreregex"], line) for line in lines)
    wrong_code = lines[0].replace("access_code_unavailable", "wrong_access_code")
    assert re.search(FAIL2BAN["failregex"].replace("<HOST>", r"\S+"), wrong_code)
    assert not re.search(FAIL2BAN["ignoreregex"], wrong_code)


def test_an_expired_challenge_shows_an_error_and_the_login_starts_again(two_factor, client, session):
    phone = EMULATORS["yealink"](client, MAC)
    screen = code_screen(phone)
    session.execute(update(AccessCode).values(expires_at=AccessCode.created_at))
    session.commit()
    answer = phone.submit(screen, code="123456")
    assert "expired" in phone.text(answer).lower()
    assert key_url(answer, "Retry") == phone.keys()["External"]  # back to the PIN screen
    assert not history(session, EventKind.LOGIN_FAILED)  # nothing was guessed


def test_an_empty_code_is_asked_for_again_not_counted(two_factor, client, session):
    phone = EMULATORS["yealink"](client, MAC)
    screen = phone.submit(code_screen(phone), code="")
    assert phone.form_parameters(screen) == ["code"]
    assert not history(session, EventKind.LOGIN_FAILED)


def test_with_two_factor_off_the_pin_logs_in_as_before(run, smtp, extensions, client, session):
    run("settings", "set", "phone_two_factor", "off")
    phone = EMULATORS["yealink"](client, MAC)
    answer = phone.login("1001", PIN)
    assert "Alice Martin" in phone.text(answer)
    assert not history(session, EventKind.ACCESS_CODE_SENT) and session.scalar(select(AccessCode)) is None


def test_under_deny_the_override_asks_for_the_pin_then_the_code(two_factor, sender, run, client, session):
    run("settings", "set", "multiple_login", "deny")
    first, second = EMULATORS["yealink"](client, MAC), EMULATORS["yealink"](client, OTHER_MAC, ip="10.20.0.32")
    first.submit(code_screen(first), code=code_in(two_factor.wait_for(1)[-1]))
    menu = second.login("1001", PIN)
    assert "logged in at" in menu.findtext("Title")  # no code sent before the user chose to override
    assert len(history(session, EventKind.ACCESS_CODE_SENT)) == 1
    override = second.open(second.menu_items(menu)["Log in here anyway"])
    screen = second.submit(override, extension="1001", password=PIN)
    assert second.form_parameters(screen) == ["code"]
    answer = second.submit(screen, code=code_in(two_factor.wait_for(2)[-1]))
    assert "Alice Martin" in second.text(answer)
    assert [m.device.mac for m in session.scalars(select(Mapping))] == [OTHER_MAC]
    [*_, login] = history(session, EventKind.LOGIN)
    assert login.mac == OTHER_MAC and login.detail == "override"


def test_every_refusal_has_its_words_on_the_phone():
    from hotdesk.hotdesking import LoginFailure
    from hotdesk.web.phoneapp import FAILURE_TEXT

    assert set(FAILURE_TEXT) == set(LoginFailure)


def test_an_address_emptied_while_the_code_travels_refuses_without_using_the_code_up(
    two_factor, sender, run, client, session
):
    phone = EMULATORS["yealink"](client, MAC)
    screen = code_screen(phone)
    code = code_in(two_factor.wait_for(1)[-1])
    run("settings", "set", "external_address", "")
    answer = phone.submit(screen, code=code)
    assert "not set up yet" in phone.text(answer)
    run("settings", "set", "external_address", "pbx.example.com")
    answer = phone.submit(screen, code=code)
    assert "Alice Martin" in phone.text(answer)


def test_a_wrong_code_is_counted_in_the_metrics_under_its_own_reason(two_factor, client):
    from tests.test_operations import samples, total

    def wrong_codes() -> float:
        return total(samples(client.get("/metrics").data), "hotdesk_failed_logins_total", reason="wrong_access_code")

    before = wrong_codes()
    phone = EMULATORS["yealink"](client, MAC)
    phone.submit(code_screen(phone), code="000000")
    assert wrong_codes() == before + 1
