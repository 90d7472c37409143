"""A device proves who it is (hotdesk.trust): the shared provisioning credentials, which every phone
holds, never open a user's line on a device that has credentials of its own, whatever file name or
User-Agent comes with them; they cannot re-brand a known device; and device_admission decides which
phones are served and handed credentials at all."""

import logging

import pytest
from click.testing import CliRunner
from lxml import html
from sqlalchemy import select

from hotdesk import hotdesking, schema, settings_registry
from hotdesk.admin import accounts
from hotdesk.cli import main
from hotdesk.db import make_engine, make_session_factory
from hotdesk.models import Address, Device, Event, EventKind, Mapping
from hotdesk.runtime import stock_templates
from tests.brands import EMULATORS
from tests.conftest import PROVISIONING
from tests.phones import YealinkPhone

SECRET = "alice-SIP-secret-9f3"
VICTIM_MAC = "001565c0ffee"
VICTIM_IP = "10.20.0.31"
ATTACKER_IP = "10.66.6.6"


def device_files(brand: str, mac: str) -> list[str]:
    """The names under which a phone of `brand` asks for the device file of `mac`."""
    upper = mac.upper()
    return {
        "yealink": [f"{mac}.cfg"],
        "fanvil": [f"{mac}.cfg"],
        "aastra": [f"{upper}.cfg"],
        "cisco_spa": [f"{mac}.xml"],
        "cisco_sip": [f"SEP{upper}.cnf.xml"],
        "polycom": [f"{mac}.cfg", f"{mac}-user.cfg"],
        "snom": [f"snom715-{upper}.htm", f"{upper}.xml"],
        "grandstream": [f"cfg{mac}.xml"],
        "digium": [f"Digium/{mac}.cfg", f"{mac}.cfg"],
    }[brand]


def user_agent(client, brand: str, mac: str) -> str:
    if brand == "digium":
        return "Digium D60 2_7_0"
    return EMULATORS[brand](client, mac).user_agent


ATTACKER_BRANDS = sorted([*EMULATORS, "digium"])


def set_setting(session, name, value):
    settings_registry().set(session, name, value)
    session.commit()


def attack(client, brand, mac, filename, *, ip=ATTACKER_IP, path="/provision/"):
    return client.get(
        f"{path}{filename}",
        headers={"User-Agent": user_agent(client, brand, mac)},
        auth=PROVISIONING,
        environ_base={"REMOTE_ADDR": ip},
    )


def device_row(session, mac=VICTIM_MAC) -> Device:
    session.expire_all()
    return session.scalar(select(Device).where(Device.mac == mac))


@pytest.fixture(autouse=True)
def _push_request_context():
    """As in tests/test_console.py: each request its own `g` (and CSRF token), as a real server gives."""


@pytest.fixture
def cli(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path))

    def run(*args):
        return CliRunner().invoke(main, list(args))

    return run


@pytest.fixture
def api(client, session):
    token = accounts.create_token(session, "trust-test", "test").secret
    session.commit()

    class Api:
        def __getattr__(self, method):
            def call(path, **kwargs):
                headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
                return getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)

            return call

    return Api()


# C1: the shared credentials, any brand's file name and User-Agent, a victim with its own credentials


@pytest.mark.parametrize("victim_brand", ["yealink", "polycom", "snom"])
def test_no_file_name_or_user_agent_opens_the_line_of_a_device_with_its_own_credentials(
    client, session, extensions, victim_brand, caplog
):
    victim = EMULATORS[victim_brand](client, VICTIM_MAC, ip=VICTIM_IP)
    victim.login("1001", "4321")
    victim.boot()
    assert victim.credentials != PROVISIONING and victim.line()["secret"] == SECRET
    before = device_row(session)
    described = (before.brand, before.model, before.firmware, before.last_ip)

    caplog.set_level(logging.WARNING, "hotdesk.provision")
    for brand in ATTACKER_BRANDS:
        for filename in device_files(brand, VICTIM_MAC):
            for path in ("/provision/", f"/provision/fast/{VICTIM_MAC}/{'0' * 32}/"):
                response = attack(client, brand, VICTIM_MAC, filename, path=path)
                assert SECRET.encode() not in response.data, (brand, filename, path)
                if brand != victim_brand:
                    assert response.status_code == 404, (brand, filename, path, response.status_code)

    after = device_row(session)
    assert (after.brand, after.model, after.firmware, after.last_ip) == described
    assert after.mismatch_at is not None and f"not {victim_brand}" in after.mismatch_detail
    assert ATTACKER_IP in after.mismatch_detail
    assert f"hotdesk provisioning refused: reason=mismatch mac={VICTIM_MAC}" in caplog.text
    assert after.mapping is not None  # nobody was logged out
    victim.boot()
    assert victim.line()["secret"] == SECRET  # and the phone itself still is its user's


def test_an_attacker_cannot_rebrand_a_device_to_be_issued_its_credentials(client, session, extensions):
    """An Aastra (no credentials of its own) asked for as a Yealink: refused, nothing issued."""
    victim = EMULATORS["aastra"](client, VICTIM_MAC, ip=VICTIM_IP)
    victim.login("1001", "4321")
    response = attack(client, "yealink", VICTIM_MAC, f"{VICTIM_MAC}.cfg")
    assert response.status_code == 404 and SECRET.encode() not in response.data
    device = device_row(session)
    assert device.brand == "aastra" and device.provisioning_username is None


@pytest.mark.parametrize("victim_brand", ["aastra", "cisco_sip"])
def test_a_device_without_credentials_gets_its_line_only_as_its_brand_from_its_login_address(
    client, session, extensions, victim_brand
):
    victim = EMULATORS[victim_brand](client, VICTIM_MAC, ip=VICTIM_IP)
    victim.login("1001", "4321")
    victim.boot()
    assert victim.line()["secret"] == SECRET  # as its brand, from the address it logged in from

    [own_file] = device_files(victim_brand, VICTIM_MAC)
    elsewhere = attack(client, victim_brand, VICTIM_MAC, own_file)
    assert elsewhere.status_code == 200 and SECRET.encode() not in elsewhere.data
    for brand in ATTACKER_BRANDS:
        if brand == victim_brand:
            continue
        for filename in device_files(brand, VICTIM_MAC):
            for ip in (ATTACKER_IP, VICTIM_IP):  # the login address does not make another brand the phone
                response = attack(client, brand, VICTIM_MAC, filename, ip=ip)
                assert response.status_code == 404 and SECRET.encode() not in response.data, (brand, filename, ip)
    device = device_row(session)
    assert device.brand == victim_brand and device.provisioning_username is None
    assert device.last_ip in {VICTIM_IP, ATTACKER_IP}  # its own brand's requests may move it


def test_a_login_an_admin_made_proves_no_address(client, session, extensions):
    """No phone address comes with an admin's login: nobody's fetch proves the phone by it."""
    phone = EMULATORS["aastra"](client, VICTIM_MAC, ip=VICTIM_IP)
    phone.boot()
    device = device_row(session)
    settings = settings_registry().values(session)
    made = hotdesking.login(session, settings, device, "1001", "4321", Address.EXTERNAL, ip=None)
    session.commit()
    assert isinstance(made, hotdesking.LoggedIn)
    for ip in (VICTIM_IP, ATTACKER_IP):
        response = attack(client, "aastra", VICTIM_MAC, f"{VICTIM_MAC.upper()}.cfg", ip=ip)
        assert response.status_code == 200 and SECRET.encode() not in response.data


def test_unproven_requests_do_not_move_the_address_of_a_device_with_its_own_credentials(client, session, extensions):
    phone = YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP)
    phone.boot()
    assert attack(client, "yealink", VICTIM_MAC, f"{VICTIM_MAC}.cfg").status_code == 200  # its guest file
    assert device_row(session).last_ip == VICTIM_IP


# Model and firmware as long as a User-Agent makes them


def test_long_model_and_firmware_are_cut_to_their_columns(session):
    device = hotdesking.record_device(
        session, brand="yealink", mac="001565000001", model="M" * 500, firmware="9" * 500, ip="10.0.0.1"
    )
    assert (len(device.model), len(device.firmware)) == (64, 64)
    again = hotdesking.record_device(
        session,
        brand="yealink",
        mac="001565000001",
        model=None,
        firmware="8" * 500,
        ip="10.0.0.1",
        proven=True,
    )
    session.expire_all()
    assert again.firmware == "8" * 64


def test_a_user_agent_with_a_long_model_and_firmware_is_served_on_every_database(client, session):
    agent = f"FileTransport PolycomVVX-{'V' * 300}-UA/{'1.' * 150}1 Type/Application"
    response = client.get("/provision/001565000002.cfg", headers={"User-Agent": agent}, auth=PROVISIONING)
    assert response.status_code in (200, 404)  # never a 500 (PostgreSQL refused 300 characters in VARCHAR(64))
    device = device_row(session, "001565000002")
    assert device is None or (len(device.model or "") <= 64 and len(device.firmware or "") <= 64)


# The alert: a device with its own credentials asked for with the shared ones


def test_a_fetch_with_the_shared_credentials_of_a_device_with_its_own_is_shown_and_logged_once(
    client, session, extensions, api, caplog
):
    phone = YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP)
    phone.boot()
    caplog.set_level(logging.WARNING, "hotdesk.provision")
    for _ in range(3):
        assert attack(client, "yealink", VICTIM_MAC, f"{VICTIM_MAC}.cfg").status_code == 200
    assert caplog.text.count("fetched with the shared ones") == 1
    shown = api.get(f"/devices/{VICTIM_MAC}").get_json()["shared_credentials_fetch"]
    assert shown["ip"] == ATTACKER_IP and shown["at"]


def test_a_mismatch_and_a_shared_credentials_fetch_are_shown_in_the_api_and_on_the_phones_page(
    client, session, extensions, api, cli
):
    YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP).boot()
    attack(client, "cisco_sip", VICTIM_MAC, f"SEP{VICTIM_MAC.upper()}.cnf.xml")
    attack(client, "yealink", VICTIM_MAC, f"{VICTIM_MAC}.cfg")
    device = api.get(f"/devices/{VICTIM_MAC}").get_json()
    assert device["brand"] == "yealink"
    assert "brand cisco_sip, not yealink" in device["mismatch"]["detail"]
    sign_in_console(client, session)
    page = html.fromstring(client.get("/admin/devices").data)
    [row] = page.xpath(f"//table[@id='devices']//tr[@data-mac='{VICTIM_MAC}']")
    shown = " ".join(row.text_content().split())
    assert "refused a request that claimed brand cisco_sip, not yealink" in shown
    assert "fetched with the shared credentials at" in shown and ATTACKER_IP in shown
    listed = cli("devices", "list").output
    assert "refused" in listed and "shared credentials" in listed


# H1: device admission


def admit_by_cli(cli, client, session):
    result = cli("devices", "admit", VICTIM_MAC)
    assert result.exit_code == 0, result.output
    assert VICTIM_IP in result.output


def admit_by_api(cli, client, session):
    token = accounts.create_token(session, "admitter", "test").secret
    session.commit()
    response = client.post(f"/api/v1/devices/{VICTIM_MAC}/admit", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.data
    assert response.get_json()["admitted"] is True
    assert response.get_json()["admitted_address"] == VICTIM_IP


def sign_in_console(client, session):
    accounts.add_admin(session, "ann", "correct horse battery", "test")
    session.commit()
    page = html.fromstring(client.get("/admin/sign-in").data)
    token = page.xpath("//input[@name='csrf_token']/@value")[0]
    signed_in = client.post(
        "/admin/sign-in", data={"name": "ann", "password": "correct horse battery", "csrf_token": token}
    )
    assert signed_in.status_code == 302


def admit_by_console(cli, client, session):
    sign_in_console(client, session)
    page = html.fromstring(client.get("/admin/devices").data)
    [row] = page.xpath(f"//table[@id='waiting-devices']//tr[@data-mac='{VICTIM_MAC}']")
    assert VICTIM_IP in row.text_content()
    form = row.xpath(".//form")[0]
    data = {i.get("name"): i.get("value") for i in form.xpath(".//input")}
    assert client.post(form.get("action"), data=data).status_code == 302


@pytest.mark.parametrize("admit", [admit_by_cli, admit_by_api, admit_by_console])
def test_approve_a_new_phone_waits_until_an_admin_admits_it(client, session, extensions, cli, admit):
    set_setting(session, "device_admission", "approve")
    phone = YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP)
    phone.boot()
    assert phone.credentials == PROVISIONING  # a guest file, no credentials of its own
    assert {"External", "Internal"} <= set(phone.keys())
    device = device_row(session)
    assert not device.admitted and device.provisioning_username is None

    listed = cli("devices", "list", "--waiting")
    assert VICTIM_MAC in listed.output and "waiting" in listed.output

    answer = phone.submit(phone.press("External"), extension="1001", password="4321")
    assert "not admitted" in phone.text(answer)
    assert session.scalar(select(Mapping)) is None
    assert session.scalar(select(Event).where(Event.kind == EventKind.LOGIN_FAILED.value)) is None

    admit(cli, client, session)
    assert session.scalar(
        select(Event).where(Event.kind == EventKind.ADMIN.value, Event.detail.contains(f"{VICTIM_MAC} admitted"))
    )

    # Someone else asking for it now is not handed its credentials: they go to the admitted address only.
    stolen = attack(client, "yealink", VICTIM_MAC, f"{VICTIM_MAC}.cfg")
    assert stolen.status_code == 200 and b"static.auto_provision.server.password" not in stolen.data
    assert device_row(session).provisioning_username is None

    phone.boot()
    assert phone.credentials != PROVISIONING
    answer = phone.submit(phone.press("External"), extension="1001", password="4321")
    assert "Alice Martin" in phone.text(answer)
    phone.boot()
    assert phone.line()["secret"] == SECRET
    assert VICTIM_MAC not in cli("devices", "list", "--waiting").output


def test_approve_admit_all_waiting_and_the_waiting_list_in_the_api(client, session, api):
    set_setting(session, "device_admission", "approve")
    macs = ["001565000011", "001565000012"]
    for mac in macs:
        YealinkPhone(client, mac, ip="10.20.0.40").boot()
    waiting = api.get("/devices?waiting=true").get_json()["items"]
    assert [d["mac"] for d in waiting] == macs and not any(d["admitted"] for d in waiting)
    admitted = api.post("/devices/admit-waiting").get_json()["items"]
    assert [d["admitted_address"] for d in admitted] == ["10.20.0.40"] * 2
    assert api.get("/devices?waiting=true").get_json()["items"] == []
    again = api.post(f"/devices/{macs[0]}/admit", json={"address": "not-an-ip"})
    assert again.status_code == 422 and "address" in again.get_json()["error"]


def test_approve_reset_credentials_sends_the_new_ones_only_to_the_phones_address(client, session, extensions, cli):
    phone = YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP)
    phone.boot()
    set_setting(session, "device_admission", "approve")
    assert cli("devices", "reset-credentials", VICTIM_MAC).exit_code == 0
    stolen = attack(client, "yealink", VICTIM_MAC, f"{VICTIM_MAC}.cfg")
    assert b"static.auto_provision.server.password" not in stolen.data
    phone.credentials = PROVISIONING
    phone.boot()
    assert phone.credentials != PROVISIONING


def test_known_serves_only_macs_an_admin_added(client, session, extensions, cli, caplog, tmp_path):
    set_setting(session, "device_admission", "known")
    caplog.set_level(logging.WARNING, "hotdesk.provision")
    stranger = YealinkPhone(client, "001565000021", ip=VICTIM_IP)
    assert stranger.fetch("001565000021.cfg").status_code == 404
    assert session.scalar(select(Device)) is None
    assert "hotdesk provisioning refused: reason=unknown_device mac=001565000021" in caplog.text

    assert cli("devices", "add", "00:15:65:00:00:21", "--address", VICTIM_IP).exit_code == 0
    stranger.boot()
    assert stranger.credentials != PROVISIONING
    assert stranger.login("1001", "4321") is not None
    stranger.boot()
    assert stranger.line()["secret"] == SECRET
    assert device_row(session, "001565000021").brand == "yealink"

    bad = tmp_path / "bad.csv"
    bad.write_text("mac,address\n001565000031,10.0.0.1\n00156500003x,10.0.0.2\n")
    result = cli("devices", "import", str(bad))
    assert result.exit_code != 0 and "line 3, mac" in result.output
    assert device_row(session, "001565000031") is None  # all or nothing
    bad.write_text("001565000031,10.0.0.999\n")
    assert "line 1, address" in cli("devices", "import", str(bad)).output
    good = tmp_path / "good.csv"
    good.write_text("mac,address\n001565000031,10.0.0.1\n00-15-65-00-00-32,\n")
    result = cli("devices", "import", str(good))
    assert result.exit_code == 0 and "2 phone(s)" in result.output
    assert device_row(session, "001565000031").admitted_address == "10.0.0.1"
    assert device_row(session, "001565000032").admitted_address is None

    # An added MAC asked for from another address than the admin named: it cannot say what the phone is.
    other = EMULATORS["aastra"](client, "001565000031", ip=ATTACKER_IP)
    assert other.fetch("001565000031".upper() + ".cfg").status_code == 404
    assert device_row(session, "001565000031").brand == ""
    # Without an address, the first fetch is the phone's.
    first = YealinkPhone(client, "001565000032", ip=ATTACKER_IP)
    first.boot()
    assert first.credentials != PROVISIONING


def test_known_add_in_the_api(api):
    created = api.post("/devices", json={"mac": "00:15:65:00:00:41"})
    assert created.status_code == 201 and created.get_json()["admitted"] is True
    assert api.post("/devices", json={"mac": "001565000041"}).status_code == 409
    assert api.post("/devices", json={"mac": "nope"}).status_code == 422


# M3: new devices per address


def test_new_devices_are_limited_per_address(client, session, caplog):
    set_setting(session, "new_devices_per_minute", "3")
    caplog.set_level(logging.WARNING, "hotdesk.provision")
    for n in range(3):
        YealinkPhone(client, f"00156500010{n}", ip=ATTACKER_IP).boot()
    over = YealinkPhone(client, "001565000109", ip=ATTACKER_IP).fetch("001565000109.cfg")
    assert over.status_code == 429 and over.content_type == "text/plain; charset=utf-8"
    assert over.headers.getlist("Content-Type") == ["text/plain; charset=utf-8"]
    assert device_row(session, "001565000109") is None
    assert f"reason=too_many_new_devices mac=001565000109 brand=yealink ip={ATTACKER_IP}" in caplog.text
    YealinkPhone(client, "001565000108", ip=VICTIM_IP).boot()  # another address is not held up
    known = YealinkPhone(client, "001565000100", ip=ATTACKER_IP).fetch("001565000100.cfg")
    assert known.status_code == 200  # a phone hotdesk knows is not new


# The default, and the upgrade of an installation that has phones


def test_a_new_installation_approves_and_an_upgraded_one_stays_open(tmp_path):
    from alembic import command
    from sqlalchemy import text

    fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    schema.upgrade(fresh)
    with make_session_factory(fresh)() as session:
        schema.initialise(session, settings_registry(), stock_templates())
        session.commit()
        assert settings_registry().get(session, "device_admission") == "approve"

    old = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = schema.alembic_config(old)
    command.upgrade(config, "0004")
    with old.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO devices (mac, brand, created_at) VALUES ('001565000201', 'yealink', '2026-01-01 00:00:00')"
            )
        )
    command.upgrade(config, "head")
    with make_session_factory(old)() as session:
        schema.initialise(session, settings_registry(), stock_templates())
        session.commit()
        assert settings_registry().get(session, "device_admission") == "open"
        assert session.scalar(select(Device)).admitted


def test_approve_a_phone_that_cannot_hold_credentials_logs_in_once_admitted(client, session, extensions, cli):
    set_setting(session, "device_admission", "approve")
    phone = EMULATORS["aastra"](client, VICTIM_MAC, ip=VICTIM_IP)
    answer = phone.login("1001", "4321")
    assert "not admitted" in phone.text(answer)
    assert cli("devices", "admit", VICTIM_MAC.upper()).exit_code == 0
    answer = phone.login("1001", "4321")
    assert "Alice Martin" in phone.text(answer)
    phone.boot()
    assert phone.line()["secret"] == SECRET
    elsewhere = attack(client, "aastra", VICTIM_MAC, f"{VICTIM_MAC.upper()}.cfg")
    assert elsewhere.status_code == 200 and SECRET.encode() not in elsewhere.data


def test_admit_commands_say_what_is_wrong_in_one_line(client, session, cli):
    set_setting(session, "device_admission", "approve")
    assert cli("devices", "admit").exit_code == 2
    assert cli("devices", "admit", VICTIM_MAC, "--all-waiting").exit_code == 2
    unknown = cli("devices", "admit", VICTIM_MAC)
    assert unknown.exit_code == 1 and unknown.output.count("\n") == 1 and "no phone" in unknown.output
    YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP).boot()
    bad = cli("devices", "admit", VICTIM_MAC, "--address", "10.0.0.300")
    assert bad.exit_code == 1 and "not an IP address" in bad.output
    assert "1 phone(s) admitted" in cli("devices", "admit", "--all-waiting").output
    assert cli("devices", "add", VICTIM_MAC).exit_code == 1  # known already
    assert session.scalar(select(Event).where(Event.detail.contains("admitted"), Event.actor == "cli"))


def test_a_phone_whose_first_fetch_races_another_gets_its_file(client, session, monkeypatch):
    """Two first fetches of one new MAC (a phone retrying, or someone racing it): the one that loses
    the insert is answered as for a known device, never a 500."""
    made_first = hotdesking.new_device

    def other_request_wins(session_, **kwargs):
        made_first(session, **kwargs)  # the other request's row, committed first
        session.commit()
        return made_first(session_, **kwargs)

    monkeypatch.setattr(hotdesking, "new_device", other_request_wins)
    phone = YealinkPhone(client, "001565c0ffee")
    response = phone.fetch(f"{phone.mac}.cfg")
    assert response.status_code == 200 and b"/login/external" in response.data  # its guest file
    assert device_row(session, "001565c0ffee").brand == "yealink"


def test_approve_a_phone_asked_for_from_several_addresses_is_admitted_only_where_an_admin_says(
    client, session, extensions, cli, api
):
    """A neighbour fetches the new MAC first and last: neither the first nor the last address may
    decide where its credentials go once it is admitted."""
    set_setting(session, "device_admission", "approve")
    attack(client, "yealink", VICTIM_MAC, f"{VICTIM_MAC}.cfg")
    phone = YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP)
    phone.boot()
    attack(client, "yealink", VICTIM_MAC, f"{VICTIM_MAC}.cfg")

    refused = cli("devices", "admit", VICTIM_MAC)
    assert refused.exit_code != 0 and len(refused.output.strip().splitlines()) == 1
    assert ATTACKER_IP in refused.output and VICTIM_IP in refused.output
    assert api.post(f"/devices/{VICTIM_MAC}/admit").status_code == 422
    assert cli("devices", "admit", "--all-waiting").output.strip().endswith("0 phone(s) admitted")
    session.expire_all()
    assert not device_row(session).admitted
    assert api.get(f"/devices/{VICTIM_MAC}").get_json()["waiting_addresses"] == [ATTACKER_IP, VICTIM_IP]

    sign_in_console(client, session)
    page = html.fromstring(client.get("/admin/devices").data)
    [row] = page.xpath(f"//table[@id='waiting-devices']//tr[@data-mac='{VICTIM_MAC}']")
    assert row.xpath(".//select[@name='address']/option/text()") == ["choose", ATTACKER_IP, VICTIM_IP]

    admitted = cli("devices", "admit", VICTIM_MAC, "--address", VICTIM_IP)
    assert admitted.exit_code == 0, admitted.output
    stolen = attack(client, "yealink", VICTIM_MAC, f"{VICTIM_MAC}.cfg")
    assert b"static.auto_provision.server.password" not in stolen.data
    phone.boot()
    assert phone.credentials != PROVISIONING


def test_an_import_admits_a_phone_asked_for_from_several_addresses_only_at_the_address_it_names(
    client, session, extensions, cli, api, tmp_path
):
    """A CSV listing a contested waiting MAC without an address would hand its credentials to
    whoever fetched it last: refused like `devices admit` without --address, on every face."""
    set_setting(session, "device_admission", "approve")
    attack(client, "yealink", VICTIM_MAC, f"{VICTIM_MAC}.cfg")
    phone = YealinkPhone(client, VICTIM_MAC, ip=VICTIM_IP)
    phone.boot()
    attack(client, "yealink", VICTIM_MAC, f"{VICTIM_MAC}.cfg")

    macs = tmp_path / "macs.csv"
    macs.write_text(f"mac,address\n001565000061,\n{VICTIM_MAC},\n")
    refused = cli("devices", "import", str(macs))
    assert refused.exit_code != 0 and len(refused.output.strip().splitlines()) == 1
    assert "line 3, address" in refused.output and ATTACKER_IP in refused.output
    answer = api.post("/devices/import", data=macs.read_text(), content_type="text/csv")
    assert answer.status_code == 422 and "line 3, address" in answer.get_json()["error"]
    session.expire_all()
    assert not device_row(session).admitted and device_row(session, "001565000061") is None

    added = cli("devices", "add", VICTIM_MAC)  # adding a MAC that waits admits it: the same rule
    assert added.exit_code != 0 and "give the address of the real phone" in added.output
    assert api.post("/devices", json={"mac": VICTIM_MAC}).status_code == 422
    session.expire_all()
    assert not device_row(session).admitted

    macs.write_text(f"mac,address\n001565000061,\n{VICTIM_MAC},{VICTIM_IP}\n")
    assert cli("devices", "import", str(macs)).exit_code == 0
    stolen = attack(client, "yealink", VICTIM_MAC, f"{VICTIM_MAC}.cfg")
    assert b"static.auto_provision.server.password" not in stolen.data
    phone.boot()
    assert phone.credentials != PROVISIONING
