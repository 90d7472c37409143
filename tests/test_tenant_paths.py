"""Cisco enterprise phones send no HTTP credentials: each tenant's provisioning path
(/provision/t/<provisioning_path>/, where the reverse proxy on port 6970 sends their fetches) stands
for the tenant's provisioning credentials, and means exactly what they mean: the tenant, never a
device. A wrong path is an unknown file."""

import logging

import pytest
from sqlalchemy import select

from hotdesk.models import Device, Tenant
from tests.brands.cisco_phone import CiscoSipPhone
from tests.conftest import PROVISIONING_PATH
from tests.test_tenants import customers, run  # noqa: F401 -- the fixtures: acme and globex, each with 1001

ACME_MAC, OTHER_MAC = "a4b439ab0001", "a4b439ab0002"
NOT_FOUND = b"No such provisioning file for this device\n"


@pytest.fixture
def paths(run):
    """Each tenant's path, as `tenants add` printed it (the fixture `customers` made them)."""
    return {
        tenant: run("settings", "get", "provisioning_path", "--tenant", tenant).strip() for tenant in ("acme", "globex")
    }


def test_tenants_add_prints_a_path_of_the_tenants_own(run):
    added = run("tenants", "add", "initech", "--sip-domain", "initech.example.com")
    made = dict(line.split(": ", 1) for line in added.splitlines()[1:])
    assert len(made["provisioning_path"]) >= 20
    assert run("settings", "get", "provisioning_path", "--tenant", "initech").strip() == made["provisioning_path"]
    assert made["provisioning_path"] != PROVISIONING_PATH
    assert "provisioning_path = (hidden)" in run("settings", "list", "--tenant", "initech")  # a secret


def test_a_cisco_phone_under_its_tenants_path_logs_in_only_that_tenants_extensions(
    client,
    session,
    customers,
    paths,
):
    phone = CiscoSipPhone(client, ACME_MAC, provisioning_path=paths["acme"])
    assert "Wrong password" in phone.text(phone.login("1001", "2222"))  # globex's PIN for its 1001
    answer = phone.login("1001", "1111")
    assert "Ann Acme" in phone.text(answer)
    phone.apply_reload(answer)
    phone.boot()
    line = phone.line()
    assert line["display_name"] == "Ann Acme"
    assert line["secret"] == f"acme-{'Str0ng-Secret'}"
    assert line["registrar_host"] == "pbx.acme.example"
    acme = session.scalar(select(Tenant.id).where(Tenant.name == "acme"))
    assert session.scalar(select(Device.tenant_id).where(Device.mac == ACME_MAC)) == acme


def test_the_default_tenants_path_is_the_installations(client, extensions):
    phone = CiscoSipPhone(client, ACME_MAC, provisioning_path=PROVISIONING_PATH)
    assert "Alice Martin" in phone.text(phone.login("1001", "4321"))


def test_a_wrong_path_is_an_unknown_file_and_is_never_logged(client, customers, paths, caplog):
    caplog.set_level(logging.INFO)
    for wrong in ("x" * 32, paths["acme"][:-1], paths["acme"].upper(), paths["acme"] + "x"):
        phone = CiscoSipPhone(client, ACME_MAC, provisioning_path=wrong)
        response = phone.fetch(f"SEP{ACME_MAC.upper()}.cnf.xml")
        assert response.status_code == 404, wrong
        assert response.data == NOT_FOUND
        assert phone.fetch("XMLDefault.cnf.xml").status_code == 404
    assert "unknown provisioning path" in caplog.text
    assert paths["acme"][:-1] not in caplog.text and "x" * 32 not in caplog.text


def test_the_path_proves_the_tenant_not_the_phone(client, session, customers, paths):
    phone = CiscoSipPhone(client, ACME_MAC, provisioning_path=paths["acme"])
    phone.apply_reload(phone.login("1001", "1111"))
    phone.boot()
    assert phone.line() is not None

    # A colleague on the LAN who knows the tenant's path asks for the phone's file from elsewhere:
    # the shared path gets what the shared credentials get, the guest file.
    neighbour = CiscoSipPhone(client, ACME_MAC, ip="10.20.0.99", provisioning_path=paths["acme"])
    neighbour.boot()
    assert neighbour.line() is None
    assert b"Str0ng-Secret" not in neighbour.files[f"SEP{ACME_MAC.upper()}.cnf.xml"]

    # Another tenant's path cannot claim the phone: refused as another tenant's credentials are.
    impostor = CiscoSipPhone(client, ACME_MAC, provisioning_path=paths["globex"])
    assert impostor.fetch(f"SEP{ACME_MAC.upper()}.cnf.xml").data == NOT_FOUND
    session.expire_all()
    assert "another tenant" in session.scalar(select(Device).where(Device.mac == ACME_MAC)).mismatch_detail


def test_a_path_names_one_tenant_only(run, customers, paths):
    refused = run("settings", "set", "provisioning_path", paths["acme"], "--tenant", "globex", code=1)
    assert "provisioning_path (hidden) is the tenant 'acme'" in refused
    assert paths["acme"] not in refused
    assert "provisioning_path: 20 to 128 letters" in run("settings", "set", "provisioning_path", "short", code=1)
    run("settings", "set", "provisioning_path", "", "--tenant", "globex")  # none: its phones must send credentials
    assert CiscoSipPhone(None, OTHER_MAC).provisioning_path is None
