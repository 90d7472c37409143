"""Snom phones: recognised by their real User-Agents and file names, provisioned through
snom<model>-<MAC>.htm -> <MAC>.xml, logged in through the minibrowser, rebooted by the answer."""

import pytest
from sqlalchemy import select

from hotdesk import brands, settings_registry
from hotdesk.brands import FileKind
from hotdesk.models import Device, Extension, Mapping
from tests.brands.snom_phone import REBOOT, SnomPhone, parse_snom_settings
from tests.conftest import ADMIN_PASSWORD, PROVISIONING, USER_PASSWORD
from tests.phones import parse_xml

MAC = "000413741767"
OTHER_MAC = "000413922d24"
BOB = 'Bob & <Co> "Ünïcode"'
SECRETS = ("alice-SIP-secret-9f3", "bob-SIP-secret-77a", "4321", USER_PASSWORD, ADMIN_PASSWORD)


@pytest.fixture
def phone(client, extensions):
    return SnomPhone(client, MAC)


@pytest.mark.parametrize(
    "user_agent, model, firmware, mac",
    [
        (
            "Mozilla/4.0 (compatible; snom360-SIP 6.5.2; snom360 ramdisk v3.31; snom360 linux 3.25)",
            "360",
            "6.5.2",
            None,
        ),
        ("Mozilla/4.0 (compatible; snom320-SIP 8.4.18 1.1.3-s)", "320", "8.4.18", None),
        ("Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 000413741767)", "710", "8.7.5.35", MAC),
        (
            "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)",
            "D785",
            "10.1.33.33",
            OTHER_MAC,
        ),
    ],
)
def test_real_user_agents_are_recognised(user_agent, model, firmware, mac):
    brand, identity = brands.recognise(user_agent, {})
    assert (brand.key, identity.model, identity.firmware, identity.mac) == ("snom", model, firmware, mac)


@pytest.mark.parametrize(
    "filename, kind, mac, part",
    [
        ("snom710.htm", FileKind.COMMON, None, None),
        ("snomD785.htm", FileKind.COMMON, None, None),
        ("snom710-000413741767.htm", FileKind.DEVICE, MAC, "setting-files"),
        ("snomD785-000413922D24.htm", FileKind.DEVICE, OTHER_MAC, "setting-files"),
        ("000413922D24.xml", FileKind.DEVICE, OTHER_MAC, None),
    ],
)
def test_file_names(filename, kind, mac, part):
    requested = brands.BRANDS["snom"].requested_file(filename)
    assert (requested.kind, requested.mac, requested.part) == (kind, mac, part)


@pytest.mark.parametrize(
    "filename", ["snom710-000413741767.xml", "000413741767.cfg", "snom710.xml", "../000413741767.xml"]
)
def test_other_file_names_are_not_served(filename):
    assert brands.BRANDS["snom"].requested_file(filename) is None


def test_the_setting_files_list_is_not_an_admin_template():
    assert list(brands.BRANDS["snom"].stock_templates()) == ["default"]


def test_guest_phone_follows_its_setting_files_to_an_empty_line_and_two_keys(phone):
    config = phone.boot()

    assert list(phone.files) == ["snom710.htm", f"snom710-{MAC.upper()}.htm", f"{MAC.upper()}.xml"]
    assert phone.fetch(f"{MAC.upper()}.xml").content_type == "application/xml; charset=utf-8"
    assert {
        name: config[f"{name}[1]"] for name in ("user_active", "user_name", "user_pname", "user_pass", "user_host")
    } == {
        "user_active": "off",
        "user_name": "",
        "user_pname": "",
        "user_pass": "",
        "user_host": "",
    }
    assert list(phone.keys()) == ["External", "Internal"]
    assert config["fkey[0]"].startswith("url http://localhost/phone/")


def test_old_firmware_without_a_mac_in_its_user_agent_is_known_by_its_file_name(client, session, extensions):
    phone = SnomPhone(client, MAC, model="360")
    phone.user_agent = "Mozilla/4.0 (compatible; snom360-SIP 6.5.2; snom360 ramdisk v3.31; snom360 linux 3.25)"
    phone.boot()
    device = session.scalar(select(Device))
    assert (device.mac, device.brand, device.model) == (MAC, "snom", "360")


@pytest.mark.parametrize("filename", [f"snom710-{OTHER_MAC.upper()}.htm", f"{OTHER_MAC.upper()}.xml"])
def test_a_phone_asking_for_another_phones_file_gets_404(client, session, extensions, filename):
    other = SnomPhone(client, OTHER_MAC)
    other.login("1001", "4321")
    phone = SnomPhone(client, MAC)

    response = phone.fetch(filename)

    assert response.status_code == 404
    assert b"alice-SIP-secret-9f3" not in response.data
    assert session.scalar(select(Device).where(Device.mac == MAC)) is None


def test_login_answer_reboots_the_phone_into_its_user_line(phone, notifier, session):
    answer = phone.login("1001", "4321", key="Internal")

    assert answer.tag == "SnomIPPhoneText" and "Alice Martin" in answer.findtext("Text")
    assert answer.findtext("fetch") == REBOOT
    assert notifier.sent == []  # the answer does it
    phone.apply_reload(answer)
    assert phone.line()["registrar_host"] == "10.1.0.5"
    assert phone.config["user_outbound[1]"] == "10.1.0.5:5060;transport=udp"
    assert list(phone.keys()) == ["Logout"]
    assert phone.config["fkey[1]"] == "line"  # the second key is no longer "Internal"


def test_first_settings_file_gives_the_phone_its_own_http_client_credentials(phone, session):
    phone.boot()
    issued = parse_snom_settings(phone.files[f"{MAC.upper()}.xml"])
    own = (issued["http_client_user"], issued["http_client_pass"])
    assert own != PROVISIONING and phone.credentials == own
    device = session.scalar(select(Device))
    assert (device.provisioning_username, device.provisioning_password) == own

    phone.apply_reload(phone.login("1001", "4321"))  # the reboot fetches everything with its own credentials
    assert phone.line()["secret"] == "alice-SIP-secret-9f3"
    assert "http_client_pass" not in parse_snom_settings(
        phone.files[f"{MAC.upper()}.xml"]
    )  # issued once; the phone keeps it

    for name in phone.files:
        response = phone.get(f"/provision/{name}", auth=PROVISIONING)
        assert response.status_code == 200 and not [s for s in SECRETS if s.encode() in response.data], name
    guest = parse_snom_settings(phone.get(f"/provision/{MAC.upper()}.xml", auth=PROVISIONING).data)
    assert (guest["user_active[1]"], guest["user_pass[1]"], guest["fkey[0].label"]) == ("off", "", "External")


def test_common_file_holds_no_secret_while_someone_is_logged_in(phone):
    phone.login("1001", "4321")
    body = phone.fetch("snom710.htm").data
    assert parse_xml(body).tag == "settings"
    assert not [s for s in SECRETS if s.encode() in body]


def test_login_form_puts_each_token_in_the_url(phone):
    phone.boot()
    form = phone.press("External")

    url = form.findtext("Url")
    items = [
        (i.findtext("DisplayName"), i.findtext("InputToken"), i.findtext("InputFlags")) for i in form.iter("InputItem")
    ]
    assert [(prompt, flags) for prompt, _, flags in items] == [("Extension:", "n"), ("PIN:", "pn")]
    for _, token, _ in items:
        assert url.count(token) == 1
        assert token not in url.replace(token, "")  # no token inside another part of the URL
    assert phone.last_response.content_type == "text/xml; charset=utf-8"


def test_wrong_password_shows_retry_that_leads_back_to_the_form(phone, session):
    answer = phone.login("1001", "0000")

    assert answer.tag == "SnomIPPhoneText"
    assert answer.findtext("Text") == "Wrong password for extension 1001."
    assert answer.find("fetch") is None
    [retry] = answer.iter("SoftKeyItem")
    assert (retry.findtext("Name"), retry.findtext("Label")) == ("F1", "Retry")
    assert phone.is_form(phone.open(retry.findtext("URL")))
    assert session.scalar(select(Mapping)) is None


def test_logout_answer_reboots_the_phone_back_to_guest(phone, session, notifier):
    phone.login("1001", "4321")
    phone.boot()

    answer = phone.choose(phone.press("Logout"), "Logout")

    assert answer.findtext("Title") == "Logged out" and answer.findtext("fetch") == REBOOT
    phone.apply_reload(answer)
    assert phone.line() is None and list(phone.keys()) == ["External", "Internal"]
    assert notifier.sent == []


def test_a_phone_displaced_by_a_login_elsewhere_is_told_by_notify(client, session, extensions, notifier):
    first = SnomPhone(client, MAC, ip="10.20.0.31")
    second = SnomPhone(client, OTHER_MAC, ip="10.20.0.32")
    first.login("1001", "4321")

    second.login("1001", "4321")

    assert [(n.host, n.mac, n.event) for n in notifier.sent] == [("10.20.0.31", MAC, "check-sync;reboot=false")]
    assert first.boot()["user_active[1]"] == "off"


def test_names_are_escaped_in_settings_and_screens(phone):
    answer = phone.login("1002", USER_PASSWORD)

    assert BOB in answer.findtext("Text")
    phone.apply_reload(answer)
    assert phone.line()["display_name"] == BOB
    assert phone.line()["auth_name"] == "bob-auth"
    assert phone.press("Logout").findtext("Title") == "Logged in: 1002 " + BOB


def test_a_name_cannot_add_a_setting(phone, session):
    session.add(
        Extension(
            number="1003", name='Eve\n</user_realname><user_pass idx="1">x', secret="eve-secret", voicemail_pin="5555"
        )
    )
    session.commit()
    phone.apply_reload(phone.login("1003", "5555"))

    body = phone.files[f"{MAC.upper()}.xml"]
    assert phone.config["user_realname[1]"] == 'Eve</user_realname><user_pass idx="1">x'
    assert phone.config["user_pass[1]"] == "eve-secret"
    assert body.count(b"<user_pass ") == 1


def test_key_of_another_phone_is_refused_in_snom_dialect(client, extensions):
    owner = SnomPhone(client, MAC)
    owner.boot()
    thief = SnomPhone(client, OTHER_MAC)
    response = thief.get(owner.keys()["External"], browser=True)
    assert response.status_code == 403
    assert parse_xml(response.data).tag == "SnomIPPhoneText"


def test_deny_policy_override_keeps_the_extension_as_default_value(client, session, extensions):
    settings_registry().set(session, "multiple_login", "deny")
    session.commit()
    SnomPhone(client, OTHER_MAC, ip="10.20.0.99").login("1001", "4321")
    phone = SnomPhone(client, MAC)

    form = phone.choose(phone.login("1001", "4321"), "Log in here anyway")

    assert [i.findtext("DefaultValue") for i in form.iter("InputItem")] == ["1001", ""]
    answer = phone.submit(form, extension="1001", password="4321")
    assert answer.findtext("Title") == "Logged in" and answer.findtext("fetch") == REBOOT
