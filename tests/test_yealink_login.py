"""A Yealink phone boots as guest, logs in, comes back as its user's phone, logs out."""

import re

import pytest
from sqlalchemy import select

from hotdesk.models import Device, Event, Mapping
from tests.conftest import ADMIN_PASSWORD, USER_PASSWORD
from tests.phones import YealinkPhone

MAC = "001565aabb01"
OTHER_MAC = "805ec0112233"


@pytest.fixture
def phone(client, extensions):
    return YealinkPhone(client, MAC)


def secrets_in(body: str) -> list[str]:
    # A secret standing on its own: a 4-digit PIN is found by chance inside random tokens (letters
    # and digits around it).
    return [
        s
        for s in ("alice-SIP-secret-9f3", "bob-SIP-secret-77a", "4321", USER_PASSWORD, ADMIN_PASSWORD)
        if re.search(r"(?<![A-Za-z0-9_-])" + re.escape(s) + r"(?![A-Za-z0-9_-])", body)
    ]


def test_guest_phone_has_no_secret_and_two_login_keys(phone):
    config = phone.boot()

    assert config["account.1.enable"] == "0"
    assert config["account.1.password"] == "%NULL%"
    assert list(phone.keys()) == ["External", "Internal"]
    assert not secrets_in(phone.fetch(f"{MAC}.cfg").data.decode())


def test_login_with_voicemail_pin_gives_the_user_line(phone, session, notifier):
    answer = phone.login("1001", "4321", key="External")

    assert answer.tag == "YealinkIPPhoneTextScreen"
    assert "Alice Martin" in answer.findtext("Text")
    config = phone.boot()
    assert config["account.1.enable"] == "1"
    assert config["account.1.user_name"] == "1001"
    assert config["account.1.auth_name"] == "1001"
    assert config["account.1.password"] == "alice-SIP-secret-9f3"
    assert config["account.1.display_name"] == "Alice Martin"
    assert config["account.1.sip_server.1.address"] == "pbx.example.com"
    assert config["account.1.sip_server.1.port"] == "5080"
    assert list(phone.keys()) == ["Logout"]
    [notify] = notifier.sent
    assert (notify.host, notify.port, notify.event) == (phone.ip, 5060, "check-sync;reboot=true")


def test_internal_key_registers_to_the_internal_address(phone):
    phone.login("1001", "4321", key="Internal")
    config = phone.boot()
    assert config["account.1.sip_server.1.address"] == "10.1.0.5"
    assert config["account.1.sip_server.1.port"] == "5060"


def test_extension_without_voicemail_uses_the_user_password(phone):
    answer = phone.login("1002", USER_PASSWORD)
    assert answer.findtext("Title") == "Logged in"
    config = phone.boot()
    assert config["account.1.auth_name"] == "bob-auth"
    assert config["account.1.display_name"] == 'Bob & <Co> "Ünïcode"'


def test_user_password_does_not_open_an_extension_that_has_a_pin(phone, session):
    answer = phone.login("1001", USER_PASSWORD)
    assert answer.findtext("Title") == "Login failed"
    assert session.scalar(select(Mapping)) is None


def test_admin_password_logs_in_any_extension(phone):
    answer = phone.login("1001", ADMIN_PASSWORD)
    assert answer.findtext("Title") == "Logged in"
    assert phone.boot()["account.1.user_name"] == "1001"


@pytest.mark.parametrize(
    "extension, password, message",
    [
        ("1001", "0000", "Wrong password for extension 1001."),
        ("9999", "4321", "There is no extension 9999."),
        ("1001", "", "Enter both your extension and your password."),
        ("", "4321", "Enter both your extension and your password."),
    ],
)
def test_bad_login_shows_an_error_and_changes_nothing(phone, session, notifier, extension, password, message):
    answer = phone.login(extension, password)

    assert answer.tag == "YealinkIPPhoneTextScreen"
    assert answer.findtext("Text") == message
    retry = answer.find("SoftKey/URI").text
    assert phone.open(retry).tag == "YealinkIPPhoneInputScreen"
    assert session.scalar(select(Mapping)) is None
    assert notifier.sent == []
    assert phone.boot()["account.1.enable"] == "0"


def test_wrong_password_is_recorded(phone, session):
    phone.login("1001", "0000")
    [event] = session.scalars(select(Event).where(Event.kind == "login_failed"))
    assert (event.extension, event.mac, event.ip, event.detail) == ("1001", MAC, phone.ip, "wrong_password")


def test_login_screen_masks_the_password(phone):
    phone.boot()
    screen = phone.press("External")
    fields = {f.findtext("Parameter"): f for f in screen.iter("InputField")}
    assert fields["extension"].get("type") == "number"
    assert fields["password"].get("password") == "yes"
    assert fields["extension"].get("password") == "no"


def test_logout_returns_the_phone_to_guest(phone, session, notifier):
    phone.login("1001", "4321")
    phone.boot()

    menu = phone.press("Logout")
    assert [item.findtext("Prompt") for item in menu.iter("MenuItem")] == ["Login", "Logout"]
    answer = phone.choose(menu, "Logout")

    assert answer.findtext("Title") == "Logged out"
    assert session.scalar(select(Mapping)) is None
    config = phone.boot()
    assert config["account.1.enable"] == "0"
    assert list(phone.keys()) == ["External", "Internal"]
    assert len(notifier.sent) == 2
    kinds = list(session.scalars(select(Event.kind).order_by(Event.id)))
    assert kinds == ["login", "logout"]


def test_login_item_of_the_logout_menu_switches_user(phone, session):
    phone.login("1001", "4321")
    phone.boot()
    form = phone.choose(phone.press("Logout"), "Login")
    phone.submit(form, extension="1002", password=USER_PASSWORD)
    assert phone.boot()["account.1.user_name"] == "1002"
    assert session.scalar(select(Mapping)).extension.number == "1002"


def test_login_elsewhere_logs_the_first_phone_out_and_tells_it(client, extensions, session, notifier):
    first = YealinkPhone(client, MAC, ip="10.20.0.31")
    second = YealinkPhone(client, OTHER_MAC, ip="10.20.0.32")
    first.login("1001", "4321")
    second.login("1001", "4321")

    assert first.boot()["account.1.enable"] == "0"
    assert second.boot()["account.1.user_name"] == "1001"
    assert [(n.host, n.mac) for n in notifier.sent] == [
        ("10.20.0.31", MAC),  # its own login
        ("10.20.0.31", MAC),  # displaced by the second login
        ("10.20.0.32", OTHER_MAC),
    ]


def test_login_event_records_who_where_and_which_template(phone, session):
    phone.login("1001", "4321", key="Internal")
    event = session.scalar(select(Event).where(Event.kind == "login"))
    assert (event.extension, event.mac, event.brand, event.model, event.template, event.address, event.ip) == (
        "1001",
        MAC,
        "yealink",
        "T46S",
        "default",
        "internal",
        phone.ip,
    )


def test_a_key_from_one_phone_does_not_work_on_another(client, extensions, session):
    victim = YealinkPhone(client, MAC)
    victim.boot()
    attacker = YealinkPhone(client, OTHER_MAC)
    attacker.boot()

    assert attacker.get(victim.keys()["External"], browser=True).status_code == 403
    submit = victim.press("External").findtext("URL")
    response = attacker.get(submit + "?extension=1001&password=4321", browser=True)

    assert response.status_code == 403
    assert "another phone" in response.data.decode()
    assert session.scalar(select(Mapping)) is None


def test_forged_token_is_refused_with_a_readable_screen(phone):
    phone.boot()
    response = phone.get("/phone/not-a-token/login/external")
    assert response.status_code == 403
    screen = phone.last_response = response
    assert b"YealinkIPPhoneTextScreen" in screen.data


def test_unknown_address_choice_is_refused(phone):
    phone.boot()
    url = phone.keys()["External"].replace("/external", "/elsewhere")
    assert phone.get(url).status_code == 404


def test_login_screens_are_escaped_xml(client, session):
    from hotdesk.models import Extension

    session.add(Extension(number="1003", name="A&B <Sales> \"Team\" 'x'", secret="zz-secret", voicemail_pin="1111"))
    session.commit()
    phone = YealinkPhone(client, MAC)
    answer = phone.login("1003", "1111")
    assert "A&B <Sales> \"Team\" 'x'" in answer.findtext("Text")


def test_device_is_recorded_with_model_firmware_and_address(phone, session):
    phone.boot()
    device = session.scalar(select(Device))
    assert (device.mac, device.brand, device.model, device.firmware, device.last_ip) == (
        MAC,
        "yealink",
        "T46S",
        "66.86.0.15",
        phone.ip,
    )
