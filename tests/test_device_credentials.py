"""Per-device provisioning credentials: issued on first fetch, then the only way to a user's secret."""

import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotdesk.cli import main
from hotdesk.models import Device, Template
from tests.brands import EMULATORS
from tests.conftest import PROVISIONING
from tests.phones import YealinkPhone, parse_cfg

MAC = "001565aabb01"
SECRET = "alice-SIP-secret-9f3"


@pytest.fixture
def phone(client, extensions):
    return YealinkPhone(client, MAC)


def test_first_fetch_hands_the_phone_its_own_credentials(phone, session):
    phone.boot()
    user, password = phone.credentials
    assert user != PROVISIONING[0] and len(password) >= 20
    device = session.scalar(select(Device))
    assert (device.provisioning_username, device.provisioning_password) == (user, password)
    again = parse_cfg(phone.fetch(f"{MAC}.cfg").data)
    assert "static.auto_provision.server.password" not in again  # issued once, never repeated


def test_global_credentials_get_only_the_guest_file_of_a_logged_in_phone(phone, client):
    phone.login("1001", "4321")
    assert phone.boot()["account.1.password"] == SECRET  # the phone itself, with its own credentials

    response = client.get(f"/provision/{MAC}.cfg", headers={"User-Agent": phone.user_agent}, auth=PROVISIONING)
    assert response.status_code == 200
    assert SECRET.encode() not in response.data
    assert parse_cfg(response.data)["account.1.enable"] == "0"


def test_one_phones_credentials_do_not_open_another_phones_file(client, extensions):
    owner, other = YealinkPhone(client, MAC), YealinkPhone(client, "001565aabb02")
    owner.login("1001", "4321")
    other.boot()
    response = client.get(
        f"/provision/{MAC}.cfg", headers={"User-Agent": "Yealink SIP-T46S 66.86.0.15"}, auth=other.credentials
    )
    assert response.status_code in (401, 404)
    assert SECRET.encode() not in response.data


def test_a_wrong_device_password_is_refused(phone):
    phone.boot()
    phone.credentials = (phone.credentials[0], "wrong")
    assert phone.fetch(f"{MAC}.cfg").status_code == 401


def test_device_credentials_work_with_digest(live_server, client, extensions):
    phone = YealinkPhone(client, MAC)
    phone.boot()
    url = live_server.url()
    manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    manager.add_password(None, url, *phone.credentials)
    opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(manager))
    with opener.open(
        urllib.request.Request(f"{url}/provision/{MAC}.cfg", headers={"User-Agent": phone.user_agent}), timeout=10
    ) as r:
        assert parse_cfg(r.read())["account.1.enable"] == "0"


def test_admin_reset_withdraws_them_and_the_next_fetch_issues_new_ones(phone, database_url, tmp_path, monkeypatch):
    phone.boot()
    old = phone.credentials
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["devices", "reset-credentials", MAC])
    assert result.exit_code == 0, result.output
    assert phone.fetch(f"{MAC}.cfg").status_code == 401
    phone.credentials = PROVISIONING
    phone.boot()
    assert phone.credentials not in (old, PROVISIONING)
    bad = CliRunner().invoke(main, ["devices", "reset-credentials", "xyz"])
    assert bad.exit_code != 0 and "not a MAC address" in bad.output


def test_a_template_without_the_credentials_block_keeps_phones_working(phone, session, caplog):
    template = session.scalar(select(Template).where(Template.brand == "yealink", Template.is_default))
    template.body = template.body.replace("{% if provisioning %}", "{% if false %}")
    session.commit()
    phone.login("1001", "4321")
    assert phone.credentials == PROVISIONING
    assert phone.boot()["account.1.password"] == SECRET
    assert session.scalar(select(Device.provisioning_username)) is None
    assert "does not write device credentials" in caplog.text


@pytest.mark.parametrize("brand", sorted(b for b, e in EMULATORS.items() if e.credential_settings))
def test_every_brand_that_issues_credentials_keeps_its_users_line_from_the_global_ones(
    client, extensions, brand, caplog
):
    phone = EMULATORS[brand](client, "0004f2a1b2c3")
    phone.login("1001", "4321")
    assert phone.credentials != PROVISIONING
    assert "does not write device credentials" not in caplog.text  # no false alarm from a file the brand writes itself
    phone.boot()
    assert phone.line()["secret"] == SECRET
    for name in phone.files:
        response = phone.get(f"/provision/{name}", auth=PROVISIONING)
        assert SECRET.encode() not in response.data, name


def test_without_credentials_of_its_own_a_users_line_goes_only_to_the_address_it_logged_in_from(
    client, extensions, caplog
):
    # Aastra keeps the global credentials (it would forget its own): anyone holding them could
    # otherwise read a logged-in Aastra's file by sending its MAC and User-Agent.
    phone = EMULATORS["aastra"](client, "00085d0a0b0c")
    phone.apply_reload(phone.login("1001", "4321"))
    assert phone.credentials == PROVISIONING
    assert phone.boot() and phone.line()["secret"] == SECRET  # the phone itself, from its own address

    for name in phone.provisioning_files():
        response = client.get(
            f"/provision/{name}",
            headers={"User-Agent": phone.user_agent},
            auth=PROVISIONING,
            environ_base={"REMOTE_ADDR": "10.66.0.9"},
        )
        assert response.status_code == 200 and SECRET.encode() not in response.data, name
    assert "withheld from 10.66.0.9" in caplog.text
