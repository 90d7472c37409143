"""Polycom: real User-Agents, the master file and the files it lists, the XHTML microbrowser app."""

import pytest
from sqlalchemy import select

from hotdesk.models import Device, Extension, Mapping, Template
from tests.brands.polycom_phone import XHTML, PolycomPhone
from tests.conftest import PROVISIONING
from tests.phones import parse_xml
from tests.test_every_brand import SECRETS

MAC = "0004f2a1b2c3"


@pytest.fixture
def phone(client, extensions):
    return PolycomPhone(client, MAC)


def leaks(files):
    return {
        name: [s for s in SECRETS if s.encode() in body]
        for name, body in files.items()
        if any(s.encode() in body for s in SECRETS)
    }


@pytest.mark.parametrize(
    "user_agent, model, firmware",
    [
        ("FileTransport PolycomSoundPointIP-SPIP_335-UA/3.2.1.0078", "SPIP335", "3.2.1.0078"),
        ("FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application", "VVX400", "4.1.4.7430"),
        ("FileTransport PolycomSoundStationIP-SSIP_6000-UA/4.0.4.2906 Type/Application", "SSIP6000", "4.0.4.2906"),
    ],
)
def test_real_user_agents_get_their_files_and_the_mac_comes_from_the_path(client, session, user_agent, model, firmware):
    headers = {"User-Agent": user_agent}
    master = client.get(f"/provision/{MAC}.cfg", headers=headers, auth=PROVISIONING)
    assert master.status_code == 200
    assert parse_xml(master.data).get("CONFIG_FILES") == f"{MAC}-user.cfg"
    settings = client.get(f"/provision/{MAC}-user.cfg", headers=headers, auth=PROVISIONING)
    assert parse_xml(settings.data).tag == "polycomConfig"
    device = session.scalar(select(Device))
    assert (device.mac, device.brand, device.model, device.firmware) == (MAC, "polycom", model, firmware)


def test_common_master_names_the_phones_own_file_and_holds_nothing_else(client):
    response = client.get(
        "/provision/000000000000.cfg", headers={"User-Agent": PolycomPhone(client, MAC).user_agent}, auth=PROVISIONING
    )
    application = parse_xml(response.data)
    assert application.tag == "APPLICATION"
    assert application.get("CONFIG_FILES") == "[PHONE_MAC_ADDRESS]-user.cfg"
    assert len(application) == 0


@pytest.mark.parametrize(
    "filename", [f"{MAC}-phone.cfg", f"{MAC}-directory.xml", "000000000000-user.cfg", f"{MAC.upper()}.cfg"]
)
def test_files_hotdesk_does_not_serve_are_404(phone, filename):
    assert phone.fetch(filename).status_code == 404


def test_guest_has_the_two_login_soft_keys_no_line_and_no_secret(phone):
    config = phone.boot()

    assert list(phone.files) == [f"{MAC}.cfg", f"{MAC}-user.cfg"]
    assert phone.line() is None
    assert config["reg.1.auth.password"] == ""
    assert list(phone.keys()) == ["External", "Internal"]
    assert all("/phone/" in url for url in phone.keys().values())
    assert config["feature.enhancedFeatureKeys.enabled"] == "1"
    assert not leaks(phone.files)


def test_login_form_is_strict_xhtml_submitted_by_get_with_a_masked_password(phone):
    phone.boot()
    form = phone.press("External")

    assert phone.last_response.content_type == "text/html; charset=utf-8"
    assert form.find(f".//{XHTML}form").get("method") == "get"
    assert phone.input_types(form) == {"extension": "text", "password": "password"}


def test_login_by_the_microbrowser_gives_the_user_line_and_a_logout_key(phone, notifier):
    answer = phone.login("1001", "4321", key="Internal")

    assert "Welcome, Alice Martin (1001)" in phone.text(answer)
    [notify] = notifier.sent
    assert (notify.host, notify.event) == (phone.ip, "check-sync")
    config = phone.boot()
    assert config["reg.1.address"] == "1001"
    assert config["reg.1.auth.password"] == "alice-SIP-secret-9f3"
    assert (config["reg.1.server.1.address"], config["reg.1.server.1.port"]) == ("10.1.0.5", "5060")
    assert config["reg.1.label"] == "1001 Alice Martin"
    assert list(phone.keys()) == ["Logout"]
    assert config["softkey.2.enable"] == "0"


def test_microbrowser_with_the_provisioning_user_agent_works_too(phone, session):
    phone.browser_user_agent = phone.user_agent
    phone.login("1001", "4321")
    assert session.scalar(select(Mapping)).device.mac == MAC


@pytest.mark.parametrize("name", ['Bob & <Co> "Ünïcode"', "O'Brien ]]> -- Łódź", "Zoë <script>&amp;"])
def test_names_are_escaped_in_the_config_and_on_screen(client, session, name):
    session.add(Extension(number="2001", name=name, secret="s-2001", voicemail_pin="2580"))
    session.commit()
    phone = PolycomPhone(client, MAC)

    answer = phone.login("2001", "2580")

    assert f"Welcome, {name} (2001)" in phone.text(answer)
    config = phone.boot()
    assert config["reg.1.displayName"] == name
    assert config["reg.1.label"] == f"2001 {name}"


def test_wrong_password_shows_an_xhtml_error_with_a_retry_link(phone, session, notifier):
    answer = phone.login("1001", "0000")

    assert "Wrong password for extension 1001." in phone.text(answer)
    retry = phone.menu_items(answer)["Retry"]
    assert phone.is_form(phone.open(retry))
    assert session.scalar(select(Mapping)) is None
    assert notifier.sent == []


def test_logout_returns_the_phone_to_guest(phone, session):
    phone.login("1001", "4321")
    phone.boot()
    answer = phone.choose(phone.press("Logout"), "Logout")

    assert "Goodbye, Alice Martin" in phone.text(answer)
    phone.boot()
    assert phone.line() is None
    assert list(phone.keys()) == ["External", "Internal"]
    assert not leaks(phone.files)


def test_admins_see_only_the_settings_template_the_master_is_the_brands(session):
    assert [t.name for t in session.scalars(select(Template).where(Template.brand == "polycom"))] == ["default"]
