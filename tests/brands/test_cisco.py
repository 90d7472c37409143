"""Cisco SPA/3PCC and enterprise SIP phones: recognised by their real User-Agents and file names,
logged in and out through their XML browsers, every answer valid against Cisco's schema, reloaded by
the NOTIFY each firmware obeys (a real sipp receives the enterprise service-control one)."""

import re

import pytest
from lxml import etree
from sqlalchemy import select

from hotdesk import brands, create_app, settings_registry
from hotdesk.brands import FileKind
from hotdesk.config import Config
from hotdesk.db import make_session_factory
from hotdesk.models import Device, Event, Mapping
from hotdesk.notifications import notification_recorder
from hotdesk.notify import NotifyDispatcher, build_notify, send_notify
from tests.brands.cisco_phone import CiscoSipPhone, CiscoSpaPhone, cisco_schema, parse_flat_profile
from tests.conftest import PROVISIONING, USER_PASSWORD
from tests.phones import parse_xml
from tests.sipp import received_requests

MAC = "0004f2a1b2c3"
OTHER_MAC = "0004f2d4e5f6"
BOB = 'Bob & <Co> "Ünïcode"'


@pytest.mark.parametrize(
    "user_agent, brand, model, firmware, mac",
    [
        ("Cisco/SPA501G-7.4.4 (8843E157DDCC)(CBT141100HR)", "cisco_spa", "SPA501G", "7.4.4", "8843e157ddcc"),
        ("Cisco/SPA525G-7.4.4 (CBT141900G7)", "cisco_spa", "SPA525G", "7.4.4", None),  # serial only
        ("Cisco/SPA508G-7.4.8a (0002FDFF2103)(CBT141400UK)", "cisco_spa", "SPA508G", "7.4.8a", "0002fdff2103"),
        ("Linksys/SPA-942-6.1.5(a) (88019FA42805)", "cisco_spa", "SPA-942", "6.1.5(a)", None),  # a serial number
        ("Linksys/SPA-962-6.1.5(a) (4MM00F903042)", "cisco_spa", "SPA-962", "6.1.5(a)", None),
        ("Cisco-CP-8841-3PCC/11.0 (00562b043615)", "cisco_spa", "CP-8841-3PCC", "11.0", "00562b043615"),
        ("Cisco-CP8851/12.1.1", "cisco_sip", "CP8851", "12.1.1", None),
    ],
)
def test_real_user_agents_are_recognised(user_agent, brand, model, firmware, mac):
    found, identity = brands.recognise(user_agent, {})
    assert (found.key, identity.model, identity.firmware, identity.mac) == (brand, model, firmware, mac)


def test_enterprise_xml_browser_is_known_by_its_model_header_not_its_user_agent_alone():
    found, identity = brands.recognise("Allegro-Software-WebClient/4.34", {"x-CiscoIPPhoneModelName": "CP-7942G"})
    assert (found.key, identity.model, identity.mac) == ("cisco_sip", "CP-7942G", None)
    # The same web client is in DLNA television sets, which send no Cisco headers.
    assert brands.recognise("Allegro-Software-WebClient/4.61 DLNADOC/1.00", {}) is None


@pytest.mark.parametrize(
    "brand, filename, kind, mac",
    [
        ("cisco_spa", "spa504G.cfg", FileKind.COMMON, None),
        ("cisco_spa", "spa525G2.cfg", FileKind.COMMON, None),
        ("cisco_spa", "8851-3PCC.xml", FileKind.COMMON, None),
        ("cisco_spa", "0004f2a1b2c3.xml", FileKind.DEVICE, MAC),
        ("cisco_spa", "0004F2A1B2C3.xml", FileKind.DEVICE, MAC),
        ("cisco_sip", "SEP0004F2A1B2C3.cnf.xml", FileKind.DEVICE, MAC),
        ("cisco_sip", "XMLDefault.cnf.xml", FileKind.COMMON, None),
    ],
)
def test_file_names(brand, filename, kind, mac):
    requested = brands.BRANDS[brand].requested_file(filename)
    assert (requested.kind, requested.mac) == (kind, mac)


@pytest.mark.parametrize(
    "brand, filename",
    [
        ("cisco_spa", "0004f2a1b2c3.cfg"),
        ("cisco_spa", "spa.cfg"),
        ("cisco_spa", "../0004f2a1b2c3.xml"),
        ("cisco_sip", "SEP0004F2A1B2C3.xml"),
        ("cisco_sip", "sep0004f2a1b2c3.cnf.xml.bak"),
        ("cisco_sip", "xmldefault.cnf.xml"),
    ],
)
def test_other_file_names_are_not_served(brand, filename):
    assert brands.BRANDS[brand].requested_file(filename) is None


# --- provisioning over HTTP -------------------------------------------------------------------


def test_spa_guest_profile_blanks_the_line_and_offers_both_keys(client, extensions):
    phone = CiscoSpaPhone(client, MAC)
    config = phone.boot()
    assert phone.fetch(f"{MAC}.xml").content_type == "text/xml; charset=utf-8"
    assert {
        name: config[name]
        for name in ("Line_Enable_1_", "User_ID_1_", "Auth_ID_1_", "Password_1_", "Display_Name_1_", "Proxy_1_")
    } == {
        "Line_Enable_1_": "No",
        "User_ID_1_": "",
        "Auth_ID_1_": "",
        "Password_1_": "",
        "Display_Name_1_": "",
        "Proxy_1_": "",
    }
    assert config["Resync_From_SIP"] == "Yes"  # or the phone ignores the reload NOTIFY
    assert list(phone.keys()) == ["External", "Internal"]
    assert config["PSK_1"].startswith("fnc=xml;url=http://localhost/phone/") and config["PSK_1"].endswith(
        ";nme=External"
    )


@pytest.mark.parametrize(
    "user_agent",
    ["Linksys/SPA-942-6.1.5(a) (88019FA42805)", "Cisco/SPA525G-7.4.4 (CBT141900G7)"],
)
def test_spa_without_a_mac_in_its_user_agent_is_known_by_its_file_name(client, session, extensions, user_agent):
    phone = CiscoSpaPhone(client, MAC, user_agent=user_agent)
    phone.boot()
    device = session.scalar(select(Device))
    assert (device.mac, device.brand) == (MAC, "cisco_spa")


def test_spa_asking_for_another_phones_file_gets_nothing(client, extensions):
    phone = CiscoSpaPhone(client, MAC)
    assert phone.fetch(f"{OTHER_MAC}.xml").status_code == 404


def test_spa_first_profile_rewrites_its_own_rule_with_credentials_of_its_own(client, extensions):
    phone = CiscoSpaPhone(client, MAC)
    config = phone.boot()
    user, password = config["Profile_Rule_B.uid"], config["Profile_Rule_B.pwd"]  # [--uid "U" --pwd "P"]URL
    assert user != PROVISIONING[0] and len(password) >= 20
    assert config["Profile_Rule_B.url"] == f"http://localhost/provision/{MAC}.xml"  # $MA expanded: this file
    assert parse_xml(phone.files[f"{MAC}.xml"]).find("Profile_Rule_B").get("ua") == "na"  # not on the user's web page
    assert phone.credentials == (user, password)

    phone.login("1002", USER_PASSWORD)
    config = phone.boot()  # resync with its own credentials: the user's line, the rule left as it is
    assert config["Password_1_"] == "bob-SIP-secret-77a"
    assert "Profile_Rule_B" not in config

    response = client.get(f"/provision/{MAC}.xml", headers={"User-Agent": phone.user_agent}, auth=PROVISIONING)
    guest = parse_flat_profile(response.data)
    assert (guest["Line_Enable_1_"], guest["Password_1_"]) == ("No", "")
    assert "Profile_Rule_B" not in guest


@pytest.mark.parametrize("model", ["CP-6851-3PCC", "CP-7841-3PCC", "CP-8841-3PCC"])
def test_3pcc_phone_logs_in_and_out(client, session, extensions, notifier, model):
    phone = CiscoSpaPhone(client, MAC, user_agent=f"Cisco-{model}/11.3.7 ({MAC})", common_file=f"{model[3:]}.xml")

    answer = phone.login("1001", "4321", key="Internal")

    assert answer.tag == "CiscoIPPhoneText" and "Alice Martin" in answer.findtext("Text")
    assert [n.event for n in notifier.sent] == ["resync"]
    assert phone.boot()["Proxy_1_"] == "10.1.0.5:5060"
    assert session.scalar(select(Device)).model == model
    phone.choose(phone.press("Logout"), "Logout")
    assert phone.boot()["Line_Enable_1_"] == "No"


def test_enterprise_phone_gets_its_line_and_a_logout_button(client, extensions):
    phone = CiscoSipPhone(client, MAC)
    phone.login("1002", USER_PASSWORD)
    phone.boot()
    device = parse_xml(phone.files[f"SEP{MAC.upper()}.cnf.xml"])
    buttons = [(line.get("button"), line.findtext("featureID")) for line in device.iter("line")]
    assert buttons == [("1", "9"), ("2", "20")]
    assert phone.line()["auth_name"] == "bob-auth"
    assert phone.line()["display_name"] == BOB
    assert list(phone.keys()) == ["Logout"]


def test_enterprise_common_file_is_well_formed_and_holds_no_secret(client, extensions):
    phone = CiscoSipPhone(client, MAC)
    phone.login("1001", "4321")
    response = phone.fetch("XMLDefault.cnf.xml")
    assert response.status_code == 200 and response.content_type == "text/xml; charset=utf-8"
    assert parse_xml(response.data).tag == "Default"
    assert b"alice-SIP-secret-9f3" not in response.data


def test_names_with_markup_and_non_ascii_survive_config_and_screens(client, extensions):
    spa = CiscoSpaPhone(client, MAC)
    answer = spa.login("1002", USER_PASSWORD)
    assert BOB in answer.findtext("Text")
    assert spa.boot()["Display_Name_1_"] == BOB
    assert b"Bob &amp; &lt;Co&gt;" in spa.files[f"{MAC}.xml"]

    menu = spa.press("Logout")  # "Logged in: 1002 Bob & <Co> ..." is longer than a Title may be
    assert len(menu.findtext("Title")) <= 32 and len(menu.findtext("Prompt")) <= 32
    assert (menu.findtext("Title") + " " + menu.findtext("Prompt")).startswith("Logged in: 1002 Bob & <Co>")


# --- the XML dialect --------------------------------------------------------------------------


@pytest.fixture(params=[CiscoSpaPhone, CiscoSipPhone], ids=["cisco_spa", "cisco_sip"])
def phone(request, client, extensions):
    return request.param(client, MAC)


def test_login_form_is_a_cisco_input_with_masked_password(phone):
    phone.boot()
    form = phone.press("External")  # parse_screen has validated it against the schema
    items = form.findall("InputItem")
    assert 1 <= len(items) <= 5
    assert [(i.findtext("QueryStringParam"), i.findtext("InputFlags")) for i in items] == [
        ("extension", "N"),
        ("password", "NP"),  # the PIN, typed in numeric mode
    ]
    assert next((k.findtext("Name"), k.findtext("URL")) for k in form.iter("SoftKeyItem")) == (
        "Submit",
        "SoftKey:Submit",
    )
    cisco_schema(strict=True).assertValid(form)  # without a DefaultValue it fits the old revision as it is


def test_override_form_keeps_the_extension_as_default_value(phone, session):
    registry = settings_registry()
    registry.set(session, "multiple_login", "deny")
    session.commit()
    other = type(phone)(phone.client, OTHER_MAC, ip="10.20.0.99")
    other.login("1001", "4321")

    menu = phone.login("1001", "4321")
    form = phone.choose(menu, "Log in here anyway")
    [default] = [i.findtext("DefaultValue") for i in form.iter("InputItem") if i.findtext("DefaultValue")]
    assert default == "1001"
    answer = phone.submit(form, extension="1001", password="4321")
    assert answer.findtext("Title") == "Logged in"


def test_failed_login_offers_retry_in_cisco_softkeys(phone, session):
    answer = phone.login("9999", "4321")
    assert answer.tag == "CiscoIPPhoneText"
    assert answer.findtext("Text") == "There is no extension 9999."
    keys = {k.findtext("Name"): k.findtext("URL") for k in answer.iter("SoftKeyItem")}
    assert keys["Exit"] == "SoftKey:Exit"
    assert phone.is_form(phone.open(keys["Retry"]))
    assert session.scalar(select(Mapping)) is None


def test_key_of_another_phone_is_refused_in_cisco_dialect(client, extensions):
    owner = CiscoSpaPhone(client, MAC)
    owner.boot()
    thief = CiscoSpaPhone(client, OTHER_MAC)
    response = thief.get(owner.keys()["External"], browser=True)
    assert response.status_code == 403
    screen = parse_xml(response.data)
    cisco_schema().assertValid(screen)
    assert screen.findtext("Text") == "This key belongs to another phone."


def test_every_app_url_fits_in_a_cisco_url_field(client, extensions, session):
    """CiscoIPPhone URL fields hold 256 characters. The longest URL, the override form's answer, is
    `http://` + host + about 160 characters (device token 47, screen state about 80): a host name
    (with port) of up to about 90 characters fits."""
    registry = settings_registry()
    registry.set(session, "multiple_login", "deny")
    session.commit()
    phone = FarPhone(client, MAC)
    other = FarPhone(client, OTHER_MAC, ip="10.20.0.99")
    other.login("1001", "4321")
    menu = phone.login("1001", "4321")
    form = phone.choose(menu, "Log in here anyway")

    urls = [form.findtext("URL"), *phone.menu_items(menu).values(), *phone.keys().values()]
    assert all(url.startswith(f"http://{FAR_HOST}/phone/") for url in urls)
    assert max(len(url) for url in urls) <= 256, max(urls, key=len)
    token = re.search(r"/phone/([^/]+)/", urls[0]).group(1)
    assert len(token) <= 50
    assert max(len(url) for url in urls) - len(f"http://{FAR_HOST}") <= 170


FAR_HOST = "hotdesk-provisioning.branch-office-0042.example.com:8080"  # 57 characters


class FarPhone(CiscoSipPhone):
    """Reaches the server by a long host name, which every URL written for it then carries."""

    def fetch(self, filename):
        return self.get(f"http://{FAR_HOST}/provision/{filename}", auth=self.credentials)


# --- reload -----------------------------------------------------------------------------------


def test_spa_reloads_by_resync_notify_without_body(client, extensions, notifier):
    CiscoSpaPhone(client, MAC).login("1001", "4321")
    [notify] = notifier.sent
    assert (notify.event, notify.body, notify.content_type, notify.host) == ("resync", "", None, "10.20.0.31")


def test_enterprise_reloads_by_service_control_restart(client, extensions, notifier):
    CiscoSipPhone(client, MAC).login("1001", "4321")
    [notify] = notifier.sent
    assert (notify.event, notify.content_type) == ("service-control", "text/plain")
    assert notify.body.split("\r\n")[:2] == ["action=restart", "RegisterCallId={}"]


BUILD = {"local_host": "10.0.0.1", "local_port": 40000, "call_id": "cid1", "branch": "z9hG4bKabc", "from_tag": "t1"}


def test_service_control_notify_carries_its_body_and_length():
    body = brands.BRANDS["cisco_sip"].notify_body()
    data = build_notify("10.0.0.2", 5060, "service-control", body=body.text, content_type=body.content_type, **BUILD)
    head, _, payload = data.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    assert headers["Event"] == "service-control"
    assert headers["Content-Type"] == "text/plain"
    assert int(headers["Content-Length"]) == len(payload) == len(body.text.encode())
    assert payload.decode().startswith("action=restart\r\n")


@pytest.mark.parametrize("content_type", [None, "text/plain\r\nX: y", "text plain", ""])
def test_notify_body_needs_a_clean_content_type(content_type):
    with pytest.raises(ValueError, match="invalid content type"):
        build_notify("10.0.0.2", 5060, "service-control", body="action=restart", content_type=content_type, **BUILD)
    with pytest.raises(ValueError, match="invalid content type"):
        send_notify("10.0.0.2", 5060, "service-control", body="action=restart", content_type=content_type)


def test_enterprise_phone_receives_service_control_over_sip(
    database_url, engine, session, extensions, sipp_uas, tmp_path
):
    peer = sipp_uas("service-control")
    settings_registry().set(session, "phone_sip_port", str(peer.port))
    session.commit()
    dispatcher = NotifyDispatcher(on_outcome=notification_recorder(make_session_factory(engine)))
    app = create_app(Config(database_url, "test-secret-key", 0, tmp_path), notifier=dispatcher)
    phone = CiscoSipPhone(app.test_client(), MAC, ip="127.0.0.1")

    answer = phone.login("1001", "4321")
    dispatcher.shutdown(wait=True)

    assert answer.findtext("Title") == "Logged in"
    assert peer.wait() == 0, peer.diagnostics()
    [request] = received_requests(peer.messages)
    head, _, body = request.replace("\r\n", "\n").partition("\n\n")
    assert "Event: service-control" in head and "Content-Type: text/plain" in head
    assert body.startswith("action=restart\nRegisterCallId={}\nConfigVersionStamp={0000000000000000}")
    session.expire_all()
    [event] = session.scalars(select(Event).where(Event.kind == "notify"))
    assert "delivered, 200 OK" in event.detail


def test_flat_profile_parser_rejects_malformed_xml():
    with pytest.raises(etree.XMLSyntaxError):
        parse_flat_profile(b"<flat-profile><User_ID_1_>a & b</User_ID_1_></flat-profile>")
