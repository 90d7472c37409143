"""The real-app harness itself (tests/softphone_real.py), against fixed XML from a local HTTP
server: the Linphone app registers to the registrar with the right secret and not with a wrong
one, and the XML that tells an app to stop does stop it. Also what the softphone core relies on
about Linphone: later provisionings change the app only with overwrite="true", config-uri can be
handed over, and an error answer leaves the app registering with what it had.
"""

from __future__ import annotations

import pytest

from tests.softphone_real import (
    SIP_DOMAIN,
    STOP_SECTIONS,
    Kamailio,
    StaticProvisioning,
    account_sections,
    lpconfig,
)

pytestmark = pytest.mark.slow
ALICE = f"sip:alice@{SIP_DOMAIN}"


@pytest.fixture
def registrar(tmp_path):
    registrar = Kamailio(tmp_path / "kamailio", {"alice": "alice-secret-1"})
    yield registrar
    registrar.stop()


@pytest.fixture
def provisioning():
    server = StaticProvisioning()
    yield server
    server.close()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_the_app_registers_with_the_right_secret(registrar, provisioning, linphones, transport):
    url = provisioning.serve("/qr", lpconfig(account_sections(registrar, "alice", "alice-secret-1", transport)))

    app = linphones(url)

    assert app.registered_identity() == ALICE
    assert f"alice@{SIP_DOMAIN}" in registrar.registered()
    assert [(r.result, r.aor, r.transport) for r in registrar.registers()] == [("ok", ALICE, transport)]
    # What the server sees of the app's fetch: a plain GET, no Accept: text/html (a browser's mark).
    (fetch,) = provisioning.fetches
    assert (fetch.method, fetch.path) == ("GET", "/qr")
    assert "text/html" not in fetch.headers.get("Accept", "")


def test_the_app_registers_over_tls_only_to_a_certificate_it_trusts(provisioning, linphones, tmp_path):
    registrar = Kamailio(tmp_path / "kamailio", {"alice": "alice-secret-1"}, tls=True)
    try:
        url = provisioning.serve("/qr", lpconfig(account_sections(registrar, "alice", "alice-secret-1", "tls")))

        assert linphones(url, trusted=registrar.certificate).registered_identity() == ALICE
        assert [(r.result, r.transport) for r in registrar.registers()] == [("ok", "tls")]

        impostor = Kamailio(tmp_path / "impostor", {}, tls=True)  # its certificate: the same name, another key
        try:
            assert linphones(url, trusted=impostor.certificate).registered_identity() is None
        finally:
            impostor.stop()
        assert len(registrar.registers()) == 1
    finally:
        registrar.stop()


def test_the_app_does_not_register_with_a_wrong_secret(registrar, provisioning, linphones):
    url = provisioning.serve("/qr", lpconfig(account_sections(registrar, "alice", "not-the-secret")))

    app = linphones(url)

    assert app.registered_identity() is None
    assert registrar.registered() == set()
    assert {r.result for r in registrar.registers()} == {"refused"}


def test_an_unknown_auth_name_does_not_register(registrar, provisioning, linphones):
    url = provisioning.serve("/qr", lpconfig(account_sections(registrar, "mallory", "alice-secret-1")))

    assert linphones(url).registered_identity() is None
    assert registrar.registered() == set()


def test_without_an_answer_the_app_has_no_account(registrar, provisioning, linphones):
    app = linphones(provisioning.url("/used-up"))  # 404

    assert app.registered_identity() is None
    assert app.stored("proxy_0", "reg_identity") is None
    assert registrar.registers() == []


def test_the_stop_xml_stops_a_registered_app_and_wipes_its_secret(registrar, provisioning, linphones):
    url = provisioning.serve("/device", lpconfig(account_sections(registrar, "alice", "alice-secret-1")))
    app = linphones(url)
    assert app.registered_identity() == ALICE

    provisioning.serve("/device", lpconfig(STOP_SECTIONS))
    app.stop()
    registers_before = len(registrar.registers())
    app.start()

    assert app.registered_identity() is None
    app.stop()  # saves its configuration
    assert registrar.registers()[registers_before:] == []  # not even one REGISTER with the cached secret
    assert registrar.registered() == set()
    assert app.stored("proxy_0", "reg_sendregister") == "0"
    assert not app.stored("auth_info_0", "passwd")
    assert not app.stored("auth_info_0", "ha1")


def test_an_error_answer_leaves_the_app_registering_with_its_cached_account(registrar, provisioning, linphones):
    """Why a revoked device must get the stop XML: a 404 or 410 changes nothing in the app."""
    url = provisioning.serve("/device", lpconfig(account_sections(registrar, "alice", "alice-secret-1")))
    app = linphones(url)
    assert app.registered_identity() == ALICE

    provisioning.serve("/device", "gone\n", status=410)
    app.restart()

    assert app.registered_identity() == ALICE


def test_without_overwrite_a_later_provisioning_changes_nothing(registrar, provisioning, linphones):
    url = provisioning.serve("/device", lpconfig(account_sections(registrar, "alice", "alice-secret-1")))
    app = linphones(url)
    assert app.registered_identity() == ALICE

    provisioning.serve("/device", lpconfig(STOP_SECTIONS).replace(' overwrite="true"', ""))
    app.restart()

    assert app.registered_identity() == ALICE


def test_the_served_config_uri_replaces_the_scanned_one_and_brings_a_new_secret(registrar, provisioning, linphones):
    """The QR URL hands over a per-device URL; at the next start the app fetches that one, and a
    changed secret reaches it (the app's stored ha1 of the old secret is overwritten too)."""
    device_url = provisioning.url("/device/alice-phone")
    qr_url = provisioning.serve(
        "/qr/once",
        lpconfig({**account_sections(registrar, "alice", "alice-secret-1"), "misc": {"config-uri": device_url}}),
    )
    app = linphones(qr_url)
    assert app.registered_identity() == ALICE
    assert app.stored("misc", "config-uri") == device_url

    registrar.set_user("alice", "alice-secret-2")
    provisioning.serve("/device/alice-phone", lpconfig(account_sections(registrar, "alice", "alice-secret-2")))
    app.restart()

    assert app.registered_identity() == ALICE
    assert [f.path for f in provisioning.fetches] == ["/qr/once", "/device/alice-phone"]
    assert registrar.registers()[-1].result == "ok"
