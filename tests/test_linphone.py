"""A real Linphone (linphonec) signs in with a user's QR code from a real hotdesk server (gunicorn)
and registers to a real registrar (kamailio) that checks the extension's SIP secret; the same code
a second time gives nothing, a refreshed code kills the old one, and the app's own configuration
URL brings it a changed secret, or, once the app is revoked, stops it registering.
"""

from __future__ import annotations

import urllib.request

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from hotdesk.cli import main
from tests.live_servers import Gunicorn
from tests.softphone_real import TLS_HOST, Kamailio

pytestmark = pytest.mark.slow

SECRET = "Str0ng-Secret-1001"
NEW_SECRET = "N3w-Secret-1001-b"
IDENTITY = "sip:1001@127.0.0.1"  # the default tenant has no SIP domain: the server's host is the domain
SERVER_ENV = {"HOTDESK_SECRET_KEY": "linphone-test-key"}


@pytest.fixture
def registrar(tmp_path):
    registrar = Kamailio(tmp_path / "kamailio", {"1001": SECRET})
    yield registrar
    registrar.stop()


@pytest.fixture
def server(engine, database_url, tmp_path):
    env = SERVER_ENV | {"HOTDESK_DATABASE_URL": database_url, "HOTDESK_INSTANCE_PATH": str(tmp_path / "instance")}
    server = Gunicorn("wsgi:app", tmp_path / "gunicorn.log", env, workers=1)
    yield server
    server.stop()


@pytest.fixture
def cli(server, database_url, tmp_path, monkeypatch):
    """The hotdesk CLI against the server's database and key; `cli(...)` is its output."""
    for name, value in (SERVER_ENV | {"HOTDESK_DATABASE_URL": database_url}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "cli-instance"))

    def cli(*args: object) -> str:
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output.strip()

    return cli


@pytest.fixture
def alice(cli, registrar, server):
    """Extension 1001 for the user alice; apps reach hotdesk at the server, and register to kamailio."""
    cli("extensions", "add", "1001", "--name", "Alice Martin", "--secret", SECRET, "--username", "alice")
    cli("settings", "set", "external_address", f"127.0.0.1:{registrar.port}")
    cli("settings", "set", "sip_port_tcp", registrar.port)
    cli("settings", "set", "phone_base_url", server.url)
    return "alice"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_linphone_scans_the_qr_code_and_registers_as_the_extension(
    cli, alice, registrar, server, linphones, transport, tmp_path
):
    cli("settings", "set", "qr_transport", transport)
    printed = cli("users", "qr", alice, "--png", tmp_path / "qr.png")
    [code] = zxingcpp.read_barcodes(Image.open(tmp_path / "qr.png"))
    assert code.text == printed
    # Someone opens it in a browser first (a mail scanner, the user): the page, and the code still works.
    with urllib.request.urlopen(urllib.request.Request(code.text, headers={"Accept": "text/html"})) as page:
        assert page.headers.get_content_type() == "text/html" and SECRET.encode() not in page.read()

    app = linphones(code.text)

    assert app.registered_identity() == IDENTITY
    assert registrar.registered() == {"1001@127.0.0.1"}
    assert [(r.result, r.auth_name, r.transport) for r in registrar.registers()] == [("ok", "1001", transport)]
    # From now on the app fetches its own configuration URL, not the used-up QR code's.
    config_uri = app.stored("misc", "config-uri")
    assert config_uri and config_uri.startswith(f"{server.url}/app/config/") and config_uri != code.text
    assert "\tactive\t" in cli("users", "apps", alice)
    app.restart()
    assert app.registered_identity() == IDENTITY
    # Neither the secret nor a token the app used is in the server's log.
    for secret in (SECRET, code.text.rsplit("/", 1)[1], config_uri.rsplit("/", 1)[1]):
        assert secret not in server.log()


def test_the_same_qr_code_a_second_time_gives_nothing(cli, alice, registrar, linphones):
    url = cli("users", "qr", alice)
    assert linphones(url).registered_identity() == IDENTITY

    second = linphones(url)

    assert second.registered_identity() is None
    assert second.stored("proxy_0", "reg_identity") is None
    assert len(registrar.registers()) == 1
    assert len(cli("users", "apps", alice).splitlines()) == 1


def test_a_refreshed_qr_code_kills_the_old_one_and_the_new_one_works(cli, alice, registrar, linphones):
    old = cli("users", "qr", alice)
    new = cli("users", "qr", alice, "--refresh")
    assert new != old

    assert linphones(old).registered_identity() is None
    assert registrar.registers() == []
    assert linphones(new).registered_identity() == IDENTITY


def test_a_revoked_app_stops_registering_at_its_next_start_until_it_scans_a_new_code(cli, alice, registrar, linphones):
    app = linphones(cli("users", "qr", alice))
    assert app.registered_identity() == IDENTITY
    [listed] = cli("users", "apps", alice).splitlines()

    cli("users", "revoke-app", alice, listed.split("\t")[0])
    app.stop()
    registers_before = len(registrar.registers())
    app.start()

    assert app.registered_identity() is None
    app.stop()
    assert registrar.registers()[registers_before:] == []  # not once with the secret it had cached
    assert registrar.registered() == set()
    assert not app.stored("auth_info_0", "passwd") and not app.stored("auth_info_0", "ha1")
    assert app.stored("proxy_0", "reg_sendregister") == "0"

    app.restart(config_uri=cli("users", "qr", alice))  # the same phone scans a new code
    assert app.registered_identity() == IDENTITY


def test_an_app_of_a_deleted_extension_stops_registering_at_its_next_start(cli, alice, registrar, linphones):
    """Deleting the extension takes its user and apps with it; an app that then finds its
    configuration URL gone must still lose the account (the PBX may not have caught up)."""
    app = linphones(cli("users", "qr", alice))
    assert app.registered_identity() == IDENTITY

    cli("extensions", "delete", "1001")
    app.restart()

    assert app.registered_identity() is None
    app.stop()
    assert not app.stored("auth_info_0", "passwd") and not app.stored("auth_info_0", "ha1")


def test_a_changed_secret_reaches_the_app_at_its_next_start(cli, alice, registrar, linphones):
    app = linphones(cli("users", "qr", alice))
    assert app.registered_identity() == IDENTITY

    cli("extensions", "set", "1001", "--secret", NEW_SECRET)
    registrar.set_user("1001", NEW_SECRET)  # the PBX has the new secret too
    app.restart()

    assert app.registered_identity() == IDENTITY
    assert registrar.registers()[-1].result == "ok"


def test_a_changed_server_reaches_the_app_at_its_next_start(cli, alice, registrar, linphones, tmp_path):
    app = linphones(cli("users", "qr", alice))
    assert app.registered_identity() == IDENTITY
    moved = Kamailio(tmp_path / "moved", {"1001": SECRET})
    try:
        cli("settings", "set", "external_address", f"127.0.0.1:{moved.port}")
        app.restart()

        assert app.registered_identity() == IDENTITY
        assert [r.result for r in moved.registers()] == ["ok"]
    finally:
        app.stop()
        moved.stop()


def test_an_app_is_listed_by_its_own_name_once_it_fetches_its_configuration(cli, alice, registrar, linphones):
    """Linphone's first fetch names no app (User-Agent: Unknown); its next start does."""
    app = linphones(cli("users", "qr", alice))
    assert app.registered_identity() == IDENTITY

    app.restart()

    assert app.registered_identity() == IDENTITY
    assert cli("users", "apps", alice).rsplit("\t", 1)[1].startswith("Linphonec/")


def test_a_display_name_with_quotes_and_accents_still_registers(cli, alice, registrar, linphones):
    cli("extensions", "set", "1001", "--name", 'Al "The Boss" Martin-Ünïcode <&>')

    app = linphones(cli("users", "qr", alice))

    assert app.registered_identity() == IDENTITY


def test_the_outbound_proxy_carries_the_registration_to_a_server_not_reachable_by_name(
    cli, alice, registrar, linphones
):
    cli("settings", "set", "external_address", "pbx.example.test")  # a name no DNS answers
    cli("settings", "set", "qr_outbound_proxy", f"127.0.0.1:{registrar.port}")

    app = linphones(cli("users", "qr", alice))

    assert app.registered_identity() == "sip:1001@pbx.example.test"
    assert registrar.registered() == {"1001@pbx.example.test"}


@pytest.fixture
def tls_registrar(tmp_path):
    registrar = Kamailio(tmp_path / "tls-registrar", {"1001": SECRET}, tls=True)
    yield registrar
    registrar.stop()


def test_over_tls_the_app_registers_to_the_server_by_its_name(cli, alice, tls_registrar, linphones):
    """Linphone checks the server's certificate against the name in the QR code's account (an IP
    address never matches in Linphone 5.1): the tenant's server is a name the certificate bears."""
    cli("settings", "set", "external_address", TLS_HOST)
    cli("settings", "set", "qr_transport", "tls")
    cli("settings", "set", "sip_port_tls", tls_registrar.tls_port)

    app = linphones(cli("users", "qr", alice), trusted=tls_registrar.certificate)

    assert app.registered_identity() == f"sip:1001@{TLS_HOST}"
    assert [(r.result, r.transport) for r in tls_registrar.registers()] == [("ok", "tls")]
