"""/provision/: credentials, recognition, file names, and which template a phone gets."""

import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from hotdesk import directory, settings_registry, templates
from hotdesk.models import Device, Extension, Mapping, Template
from hotdesk.settings import SettingError
from tests.brands import EMULATORS
from tests.conftest import PROVISIONING
from tests.phones import YealinkPhone, parse_cfg

MAC = "001565aabb01"
UA = "Yealink SIP-T46G 28.72.0.25 00:15:65:aa:bb:01"


def test_no_credentials_gets_401_with_both_challenges_and_no_content(client):
    response = client.get(f"/provision/{MAC}.cfg", headers={"User-Agent": UA})
    assert response.status_code == 401
    schemes = [value.split()[0] for value in response.headers.getlist("WWW-Authenticate")]
    assert schemes == ["Digest", "Basic"]
    assert b"account" not in response.data and b"External" not in response.data


@pytest.mark.parametrize("credentials", [("phones", "wrong"), ("other", PROVISIONING[1]), ("", "")])
def test_wrong_credentials_get_401(client, credentials):
    response = client.get(f"/provision/{MAC}.cfg", headers={"User-Agent": UA}, auth=credentials)
    assert response.status_code == 401


def test_failed_credentials_are_not_recorded_as_devices(client, session):
    client.get(f"/provision/{MAC}.cfg", headers={"User-Agent": UA}, auth=("phones", "wrong"))
    assert session.scalar(select(Device)) is None


@pytest.fixture
def live_url(live_server):
    return live_server.url()


def _opener(scheme: str, url: str, user: str, password: str):
    manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    manager.add_password(None, url, user, password)
    handler = (
        urllib.request.HTTPDigestAuthHandler(manager)
        if scheme == "digest"
        else urllib.request.HTTPBasicAuthHandler(manager)
    )
    return urllib.request.build_opener(handler)


@pytest.mark.parametrize("scheme", ["digest", "basic"])
def test_real_http_client_authenticates_with_digest_and_basic(live_url, scheme):
    opener = _opener(scheme, live_url, *PROVISIONING)
    request = urllib.request.Request(f"{live_url}/provision/{MAC}.cfg", headers={"User-Agent": UA})
    with opener.open(request, timeout=10) as response:
        body = response.read()
    assert parse_cfg(body)["account.1.enable"] == "0"


def test_digest_with_a_wrong_password_is_refused(live_url):
    opener = _opener("digest", live_url, PROVISIONING[0], "not-the-password")
    request = urllib.request.Request(f"{live_url}/provision/{MAC}.cfg", headers={"User-Agent": UA})
    with pytest.raises(urllib.error.HTTPError) as error:
        opener.open(request, timeout=10)
    assert error.value.code == 401


def test_common_file_is_served_for_every_yealink_family(client):
    for name in ("y000000000028.cfg", "y000000000066.cfg", "y000000000124.cfg"):
        response = client.get(f"/provision/{name}", headers={"User-Agent": UA}, auth=PROVISIONING)
        assert response.status_code == 200
        assert parse_cfg(response.data)["sip.notify_reboot_enable"] == "0"


@pytest.mark.parametrize(
    "user_agent",
    [
        "Yealink SIP-T46G 28.72.0.25 00:15:65:aa:bb:01",
        "yealink SIP-T28P 2.70.0.140 00:15:65:aa:bb:01",
        "Yealink SIP VP-T49G 51.80.0.10 00:15:65:aa:bb:01",
        "Yealink SIP-T38G  38.70.0.125 00:15:65:aa:bb:01",
        "Yealink CP860 37.72.0.5 00:15:65:aa:bb:01",
        "Yealink T58 58.80.0.5 00:15:65:aa:bb:01",
        "Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0",
        "VP530P 23.70.0.40 00:15:65:aa:bb:01",
    ],
)
def test_real_yealink_user_agents_are_recognised(client, session, user_agent):
    response = client.get(f"/provision/{MAC}.cfg", headers={"User-Agent": user_agent}, auth=PROVISIONING)
    assert response.status_code == 200
    assert session.scalar(select(Device.brand)) == "yealink"


@pytest.mark.parametrize(
    "user_agent, filename",
    [
        ("curl/8.5.0", f"{MAC}.cfg"),
        ("", f"{MAC}.cfg"),
        ("Aastra6739i MAC:00-08-5D-13-CA-05 V:3.2.1.1013-SIP", f"{MAC}.cfg"),
        (UA, f"{MAC}-local.cfg"),
        (UA, "../../etc/passwd"),
        (UA, f"{MAC.upper()}.cfg"),
        (UA, ""),
    ],
)
def test_unrecognised_requests_get_404_and_no_file(client, session, user_agent, filename):
    response = client.get(f"/provision/{filename}", headers={"User-Agent": user_agent}, auth=PROVISIONING)
    assert response.status_code == 404
    assert session.scalar(select(Device)) is None


def test_a_phone_cannot_fetch_another_phones_file(client, session, extensions):
    owner = YealinkPhone(client, MAC)
    owner.login("1001", "4321")
    intruder = YealinkPhone(client, "001565000002")

    response = intruder.fetch(f"{MAC}.cfg")

    assert response.status_code == 404
    assert b"alice-SIP-secret" not in response.data


def _pin(session, number, template):
    extension = session.scalar(select(Extension).where(Extension.number == number))
    directory.pin_template(session, extension, template)
    session.commit()


def _add_template(session, name, marker):
    default = session.scalar(select(Template).where(Template.brand == "yealink", Template.is_default))
    template = Template(brand="yealink", name=name, body=default.body + f"## marker {marker}\n")
    session.add(template)
    session.commit()
    return template


def _marker(phone):
    """Which template the phone's file came from: the marker line the test templates end with."""
    body = phone.fetch(f"{phone.mac}.cfg").data.decode()
    return body.rsplit("## marker ", 1)[1].strip() if "## marker" in body else "default"


def test_template_choice_mapping_then_pin_then_brand_default(client, session, extensions):
    reception = _add_template(session, "reception", "reception")
    sales = _add_template(session, "sales", "sales")
    phone = YealinkPhone(client, MAC)

    phone.boot()
    assert _marker(phone) == "default"  # guest: the brand default

    phone.login("1001", "4321")
    assert _marker(phone) == "default"  # no pin, no mapping template

    _pin(session, "1001", sales)
    assert _marker(phone) == "sales"  # the extension's pin

    mapping = session.scalar(select(Mapping))
    mapping.template = reception
    session.commit()
    assert _marker(phone) == "reception"  # the mapping's own template wins

    templates.set_default(session, "yealink", "reception")
    session.commit()
    phone.boot()
    phone.choose(phone.press("Logout"), "Logout")
    assert _marker(phone) == "reception"  # guest again: the new brand default


def test_user_config_holds_only_its_own_users_secret(client, session, extensions):
    phone = YealinkPhone(client, MAC)
    phone.login("1001", "4321")
    body = phone.fetch(f"{MAC}.cfg").data.decode()
    assert "alice-SIP-secret-9f3" in body
    assert "bob-SIP-secret-77a" not in body and "4321" not in body


def test_config_urls_follow_the_host_the_phone_used(client, extensions):
    phone = YealinkPhone(client, MAC)
    response = phone.client.get(
        f"/provision/{MAC}.cfg",
        headers={"User-Agent": phone.user_agent, "Host": "prov.example.net:8443"},
        auth=PROVISIONING,
    )
    urls = [v for k, v in parse_cfg(response.data).items() if k.endswith(".value")]
    assert urls and all(url.startswith("http://prov.example.net:8443/phone/") for url in urls)


def test_phone_base_url_is_where_every_file_and_screen_sends_the_phone(client, extensions, session):
    # Cisco enterprise phones fetch from port 6970: what they are handed must not point there.
    settings_registry().set(session, "phone_base_url", "https://hotdesk.example.com/")
    session.commit()
    phone = YealinkPhone(client, MAC)
    phone.boot()
    response = client.get(
        f"/provision/{MAC}.cfg",
        headers={"User-Agent": phone.user_agent, "Host": "pbx.example.com:6970"},
        auth=phone.credentials,
    )
    urls = [v for k, v in parse_cfg(response.data).items() if k.endswith(".value")]
    assert urls and all(url.startswith("https://hotdesk.example.com/phone/") for url in urls)

    form = phone.press("External")  # what the phone's browser gets: its answer goes to the same place
    assert phone.submit_url(form, {"extension": "1001", "password": "4321"}).startswith(
        "https://hotdesk.example.com/phone/"
    )
    spa = EMULATORS["cisco_spa"](client, "0004f2a1b2c3")
    spa.boot()
    assert spa.config["Profile_Rule_B"].endswith("]https://hotdesk.example.com/provision/$MA.xml")


@pytest.mark.parametrize(
    "value",
    [
        "ftp://hotdesk.example.com",
        "https://",
        "https://h.example.com/path",
        "https://h.example.com:99999",
        "https://h.example.com?x=1",
        "hotdesk.example.com",
        "https://user@h.example.com",
    ],
)
def test_a_phone_base_url_that_is_not_one_is_refused(session, value):
    with pytest.raises(SettingError, match="is not an address"):
        settings_registry().set(session, "phone_base_url", value)


def test_proxy_headers_are_ignored_unless_trusted(client, extensions):
    response = client.get(
        f"/provision/{MAC}.cfg",
        headers={"User-Agent": UA, "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
        auth=PROVISIONING,
    )
    assert b"evil.example" not in response.data and b"https://" not in response.data


def test_trusted_proxy_headers_set_scheme_host_and_phone_address(database_url, engine, notifier, tmp_path):
    from hotdesk import create_app
    from hotdesk.config import Config

    app = create_app(Config(database_url, "k", 1, tmp_path), notifier=notifier)
    client = app.test_client()
    response = client.get(
        f"/provision/{MAC}.cfg",
        headers={
            "User-Agent": UA,
            "X-Forwarded-For": "192.0.2.7",
            "X-Forwarded-Host": "hd.example.com",
            "X-Forwarded-Proto": "https",
        },
        auth=PROVISIONING,
    )
    assert "https://hd.example.com/phone/" in response.data.decode()
    from hotdesk.db import make_session_factory

    with make_session_factory(engine)() as session:
        assert session.scalar(select(Device.last_ip)) == "192.0.2.7"
