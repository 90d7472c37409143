"""The same story on every brand: boot as guest, log in on External and Internal, reload, log out."""

import pytest
from sqlalchemy import select

from hotdesk.models import Mapping
from tests.brands import EMULATORS
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD

SECRETS = ("alice-SIP-secret-9f3", "bob-SIP-secret-77a", "4321", USER_PASSWORD, ADMIN_PASSWORD)
MAC = "0004f2a1b2c3"


@pytest.fixture(params=sorted(EMULATORS))
def phone(request, client, extensions):
    return EMULATORS[request.param](client, MAC)


def assert_guest(phone):
    phone.boot()
    assert phone.line() is None
    assert {"External", "Internal"} <= set(phone.keys())
    for name, body in phone.files.items():
        leaked = [s for s in SECRETS if s.encode() in body]
        assert not leaked, f"{name} leaks {leaked}"


def assert_reloaded(phone, answer, notifier, sent_before):
    phone.apply_reload(answer)
    if getattr(phone, "reloads_by", "notify") == "notify":
        assert len(notifier.sent) == sent_before + 1
        assert notifier.sent[-1].host == phone.ip
        assert notifier.sent[-1].event == phone.notify_event


@pytest.mark.parametrize("key, host, port", [("External", "pbx.example.com", "5080"), ("Internal", "10.1.0.5", "5060")])
def test_login_reload_logout(phone, session, notifier, key, host, port):
    if not getattr(phone, "has_login_app", True):
        pytest.skip(f"{phone.brand} phones have no XML browser: provisioning is tested in their own module")
    assert_guest(phone)

    form = phone.press(key)
    assert phone.is_form(form)
    answer = phone.submit(form, extension="1001", password="4321")
    assert "Alice Martin" in phone.text(answer)
    assert_reloaded(phone, answer, notifier, 0)

    phone.boot()
    assert phone.line() == {
        "user_name": "1001",
        "auth_name": "1001",
        "secret": "alice-SIP-secret-9f3",
        "display_name": "Alice Martin",
        "registrar_host": host,
        "registrar_port": port,
    }
    assert "Logout" in phone.keys()  # noqa: SIM118 -- the phone's programmable keys, not a dict's
    assert session.scalar(select(Mapping)).device.brand == phone.brand

    menu = phone.press("Logout")
    sent = len(notifier.sent)
    answer = phone.choose(menu, "Logout")
    assert_reloaded(phone, answer, notifier, sent)
    assert session.scalar(select(Mapping)) is None
    assert_guest(phone)


def test_wrong_password_shows_an_error_in_the_brands_dialect(phone, session):
    if not getattr(phone, "has_login_app", True):
        pytest.skip(f"{phone.brand} phones have no XML browser")
    phone.boot()
    answer = phone.submit(phone.press("External"), extension="1001", password="0000")
    assert "Wrong password" in phone.text(answer)
    assert session.scalar(select(Mapping)) is None
