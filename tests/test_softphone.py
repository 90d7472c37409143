"""A person's softphone app signs in with the QR code an admin (or the person) shows: the URL in
it works once, for a while, for an app; a browser sees the manual settings without using it up
and without any secret; a refresh kills the old one at once. The app that used it holds its own
configuration URL, which gives it the account as it is now, until it is revoked."""

from datetime import timedelta

import pytest
import zxingcpp
from lxml import etree
from PIL import Image
from sqlalchemy import select, update

from hotdesk.models import AppDevice, Event, EventKind, SignInLink, utcnow
from hotdesk.softphone.links import LINK_PATH

SECRET = "Str0ng-Secret-1001"
NS = {"lp": "http://www.linphone.org/xsds/lpconfig.xsd"}
LINPHONE = {"User-Agent": "Linphone-Desktop/5.1.65 (Debian) LinphoneSDK/5.1.65", "Accept": "*/*"}
BROWSER = {"User-Agent": "Mozilla/5.0", "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def alice(run):
    run("extensions", "add", "1001", "--name", "Alice Martin", "--secret", SECRET, "--username", "alice")
    run("settings", "set", "external_address", "pbx.example.com")
    run("settings", "set", "phone_base_url", "https://hotdesk.example.com")
    return "alice"


def path_of(url: str) -> str:
    assert url.startswith("https://hotdesk.example.com" + LINK_PATH), url
    return url.removeprefix("https://hotdesk.example.com")


def entries(xml: bytes) -> dict[str, dict[str, str]]:
    root = etree.fromstring(xml)
    assert root.tag == "{http://www.linphone.org/xsds/lpconfig.xsd}config"
    return {
        section.get("name"): {entry.get("name"): entry.text or "" for entry in section.findall("lp:entry", NS)}
        for section in root.findall("lp:section", NS)
    }


def test_a_qr_url_gives_linphone_the_account_once(run, alice, app, session):
    url = run("users", "qr", "alice").strip()
    assert run("users", "qr", "alice").strip() == url  # shown again, the same until used
    client = app.test_client()

    answer = client.get(path_of(url), headers=LINPHONE)
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    config = entries(answer.data)
    assert config["proxy_0"]["reg_identity"] == '"Alice Martin" <sip:1001@pbx.example.com>'
    assert config["proxy_0"]["reg_proxy"] == "<sip:pbx.example.com:5060;transport=udp>"
    assert config["auth_info_0"]["username"] == "1001" and config["auth_info_0"]["passwd"] == SECRET
    assert config["auth_info_0"]["ha1"] == ""  # else the digest the app kept of an older secret wins
    assert all(entry.get("overwrite") == "true" for entry in etree.fromstring(answer.data).iter("{*}entry"))
    config_uri = config["misc"]["config-uri"]
    assert config_uri.startswith("https://hotdesk.example.com/app/config/")

    assert client.get(path_of(url), headers=LINPHONE).status_code == 404  # used up
    assert client.get(path_of(url), headers=BROWSER).status_code == 404

    # The app's own URL gives the account again at its next start, as it is then.
    run("extensions", "set", "1001", "--secret", "N3w-Secret-1001")
    again = entries(client.get(config_uri.removeprefix("https://hotdesk.example.com"), headers=LINPHONE).data)
    assert again["auth_info_0"]["passwd"] == "N3w-Secret-1001"
    assert again["misc"]["config-uri"] == config_uri

    [signin] = session.scalars(select(Event).where(Event.kind == EventKind.APP_SIGNIN.value))
    assert signin.extension == "1001" and "Linphone-Desktop/5.1.65" in signin.detail
    assert SECRET not in signin.detail and url.rsplit("/", 1)[1] not in (signin.detail or "")


def test_a_browser_sees_the_settings_without_a_secret_and_leaves_the_code_unused(run, alice, app):
    url = run("users", "qr", "alice").strip()
    client = app.test_client()
    page = client.get(path_of(url), headers=BROWSER)
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert SECRET not in text
    assert f'href="linphone-config:{url}"' in text and "pbx.example.com" in text and "alice" in text
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get(path_of(url), headers=LINPHONE).status_code == 200  # still usable by the app


def test_json_for_app_integrators(run, alice, app):
    url = run("users", "qr", "alice").strip()
    answer = app.test_client().get(path_of(url), headers={"Accept": "application/json"})
    account = answer.get_json()["account"]
    assert {
        k: account[k] for k in ("sip_domain", "username", "auth_name", "password", "server", "port", "transport")
    } == {
        "sip_domain": "pbx.example.com",
        "username": "1001",
        "auth_name": "1001",
        "password": SECRET,
        "server": "pbx.example.com",
        "port": 5060,
        "transport": "udp",
    }
    assert account["provisioning_url"].startswith("https://hotdesk.example.com/app/config/")
    assert account["login"] == "alice" and account["outbound_proxy"] == ""


def test_a_refresh_kills_the_old_code_at_once(run, alice, app, session):
    old = run("users", "qr", "alice").strip()
    new = run("users", "qr", "alice", "--refresh").strip()
    assert new != old
    client = app.test_client()
    assert client.get(path_of(old), headers=LINPHONE).status_code == 404
    assert client.get(path_of(new), headers=LINPHONE).status_code == 200
    assert session.scalar(select(Event.actor).where(Event.kind == EventKind.QR_REFRESHED.value)) == "cli"


def test_an_expired_or_forged_code_gets_nothing(run, alice, app, session):
    url = run("users", "qr", "alice").strip()
    client = app.test_client()
    _, _, mac = url.rsplit("/", 1)[1].partition(".")
    forged = url[: -len(mac)] + ("A" if mac[0] != "A" else "B") + mac[1:]
    assert client.get(path_of(forged), headers=LINPHONE).status_code == 404
    assert client.get(LINK_PATH + "999999.abc", headers=LINPHONE).status_code == 404
    assert client.get(LINK_PATH + "x" * 500, headers=LINPHONE).status_code == 404
    session.execute(update(SignInLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert client.get(path_of(url), headers=LINPHONE).status_code == 404
    assert session.scalar(select(AppDevice.id)) is None


def test_the_qr_image_holds_the_url_and_nothing_else(run, alice, tmp_path):
    url = run("users", "qr", "alice", "--png", tmp_path / "qr.png", "--svg", tmp_path / "qr.svg").strip()
    [code] = zxingcpp.read_barcodes(Image.open(tmp_path / "qr.png"))
    assert code.text == url
    assert (tmp_path / "qr.svg").read_bytes().startswith(b"<?xml") and SECRET.encode() not in (
        tmp_path / "qr.svg"
    ).read_bytes()


def test_a_revoked_app_is_told_to_stop(run, alice, app, session):
    from hotdesk.admin import apps
    from hotdesk.admin.users import by_login

    url = run("users", "qr", "alice").strip()
    client = app.test_client()
    config_uri = entries(client.get(path_of(url), headers=LINPHONE).data)["misc"]["config-uri"]
    device = session.scalar(select(AppDevice))
    apps.revoke_app(session, by_login(session, "alice"), device.id, "admin")
    session.commit()
    stop = entries(client.get(config_uri.removeprefix("https://hotdesk.example.com"), headers=LINPHONE).data)
    assert stop["proxy_0"]["reg_sendregister"] == "0" and stop["auth_info_0"]["passwd"] == ""
    assert SECRET not in str(stop)


def test_no_server_address_no_qr(run, app):
    run("extensions", "add", "1001", "--name", "Alice Martin", "--secret", SECRET, "--username", "alice")
    run("settings", "set", "phone_base_url", "https://hotdesk.example.com")
    run("settings", "set", "external_address", "")
    output = run("users", "qr", "alice", code=1)
    assert output.strip() == "Error: external_address is not set: the app would have no server to register to"
    run("settings", "set", "external_address", "pbx.example.com")
    run("settings", "set", "phone_base_url", "")
    output = run("users", "qr", "alice", code=1)
    assert "phone_base_url is not set" in output


def test_transport_ports_outbound_proxy_and_a_tenant_domain(run, app, session):
    run("tenants", "add", "acme", "--sip-domain", "acme.example.com")
    run("extensions", "add", "1001", "--name", "Ann", "--secret", SECRET, "--username", "ann", "--tenant", "acme")
    for name, value in [
        ("external_address", "sbc.example.net:5080"),
        ("phone_base_url", "https://hotdesk.example.com"),
        ("qr_transport", "tcp"),
        ("qr_outbound_proxy", "sbc.example.net:5063"),
        ("sip_realm", "asterisk"),
    ]:
        run("settings", "set", name, value, "--tenant", "acme")
    url = run("users", "qr", "ann@acme.example.com").strip()
    config = entries(app.test_client().get(path_of(url), headers=LINPHONE).data)
    assert config["proxy_0"]["reg_identity"] == '"Ann" <sip:1001@acme.example.com>'
    assert config["proxy_0"]["reg_proxy"] == "<sip:sbc.example.net:5063;transport=tcp>"  # the TCP port, not :5080
    assert config["proxy_0"]["reg_route"] == "<sip:sbc.example.net:5063;transport=tcp;lr>"
    assert config["auth_info_0"]["realm"] == "asterisk" and config["auth_info_0"]["domain"] == "acme.example.com"
