"""Digium / Sangoma D and P phones: provisioning only; logins come from the core (CLI, console)."""

from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotdesk import hotdesking, settings_registry
from hotdesk.cli import main
from hotdesk.models import Address, Device, Mapping
from tests.conftest import PROVISIONING, USER_PASSWORD
from tests.phones import Phone, parse_xml
from tests.test_every_brand import SECRETS

MAC = "000fd3a1b2c3"


class DigiumPhone(Phone):
    """Fetches Digium/<mac>.cfg and reads its first account, as DPMA-less firmware does."""

    brand = "digium"
    has_login_app = False  # JavaScript apps: no XML browser to emulate
    user_agent = "Digium D60 2_7_0"
    credential_settings = ("config_server_url.username", "config_server_url.password")

    def provisioning_files(self):
        return [f"Digium/{self.mac}.cfg"]

    def read_config(self, files):
        root = parse_xml(files[f"Digium/{self.mac}.cfg"])
        assert root.tag == "config"
        [account] = root.findall("accounts/account[@index='0']")
        settings = {s.get("id"): s.get("value") for s in root.iterfind("setting")}
        if "config_server_url" in settings:  # the firmware fetches with the credentials in this URL
            url = urlsplit(settings["config_server_url"])
            settings |= {
                "config_server_url.username": unquote(url.username),
                "config_server_url.password": unquote(url.password),
            }
        return (
            settings
            | {f"account.{k}": v for k, v in account.attrib.items()}
            | {f"host.{k}": v for k, v in account.find("host_primary").attrib.items()}
        )

    def keys(self):
        return {}

    def line(self):
        c = self.config
        if c["account.status"] != "1":
            return None
        return {
            "user_name": c["account.username"],
            "auth_name": c["account.authname"],
            "secret": c["account.password"],
            "display_name": c["account.line_label"],
            "registrar_host": c["host.server"],
            "registrar_port": c["host.port"],
        }


@pytest.fixture
def phone(client, extensions):
    return DigiumPhone(client, MAC)


def login(session, mac, number="1001", password="4321", address=Address.EXTERNAL):
    device = session.scalar(select(Device).where(Device.mac == mac))
    return hotdesking.login(session, settings_registry().values(session), device, number, password, address)


@pytest.mark.parametrize(
    "user_agent, filename, model, firmware",
    [
        ("Digium D60 2_7_0", f"Digium/{MAC}.cfg", "D60", "2.7.0"),
        ("digium_D40_1_0_5_46476", f"Digium/{MAC}.cfg", "D40", "1.0.5.46476"),
        ("Digium D70 1_1_0_0_48178", f"{MAC.upper()}.cfg", "D70", "1.1.0.0.48178"),
    ],
)
def test_recognised_by_user_agent_with_the_mac_from_the_file_name(
    client, session, user_agent, filename, model, firmware
):
    response = client.get(f"/provision/{filename}", headers={"User-Agent": user_agent}, auth=PROVISIONING)

    assert response.status_code == 200
    assert response.content_type == "text/xml; charset=utf-8"
    device = session.scalar(select(Device))
    assert (device.mac, device.brand, device.model, device.firmware) == (MAC, "digium", model, firmware)


def test_the_all_zero_file_is_no_device(phone, session):
    assert phone.fetch("Digium/000000000000.cfg").status_code == 404
    assert session.scalar(select(Device)) is None


def test_guest_config_has_the_line_off_no_secret_and_says_why_there_are_no_keys(phone):
    config = phone.boot()

    assert phone.line() is None
    assert config["account.password"] == ""
    assert config["enable_check_sync"] == "1"
    body = phone.files[f"Digium/{MAC}.cfg"]
    assert not [s for s in SECRETS if s.encode() in body]
    assert b"run JavaScript apps, not an XML browser" in body
    assert b"/phone/" not in body


def test_a_login_made_through_the_core_gives_the_phone_its_users_line(phone, session):
    phone.boot()
    assert isinstance(login(session, MAC, "1002", USER_PASSWORD, Address.INTERNAL), hotdesking.LoggedIn)
    session.commit()

    phone.boot()
    assert phone.line() == {
        "user_name": "1002",
        "auth_name": "bob-auth",
        "secret": "bob-SIP-secret-77a",
        "display_name": 'Bob & <Co> "Ünïcode"',
        "registrar_host": "10.1.0.5",
        "registrar_port": "5060",
    }


def test_after_logout_the_phone_gets_a_guest_config_without_secrets(phone, session):
    phone.boot()
    login(session, MAC)
    session.commit()
    hotdesking.logout(session, session.scalar(select(Device)), actor="console")
    session.commit()

    phone.boot()
    assert phone.line() is None
    assert not [s for s in SECRETS if s.encode() in phone.files[f"Digium/{MAC}.cfg"]]


def test_first_file_points_the_phone_at_hotdesk_with_its_own_credentials(phone, session):
    config = phone.boot()

    own = (config["config_server_url.username"], config["config_server_url.password"])
    assert own != PROVISIONING and phone.credentials == own
    url = urlsplit(config["config_server_url"])
    assert (url.scheme, url.hostname, url.path) == ("http", "localhost", "/provision/")
    device = session.scalar(select(Device))
    assert (device.provisioning_username, device.provisioning_password) == own

    login(session, MAC)
    session.commit()
    assert phone.boot()["account.password"] == "alice-SIP-secret-9f3"  # fetched with its own credentials
    assert "config_server_url" not in phone.config  # issued once; the phone keeps the URL
    response = phone.get(f"/provision/Digium/{MAC}.cfg", auth=PROVISIONING)
    assert response.status_code == 200 and not [s for s in SECRETS if s.encode() in response.data]
    assert parse_xml(response.data).find("accounts/account").get("status") == "0"


def test_cli_logout_sends_check_sync_to_the_phone(
    client, extensions, session, database_url, sipp_uas, tmp_path, monkeypatch
):
    peer = sipp_uas("check-sync")
    settings_registry().set(session, "phone_sip_port", str(peer.port))
    session.commit()
    phone = DigiumPhone(client, MAC, ip="127.0.0.1")
    phone.boot()
    login(session, MAC)
    session.commit()
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))

    result = CliRunner().invoke(main, ["logout", MAC], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "1001 logged out of" in result.output
    assert peer.wait() == 0, peer.diagnostics()
    session.expire_all()
    assert session.scalar(select(Mapping)) is None


def test_a_digium_phone_reaching_the_phone_app_gets_a_plain_refusal(client, phone):
    phone.boot()
    response = client.get("/phone/not-a-token/menu", headers={"User-Agent": phone.user_agent})

    assert response.status_code == 403
    assert response.content_type == "text/plain; charset=utf-8"
    assert b"does not belong to a known phone" in response.data
