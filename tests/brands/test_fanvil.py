"""Fanvil phones: recognised by their real User-Agents, told apart from Yealink on the shared
<mac>.cfg name, provisioned with an XML VOIP_CONFIG_FILE, logged in through FanvilIPPhone objects,
reloaded by a check-sync NOTIFY."""

import pytest
from sqlalchemy import select

from hotdesk import brands
from hotdesk.brands import FileKind
from hotdesk.models import Device, Extension, Mapping
from tests.brands.fanvil_phone import XML_KEY, FanvilPhone
from tests.conftest import PROVISIONING, USER_PASSWORD
from tests.phones import YealinkPhone, parse_xml

MAC = "0c383e07e16c"
OTHER_MAC = "0c383e2cd782"
BOB = 'Bob & <Co> "Ünïcode"'


@pytest.fixture
def phone(client, extensions):
    return FanvilPhone(client, MAC)


@pytest.mark.parametrize(
    "user_agent, model, firmware, mac",
    [
        ("Fanvil X4 2.10.2.6887 0c383e07e16c", "X4", "2.10.2.6887", "0c383e07e16c"),
        ("Fanvil X6U Pro 0.0.10 0c383e2cd782", "X6U-Pro", "0.0.10", "0c383e2cd782"),
        ("Fanvil i10SV 2.12.10.1 0c383e2397f4", "i10SV", "2.12.10.1", "0c383e2397f4"),
        ("Fanvil H2U-V2 2.12.0 0c383e32342e", "H2U-V2", "2.12.0", "0c383e32342e"),
        ("Fanvil W620W 2.16.10 0c383e7dd216", "W620W", "2.16.10", "0c383e7dd216"),
    ],
)
def test_real_user_agents_fetch_their_own_file(client, session, extensions, user_agent, model, firmware, mac):
    brand, identity = brands.recognise(user_agent, {})
    assert (brand.key, identity.model, identity.firmware, identity.mac) == ("fanvil", model, firmware, mac)

    phone = FanvilPhone(client, mac)
    phone.user_agent = user_agent
    phone.boot()
    device = session.scalar(select(Device))
    assert (device.mac, device.brand, device.model, device.firmware) == (mac, "fanvil", model, firmware)


def test_file_name_is_the_lower_case_mac():
    requested = brands.BRANDS["fanvil"].requested_file(f"{MAC}.cfg")
    assert (requested.kind, requested.mac) == (FileKind.DEVICE, MAC)


@pytest.mark.parametrize("filename", ["0C383E07E16C.cfg", "0c383e07e16c.xml", "f0X4hw1.100.cfg", "../0c383e07e16c.cfg"])
def test_other_file_names_are_not_served(filename):
    assert brands.BRANDS["fanvil"].requested_file(filename) is None


def test_the_user_agent_decides_between_fanvil_and_yealink_for_the_same_file_name(client, session, extensions):
    fanvil = FanvilPhone(client, MAC)
    yealink = YealinkPhone(client, OTHER_MAC)

    assert parse_xml(fanvil.fetch(f"{MAC}.cfg").data).tag == "VOIP_CONFIG_FILE"
    assert yealink.fetch(f"{OTHER_MAC}.cfg").data.startswith(b"#!version:1.0.0.1\n")
    assert {d.mac: d.brand for d in session.scalars(select(Device))} == {MAC: "fanvil", OTHER_MAC: "yealink"}


def test_guest_file_blanks_the_line_and_puts_both_login_keys_after_the_line_key(phone):
    config = phone.boot()

    assert phone.fetch(f"{MAC}.cfg").content_type == "application/xml; charset=utf-8"
    assert {
        name: config[f"SIP1.{name}"]
        for name in ("Enable_Reg", "Phone_Number", "Register_User", "Register_Pswd", "Register_Addr")
    } == {
        "Enable_Reg": "0",
        "Phone_Number": "",
        "Register_User": "",
        "Register_Pswd": "",
        "Register_Addr": "",
    }
    assert (config["Fkey1.Type"], config["Fkey1.Value"]) == ("2", "SIP1")
    assert [(config[f"Fkey{n}.Type"], config[f"Fkey{n}.Title"]) for n in (2, 3)] == [
        (XML_KEY, "External"),
        (XML_KEY, "Internal"),
    ]
    assert config["Fkey2.Value"].startswith("http://localhost/phone/")


def test_a_phone_asking_for_another_phones_file_gets_404(client, session, extensions):
    FanvilPhone(client, OTHER_MAC).login("1001", "4321")

    response = FanvilPhone(client, MAC).fetch(f"{OTHER_MAC}.cfg")

    assert response.status_code == 404 and b"alice-SIP-secret-9f3" not in response.data
    assert session.scalar(select(Device).where(Device.mac == MAC)) is None


def test_login_gives_the_line_and_a_logout_key_and_sends_check_sync(phone, notifier):
    answer = phone.login("1001", "4321", key="External")

    assert answer.tag == "FanvilIPPhoneText" and "Alice Martin" in answer.findtext("Text")
    assert [(n.host, n.mac, n.event) for n in notifier.sent] == [(phone.ip, MAC, "check-sync")]
    config = phone.boot()
    assert phone.line()["registrar_host"] == "pbx.example.com" and phone.line()["registrar_port"] == "5080"
    assert list(phone.keys()) == ["Logout"]
    assert (config["Fkey3.Type"], config["Fkey3.Value"], config["Fkey3.Title"]) == ("0", "", "")


def test_login_form_submits_its_fields_as_query_parameters(phone):
    phone.boot()
    form = phone.press("Internal")

    items = [(i.findtext("QueryStringParam"), i.findtext("InputFlags")) for i in form.iter("InputItem")]
    assert items == [("extension", "N"), ("password", "NP")]  # numeric, the PIN masked
    assert "?" not in form.findtext("URL")
    assert phone.last_response.content_type == "text/xml; charset=utf-8"


def test_wrong_password_beeps_and_offers_retry(phone, session, notifier):
    answer = phone.login("1001", "0000")

    assert (answer.tag, answer.get("beep")) == ("FanvilIPPhoneText", "yes")
    assert answer.findtext("Text") == "Wrong password for extension 1001."
    keys = {key.findtext("Name"): key.findtext("URI") for key in answer.iter("SoftKey")}
    assert keys["Exit"] == "SoftKey:Exit"
    assert phone.is_form(phone.open(keys["Retry"]))
    assert session.scalar(select(Mapping)) is None and notifier.sent == []


def test_names_are_escaped_in_configuration_and_screens(phone):
    answer = phone.login("1002", USER_PASSWORD)

    assert BOB in answer.findtext("Text")
    config = phone.boot()
    assert (phone.line()["display_name"], phone.line()["auth_name"]) == (BOB, "bob-auth")
    assert config["PHONE_CONFIG_MODULE.LCD_Title"] == "1002 " + BOB
    assert b"Bob &amp; &lt;Co&gt;" in phone.files[f"{MAC}.cfg"]
    assert phone.press("Logout").findtext("Title") == "Logged in: 1002 " + BOB


def test_a_name_cannot_add_an_element_or_a_line(phone, session):
    session.add(
        Extension(
            number="1003", name="Eve\r\n</Display_Name><Register_Pswd>x", secret="eve-secret", voicemail_pin="5555"
        )
    )
    session.commit()
    phone.login("1003", "5555")

    phone.boot()
    body = phone.files[f"{MAC}.cfg"]
    assert phone.line()["display_name"] == "Eve</Display_Name><Register_Pswd>x"
    assert phone.line()["secret"] == "eve-secret" and body.count(b"<Register_Pswd>") == 1


def test_first_file_hands_the_phone_its_own_provisioning_credentials(phone, client):
    config = phone.boot()
    user = config["AUTOUPDATE_CONFIG_MODULE.Download_Username"]
    password = config["AUTOUPDATE_CONFIG_MODULE.Download_Password"]
    assert user != PROVISIONING[0] and len(password) >= 20
    assert phone.credentials == (user, password)

    phone.login("1002", USER_PASSWORD)
    config = phone.boot()  # with its own credentials: the user's line, and no new credentials
    assert config["SIP1.Register_Pswd"] == "bob-SIP-secret-77a"
    assert not [name for name in config if name.startswith("AUTOUPDATE_CONFIG_MODULE.")]

    response = client.get(f"/provision/{MAC}.cfg", headers={"User-Agent": phone.user_agent}, auth=PROVISIONING)
    guest = phone.read_config({f"{MAC}.cfg": response.data})
    assert (guest["SIP1.Enable_Reg"], guest["SIP1.Register_Pswd"]) == ("0", "")
    assert "AUTOUPDATE_CONFIG_MODULE.Download_Password" not in guest
