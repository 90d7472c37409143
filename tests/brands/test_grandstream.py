"""Grandstream: real User-Agents, cfg<mac>.xml P-values, the `<Screen>` XML application."""

import pytest
from sqlalchemy import select

from hotdesk import settings_registry
from hotdesk.models import Device, Extension, Mapping
from tests.brands.grandstream_phone import GrandstreamPhone
from tests.conftest import PROVISIONING, USER_PASSWORD
from tests.phones import parse_xml
from tests.test_every_brand import SECRETS

MAC = "000b82462d97"


@pytest.fixture
def phone(client, extensions):
    return GrandstreamPhone(client, MAC)


@pytest.mark.parametrize(
    "user_agent, mac, model, firmware",
    [
        ("Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859", "c074ad2bd859", "GXP1628", "1.0.4.138"),
        ("Grandstream Model HW GXP2200 V2.2A SW 1.0.1.33 DevId 000b82462d97", "000b82462d97", "GXP2200", "1.0.1.33"),
        (
            "Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/boot55e.bin:1.1.6.9) DevId 000b822726c8",
            "000b822726c8",
            "GXP2000",
            "1.2.5.3",
        ),
    ],
)
def test_real_user_agents_get_their_file(client, session, user_agent, mac, model, firmware):
    response = client.get(f"/provision/cfg{mac}.xml", headers={"User-Agent": user_agent}, auth=PROVISIONING)

    assert response.status_code == 200
    assert response.content_type == "text/xml; charset=utf-8"
    assert parse_xml(response.data).tag == "gs_provision"
    device = session.scalar(select(Device))
    assert (device.mac, device.brand, device.model, device.firmware) == (mac, "grandstream", model, firmware)


def test_a_phone_asking_for_another_phones_file_gets_nothing(client, session):
    agent = "Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859"
    response = client.get(f"/provision/cfg{MAC}.xml", headers={"User-Agent": agent}, auth=PROVISIONING)
    assert response.status_code == 404
    assert session.scalar(select(Device)) is None


@pytest.mark.parametrize("filename", [f"cfg{MAC}", "cfg.xml", "cfg000000000000.xml", f"cfg{MAC.upper()}.xml"])
def test_files_hotdesk_does_not_serve_are_404(phone, filename):
    assert phone.fetch(filename).status_code == 404


def test_guest_has_the_line_off_two_login_keys_and_no_secret(phone):
    config = phone.boot()

    assert config["P271"] == "0"
    assert all(config[p] == "" for p in ("P47", "P35", "P36", "P34", "P3"))
    assert list(phone.keys()) == ["External", "Internal"]
    body = phone.files[f"cfg{MAC}.xml"]
    assert not [s for s in SECRETS if s.encode() in body]


def test_login_screen_has_named_inputs_and_a_masked_password(phone):
    phone.boot()
    form = phone.press("External")
    assert phone.input_types(form) == {"extension": "text", "password": "password"}
    assert [k.get("action") for k in form.iterfind("Page/SoftKeys/SoftKey")] == ["AppendInputURL", "QuitApp"]


def test_login_gives_the_user_line_and_a_logout_key(phone, notifier):
    answer = phone.login("1002", USER_PASSWORD, key="External")

    assert "Welcome, Bob" in phone.text(answer)
    [notify] = notifier.sent
    assert (notify.host, notify.event) == (phone.ip, "check-sync")
    config = phone.boot()
    assert config["P271"] == "1"
    assert (config["P35"], config["P36"], config["P34"]) == ("1002", "bob-auth", "bob-SIP-secret-77a")
    assert config["P47"] == "pbx.example.com:5080"
    assert config["P3"] == 'Bob & <Co> "Ünïcode"'
    assert config["P270"] == '1002 Bob & <Co> "Ünïcode"'
    assert list(phone.keys()) == ["Logout"]
    assert config["P23005"] == "None"


def test_an_ipv6_registrar_is_bracketed_before_its_port(phone, session):
    settings_registry().set(session, "internal_address", "[2001:db8::5]:5070")
    session.commit()
    phone.login("1001", "4321", key="Internal")
    assert phone.boot()["P47"] == "[2001:db8::5]:5070"
    assert phone.line()["registrar_host"] == "2001:db8::5"


@pytest.mark.parametrize("name", ["O'Brien ]]> -- Łódź", "Zoë <script>&amp;"])
def test_names_are_escaped_in_the_config_and_on_screen(client, session, name):
    session.add(Extension(number="2001", name=name, secret="s-2001", voicemail_pin="2580"))
    session.commit()
    phone = GrandstreamPhone(client, MAC)

    answer = phone.login("2001", "2580")

    assert f"Welcome, {name} (2001)" in phone.text(answer)
    assert phone.boot()["P3"] == name


def test_wrong_password_shows_an_error_with_retry_and_exit(phone, session, notifier):
    answer = phone.login("1001", "0000")

    assert phone.text(answer).startswith("Login failed Wrong password for extension 1001.")
    assert [k.get("action") for k in answer.iterfind("Page/SoftKeys/SoftKey")] == ["UseURL", "QuitApp"]
    assert phone.is_form(phone.open(phone.menu_items(answer)["Retry"]))
    assert session.scalar(select(Mapping)) is None
    assert notifier.sent == []


def test_logout_menu_is_soft_keys_and_returns_the_phone_to_guest(phone, session):
    phone.login("1001", "4321")
    phone.boot()
    menu = phone.press("Logout")
    assert list(phone.menu_items(menu)) == ["Login", "Logout"]

    phone.choose(menu, "Logout")

    assert session.scalar(select(Mapping)) is None
    assert phone.boot()["P271"] == "0"
    assert list(phone.keys()) == ["External", "Internal"]


def test_first_file_hands_the_phone_its_own_provisioning_credentials(phone, client):
    config = phone.boot()
    user, password = config["P1360"], config["P1361"]  # Config HTTP/HTTPS User Name, Password
    assert user != PROVISIONING[0] and len(password) >= 20
    assert phone.credentials == (user, password)

    phone.login("1002", USER_PASSWORD)
    config = phone.boot()  # with its own credentials: the user's line, and no new credentials
    assert config["P34"] == "bob-SIP-secret-77a"
    assert "P1360" not in config and "P1361" not in config

    response = client.get(f"/provision/cfg{MAC}.xml", headers={"User-Agent": phone.user_agent}, auth=PROVISIONING)
    guest = phone.read_config({f"cfg{MAC}.xml": response.data})
    assert (guest["P271"], guest["P34"]) == ("0", "")
    assert "P1361" not in guest
