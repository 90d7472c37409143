"""Aastra/Mitel phones: their own User-Agents and file names, and a login that reloads without rebooting."""

import re

import pytest
from sqlalchemy import select

from hotdesk.models import Device, Extension, Mapping, Template
from tests.brands.aastra_phone import AastraPhone, parse_aastra_config
from tests.conftest import ADMIN_PASSWORD, PROVISIONING, USER_PASSWORD
from tests.phones import YealinkPhone

SECRETS = ("alice-SIP-secret-9f3", "bob-SIP-secret-77a", "4321", USER_PASSWORD, ADMIN_PASSWORD)
MAC = "00085d1a9870"


@pytest.fixture
def phone(client, extensions):
    return AastraPhone(client, MAC)


def leaked(body: bytes) -> list[str]:
    return [secret for secret in SECRETS if secret.encode() in body]


@pytest.mark.parametrize(
    "user_agent, model, firmware, mac",
    [
        ("Aastra57i MAC:00-08-5D-1A-98-70 V:2.4.1.37-SIP", "57i", "2.4.1.37", "00085d1a9870"),
        ("Aastra6739i MAC:00-08-5D-13-CA-05 V:3.2.1.1013-SIP", "6739i", "3.2.1.1013", "00085d13ca05"),
        ("Aastra6863i MAC:00-08-5D-40-90-5F V:4.1.0.128-SIP", "6863i", "4.1.0.128", "00085d40905f"),
        ("Mitel6920 MAC:14-00-E9-1F-03-EA V:6.4.0.140-SIP", "6920", "6.4.0.140", "1400e91f03ea"),
    ],
)
def test_real_user_agents_fetch_their_three_files(client, session, user_agent, model, firmware, mac):
    phone = AastraPhone(client, mac)
    phone.user_agent = user_agent
    for name in ("aastra.cfg", f"{model}.cfg", f"{mac.upper()}.cfg"):
        response = phone.fetch(name)
        assert response.status_code == 200, name
        assert response.content_type == "text/plain; charset=utf-8"
    device = session.scalar(select(Device))
    assert (device.brand, device.mac, device.model, device.firmware) == ("aastra", mac, model, firmware)


def test_only_the_upper_case_file_of_the_phones_own_mac(phone):
    assert phone.fetch(f"{MAC}.cfg").status_code == 404
    assert phone.fetch("00085D1A9871.cfg").status_code == 404
    assert phone.fetch("y000000000028.cfg").status_code == 404


def test_guest_file_has_two_xml_soft_keys_and_an_empty_line(phone):
    config = phone.boot()
    assert phone.line() is None
    assert config["sip line1 password"] == ""
    assert config["softkey1 type"] == config["softkey2 type"] == "xml"
    assert config["softkey1 states"] == config["softkey2 states"] == "idle"
    assert list(phone.keys()) == ["External", "Internal"]
    assert not any(leaked(body) for body in phone.files.values())


@pytest.mark.parametrize(
    "vendor, model, key",
    [("Aastra", "6731i", "prgkey1"), ("Mitel", "6920", "topsoftkey1"), ("Aastra", "6867i", "softkey1")],
)
def test_xml_keys_go_on_the_keys_the_model_has(client, extensions, vendor, model, key):
    phone = AastraPhone(client, MAC, vendor=vendor, model=model)
    config = phone.boot()
    assert (config[f"{key} type"], config[f"{key} label"]) == ("xml", "External")
    assert f"{key} states" not in config or key.startswith("softkey")


def test_login_pushes_the_line_without_a_reboot(phone, session, notifier):
    phone.boot()
    form = phone.press("Internal")
    assert form.get("displayMode") == "condensed"
    fields = {f.findtext("Parameter"): f for f in form.iter("InputField")}
    assert fields["extension"].get("type") == "number"
    assert fields["password"].get("password") == "yes"
    assert {k.get("index"): k.findtext("URI") for k in form.iter("SoftKey")}["2"] == "SoftKey:Submit"

    answer = phone.submit(form, extension="1001", password="4321")
    run = phone.execute(answer)
    assert run.restart is None
    pushed = dict(run.pushed)
    assert pushed["sip line1 user name"] == "1001"
    assert pushed["sip line1 password"] == "alice-SIP-secret-9f3"
    assert (pushed["sip line1 registrar ip"], pushed["sip line1 registrar port"]) == ("10.1.0.5", "5060")
    assert [screen.findtext("Title") for screen in run.shown] == ["Logged in"]
    assert notifier.sent == []  # the answer did it: no NOTIFY to this phone
    phone.apply_reload(answer)
    assert phone.line()["secret"] == "alice-SIP-secret-9f3"


@pytest.mark.parametrize("firmware, command", [("2.4.1.37", "Command: FastReboot"), ("1.4.2.3000", "Command: Reset")])
def test_firmware_without_dynamic_sip_restarts_instead(client, extensions, firmware, command):
    phone = AastraPhone(client, MAC, model="57i", firmware=firmware)
    answer = phone.login("1001", "4321")
    items = [item.get("URI") for item in answer.iter("ExecuteItem")]
    assert items[-1] == command
    assert not any("/configuration/" in uri for uri in items)
    assert "Alice Martin" in phone.text(answer)  # shown before the phone goes away
    phone.apply_reload(answer)  # the restart: it boots with its new files
    assert phone.line()["user_name"] == "1001"


def test_large_templates_go_in_pages_of_at_most_30_settings(phone, session):
    template = session.scalar(select(Template).where(Template.brand == "aastra", Template.is_default))
    template.body += "".join(f"sip line{n} mode: 0\n" for n in range(2, 72))
    session.commit()
    answer = phone.login("1001", "4321")
    pages = [item.get("URI") for item in answer.iter("ExecuteItem") if "/configuration/" in item.get("URI")]
    device_file = parse_aastra_config(phone.fetch(f"{MAC.upper()}.cfg").data)
    assert len(device_file) > 60 and len(pages) == -(-len(device_file) // 30)
    for url in pages:
        assert len(phone.open(url).findall("ConfigurationItem")) <= 30
    phone.apply_reload(answer)  # every setting of the device file arrives, in order


def test_logout_blanks_the_line_and_brings_back_the_login_keys(phone, session):
    phone.apply_reload(phone.login("1001", "4321"))
    phone.boot()
    answer = phone.choose(phone.press("Logout"), "Logout")
    pushed = dict(phone.execute(answer).pushed)
    assert pushed["sip line1 user name"] == pushed["sip line1 password"] == ""
    assert "Logged out" in phone.text(answer)
    phone.apply_reload(answer)
    assert phone.line() is None and list(phone.keys()) == ["External", "Internal"]
    assert session.scalar(select(Mapping)) is None


def test_configuration_pages_give_the_secret_only_to_the_login_that_asked(phone, client):
    answer = phone.login("1001", "4321")
    page = next(item.get("URI") for item in answer.iter("ExecuteItem") if "/configuration/" in item.get("URI"))
    assert b"alice-SIP-secret-9f3" in phone.get(page, browser=True).data

    token = re.search(r"/phone/([^/]+)/", page).group(1)
    forged = phone.get(f"/phone/{token}/configuration/not-a-state/1", browser=True)
    assert forged.status_code == 200 and not leaked(forged.data) and b"expired" in forged.data
    other = AastraPhone(client, "00085d1a9871")
    assert other.get(page, browser=True).status_code == 403

    phone.apply_reload(answer)
    phone.boot()
    phone.choose(phone.press("Logout"), "Logout")
    phone.login("1001", "4321")
    replay = phone.get(page, browser=True)  # a captured page of an earlier login
    assert not leaked(replay.data)


def test_no_such_configuration_page(phone):
    answer = phone.login("1001", "4321")
    page = next(item.get("URI") for item in answer.iter("ExecuteItem") if "/configuration/" in item.get("URI"))
    response = phone.get(page[: -len("/1")] + "/7", browser=True)
    assert response.status_code == 404
    phone.parse_screen(response.data)


def test_brands_that_reload_by_notify_have_no_configuration_pages(client, extensions):
    yealink = YealinkPhone(client, "001565aabb01")
    yealink.boot()
    login = yealink.keys()["External"]
    response = yealink.get(login.replace("/login/external", "/configuration/x/1"), browser=True)
    assert response.status_code == 404


def test_a_phone_displaced_by_a_login_elsewhere_is_told_by_notify(client, extensions, notifier, session):
    first = AastraPhone(client, MAC, ip="10.20.0.31")
    first.apply_reload(first.login("1001", "4321"))
    second = AastraPhone(client, "00085d1a9871", ip="10.20.0.32")
    second.apply_reload(second.login("1001", "4321"))
    [notify] = notifier.sent
    assert (notify.host, notify.event) == ("10.20.0.31", "check-sync")
    first.boot()
    assert first.line() is None


def test_names_are_escaped_in_screens_and_configuration(phone, session):
    session.add(Extension(number="1003", name="Zoë 王 & <Bob> \"'", secret="zoe-SIP-secret", voicemail_pin="8642"))
    session.commit()
    answer = phone.login("1003", "8642")
    raw = {}
    for item in answer.iter("ExecuteItem"):
        response = phone.get(item.get("URI"), browser=True)
        assert response.content_type == "text/xml; charset=ISO-8859-1"
        assert response.data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
        raw[item.get("URI")] = response.data
    for body in raw.values():
        assert (
            b"&amp;" in body and b"&lt;Bob&gt;" in body and "Zoë".encode("iso-8859-1") in body and b"&#29579;" in body
        )
    assert "Welcome, Zoë 王 & <Bob> \"'" in phone.text(answer)
    assert dict(phone.execute(answer).pushed)["sip line1 display name"] == "Zoë 王 & <Bob> \"'"


def test_a_name_cannot_add_a_line_to_the_configuration(phone, session):
    session.add(
        Extension(
            number="1004", name="Eve\nsip line1 password: stolen\r", secret="eve-SIP-secret", voicemail_pin="8642"
        )
    )
    session.commit()
    phone.apply_reload(phone.login("1004", "8642"))
    config = phone.boot()
    assert config["sip line1 display name"] == "Evesip line1 password: stolen"
    assert config["sip line1 password"] == "eve-SIP-secret"


def test_the_phone_keeps_the_global_credentials_it_would_forget_its_own(phone, session):
    # Aastra rebuilds its server configuration from every download: credentials written once would be lost.
    phone.login("1001", "4321")
    phone.boot()
    assert phone.credentials == PROVISIONING and phone.line()["secret"] == "alice-SIP-secret-9f3"
    assert not [name for name in phone.config if name.startswith("http digest")]
    assert session.scalar(select(Device.provisioning_username)) is None


def test_common_files_carry_no_secret_while_someone_is_logged_in(phone):
    phone.apply_reload(phone.login("1001", "4321"))
    for name in ("aastra.cfg", "6739i.cfg"):
        assert not leaked(phone.fetch(name).data)


def test_mitel_phone_logs_in_and_out(client, extensions):
    phone = AastraPhone(client, "1400e91f03ea", vendor="Mitel", model="6920", firmware="6.4.0.140")
    answer = phone.login("1002", USER_PASSWORD, key="External")
    phone.apply_reload(answer)
    assert phone.line()["auth_name"] == "bob-auth"
    assert phone.config["topsoftkey1 label"] == "Logout"
    phone.apply_reload(phone.choose(phone.press("Logout"), "Logout"))
    assert phone.line() is None


def test_wrong_password_answer_is_a_text_screen_with_retry(phone):
    phone.boot()
    answer = phone.submit(phone.press("External"), extension="1001", password="0000")
    assert answer.tag == "AastraIPPhoneTextScreen" and answer.get("Beep") == "yes"
    assert "Wrong password" in phone.text(answer)
    assert phone.is_form(phone.open(answer.get("doneAction")))
