"""The second factor's core (hotdesk.access_codes): a code reaches the person through a real SMTP
server (aiosmtpd), works once, only the newest works after a resend, five wrong codes close the
sign-in, a desk phone's code works only at that phone, and nothing but a hash is kept anywhere."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from hotdesk import access_codes, people
from hotdesk.access_codes import Face, Who
from hotdesk.models import AccessCode, QueuedMail, utcnow
from tests.test_mail import add_alice, inbox, sender, smtp  # noqa: F401 (fixtures)


def code_in(message) -> str:
    [code] = re.findall(r"^ +(\d{6})\s*$", message.get_body(preferencelist=("plain",)).get_content(), re.MULTILINE)
    assert message["Subject"] == f"Your access code: {code}"
    return code


def check(session, *args, **kwargs):
    """access_codes.check, committed as the web face commits every outcome (the sender writes too)."""
    try:
        return access_codes.check(session, *args, **kwargs)
    finally:
        session.commit()


@pytest.fixture
def alice(run, smtp, session):
    add_alice(run)
    return people.find(session, "alice")


@pytest.fixture
def key(app):
    return app.extensions["hotdesk"].config.secret_key


@pytest.fixture
def settings(app, session):
    return app.extensions["hotdesk"].settings.values(session, 1)


def test_a_code_reaches_the_mailbox_works_once_and_is_kept_only_as_a_hash(alice, session, settings, key, smtp, sender):
    challenge = access_codes.start(session, Who.person(alice), Face.PORTAL, settings)
    session.commit()
    assert challenge.sent_to == "a…@example.org"
    [*_account_mail, message] = smtp.wait_for(2)
    code = code_in(message)
    assert message["To"] == "alice@example.org"
    session.expire_all()
    for row in session.scalars(select(AccessCode)):
        assert code not in repr(vars(row)) and challenge.token not in repr(vars(row))
    assert all(code not in repr(vars(mail)) for mail in session.scalars(select(QueuedMail)))

    with pytest.raises(access_codes.WrongCode) as wrong:
        check(session, challenge.token, "000000" if code != "000000" else "111111", key)
    assert wrong.value.remaining == 4
    used = check(session, challenge.token, f" {code[:3]} {code[3:]} ", key)  # as typed, with spaces
    assert used.user_id == alice.id and used.closed_as == "used"
    with pytest.raises(access_codes.NoChallenge):
        check(session, challenge.token, code, key)


def test_a_resend_waits_and_kills_the_code_before_it(alice, session, settings, key, smtp, sender):
    challenge = access_codes.start(session, Who.person(alice), Face.APP, settings)
    session.commit()
    first = code_in(smtp.wait_for(2)[-1])
    with pytest.raises(access_codes.ResendRefused):
        access_codes.resend(session, challenge.token, settings)
    row = access_codes.find(session, challenge.token)
    row.last_sent_at -= access_codes.RESEND_AFTER  # half a minute later
    access_codes.resend(session, challenge.token, settings)
    session.commit()
    second = code_in(smtp.wait_for(3)[-1])
    if first != second:
        with pytest.raises(access_codes.WrongCode):
            check(session, challenge.token, first, key)
    assert check(session, challenge.token, second, key).closed_as == "used"


def test_five_wrong_codes_close_the_sign_in_and_a_new_sign_in_closes_the_old(
    alice, session, settings, key, smtp, sender
):
    challenge = access_codes.start(session, Who.person(alice), Face.PORTAL, settings)
    session.commit()
    code = code_in(smtp.wait_for(2)[-1])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for remaining in (4, 3, 2, 1, 0):
        with pytest.raises(access_codes.WrongCode) as refused:
            check(session, challenge.token, wrong, key)
        assert refused.value.remaining == remaining
    with pytest.raises(access_codes.NoChallenge):
        check(session, challenge.token, code, key)

    old = access_codes.start(session, Who.person(alice), Face.PORTAL, settings)
    new = access_codes.start(session, Who.person(alice), Face.PORTAL, settings)
    session.commit()
    assert access_codes.find(session, old.token) is None and access_codes.find(session, new.token) is not None


def test_a_desk_phones_code_works_only_at_that_phone_from_its_address(alice, session, settings, key, smtp, sender):
    at_phone = Who.at_phone(alice.extension)
    challenge = access_codes.start(session, at_phone, Face.PHONE, settings, mac="0004f2aabbcc", ip="10.0.0.5")
    session.commit()
    code = code_in(smtp.wait_for(2)[-1])
    with pytest.raises(access_codes.NoChallenge):
        check(session, challenge.token, code, key, mac="0004f2ddeeff", ip="10.0.0.5")
    with pytest.raises(access_codes.NoChallenge):
        check(session, challenge.token, code, key, mac="0004f2aabbcc", ip="10.0.0.66")
    used = check(session, challenge.token, code, key, mac="0004f2aabbcc", ip="10.0.0.5")
    assert used.extension_id == alice.extension.id


def test_no_address_or_no_mail_server_means_no_sign_in(run, alice, session, settings):
    alice.extension.email = None
    with pytest.raises(access_codes.NoAddress):
        access_codes.start(session, Who.person(alice), Face.PORTAL, settings)
    alice.extension.email = "alice@example.org"
    run("settings", "set", "smtp_host", "")
    session.expire_all()
    with pytest.raises(access_codes.NoAddress):
        access_codes.start(session, Who.person(alice), Face.PORTAL, settings)


def test_an_expired_sign_in_gets_no_mail(alice, session, settings, smtp, app):
    challenge = access_codes.start(session, Who.person(alice), Face.PORTAL, settings, now=utcnow() - timedelta(hours=1))
    session.commit()
    assert access_codes.find(session, challenge.token) is None
    app.extensions["hotdesk"].mail.send_due()
    [_account_mail] = smtp.wait_for(1)
    session.expire_all()
    [given_up] = session.scalars(select(QueuedMail).where(QueuedMail.access_code_id.is_not(None)))
    assert given_up.failed_at is not None and given_up.last_error == "the sign-in it was for has ended"
    assert len(smtp.messages) == 1
