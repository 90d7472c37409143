"""Tenants as a new operator meets them: two customers made from the CLI, each with its SIP domain,
addresses and extension 1001; a desk phone provisioned with each customer's credentials logs in
only that customer's people and registers to that customer's addresses."""

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotdesk.cli import main
from hotdesk.models import Device, Event, EventKind, Extension, Tenant
from tests.phones import YealinkPhone

STRONG = "Str0ng-Secret"


@pytest.fixture
def run(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))

    def run(*args, code=0):
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return run


def credentials(output: str) -> tuple[str, str]:
    lines = dict(line.split(": ", 1) for line in output.splitlines() if line.startswith("provisioning_"))
    return lines["provisioning_username"], lines["provisioning_password"]


@pytest.fixture
def customers(run):
    """acme and globex, each with its own addresses and its own 1001."""
    acme = credentials(run("tenants", "add", "acme", "--sip-domain", "acme.example.com"))
    globex = credentials(run("tenants", "add", "globex", "--sip-domain", "globex.example.com"))
    for tenant, address, name, pin in (
        ("acme", "pbx.acme.example", "Ann Acme", "1111"),
        ("globex", "pbx.globex.example", "Gus Globex", "2222"),
    ):
        run("settings", "set", "external_address", address, "--tenant", tenant)
        run(
            "extensions",
            "add",
            "1001",
            "--name",
            name,
            "--secret",
            f"{tenant}-{STRONG}",
            "--pin",
            pin,
            "--tenant",
            tenant,
        )
    return {"acme": acme, "globex": globex}


def test_each_customer_gets_its_own_provisioning_credentials(run, customers):
    assert customers["acme"][0] != customers["globex"][0]
    assert customers["acme"][1] != customers["globex"][1]
    assert run("settings", "get", "provisioning_username", "--tenant", "acme").strip() == customers["acme"][0]
    assert run("settings", "get", "provisioning_password", "--tenant", "globex").strip() == customers["globex"][1]
    listed = run("tenants", "list")
    assert "acme\tacme.example.com\textensions=1" in listed
    assert "default\t-\textensions=0" in listed


def test_a_phone_belongs_to_the_tenant_whose_credentials_it_fetches_with(client, session, customers):
    acme_phone = YealinkPhone(client, "001565aa0001", credentials=customers["acme"])
    globex_phone = YealinkPhone(client, "001565aa0002", credentials=customers["globex"])

    assert "Ann Acme" in acme_phone.text(acme_phone.login("1001", "1111"))
    acme_phone.boot()
    assert acme_phone.line()["registrar_host"] == ("pbx.acme.example")

    # globex's phone: acme's PIN for 1001 is wrong there, globex's is right, and it registers to globex.
    assert "Wrong password" in globex_phone.text(globex_phone.login("1001", "1111"))
    assert "Gus Globex" in globex_phone.text(globex_phone.login("1001", "2222"))
    globex_phone.boot()
    assert globex_phone.line()["registrar_host"] == ("pbx.globex.example")

    tenants = {t.name: t.id for t in session.scalars(select(Tenant))}
    devices = {d.mac: d.tenant_id for d in session.scalars(select(Device))}
    assert devices == {"001565aa0001": tenants["acme"], "001565aa0002": tenants["globex"]}


def test_the_default_tenants_credentials_reach_no_customer(client, customers):
    phone = YealinkPhone(client, "001565aa0003")  # the installation's (default tenant's) credentials
    assert "There is no extension 1001" in phone.text(phone.login("1001", "1111"))


def test_another_tenants_credentials_cannot_take_over_a_phone(client, session, customers):
    acme_phone = YealinkPhone(client, "001565aa0004", credentials=customers["acme"])
    acme_phone.boot()
    impostor = YealinkPhone(client, "001565aa0004", ip="10.20.0.99", credentials=customers["globex"])
    assert impostor.fetch("001565aa0004.cfg").status_code == 404
    device = session.scalar(select(Device).where(Device.mac == "001565aa0004"))
    assert "another tenant" in device.mismatch_detail


def test_failed_logins_of_one_tenants_1001_do_not_lock_anothers(client, session, customers):
    attacker = YealinkPhone(client, "001565aa0005", credentials=customers["acme"])
    for _ in range(6):
        attacker.login("1001", "0000")
    assert "Too many failed logins" in attacker.text(attacker.login("1001", "1111"))
    globex_phone = YealinkPhone(client, "001565aa0006", ip="10.20.0.32", credentials=customers["globex"])
    assert "Gus Globex" in globex_phone.text(globex_phone.login("1001", "2222"))
    tenants = {t.name: t.id for t in session.scalars(select(Tenant))}
    failures = session.scalars(select(Event).where(Event.kind == EventKind.LOGIN_FAILED.value))
    assert {event.tenant_id for event in failures} == {tenants["acme"]}


def test_settings_without_tenant_are_the_installations_and_tenants_inherit_them(run, customers):
    run("settings", "set", "internal_address", "10.9.9.9")
    assert run("settings", "get", "internal_address", "--tenant", "acme").strip() == "10.9.9.9"
    run("settings", "set", "internal_address", "10.1.1.1", "--tenant", "acme")
    assert run("settings", "get", "internal_address", "--tenant", "acme").strip() == "10.1.1.1"
    assert run("settings", "get", "internal_address", "--tenant", "globex").strip() == "10.9.9.9"
    assert run("settings", "get", "internal_address").strip() == "10.9.9.9"
    run("settings", "unset", "internal_address", "--tenant", "acme")
    assert run("settings", "get", "internal_address", "--tenant", "acme").strip() == "10.9.9.9"


def test_the_same_extension_number_in_every_tenant(run, session, customers):
    numbers = [(e.tenant_id, e.number) for e in session.scalars(select(Extension).order_by(Extension.tenant_id))]
    assert [number for _, number in numbers] == ["1001", "1001"]
    assert run("extensions", "list", "--tenant", "acme").startswith("1001\tAnn Acme")
    assert run("extensions", "list") == ""


@pytest.mark.parametrize(
    "args, message",
    [
        (("tenants", "add", "acme", "--sip-domain", "other.example.com"), "tenant 'acme' exists already"),
        (("tenants", "add", "initech", "--sip-domain", "acme.example.com"), "belongs to another tenant"),
        (("tenants", "add", "bad name", "--sip-domain", "x.example.com"), "is not a tenant name"),
        (("tenants", "add", "initech", "--sip-domain", "not a domain"), "is not a SIP domain"),
        (("tenants", "remove", "acme"), "still has 1 extension(s)"),
        (("tenants", "remove", "default"), "the default tenant cannot be removed"),
        (("extensions", "list", "--tenant", "nobody"), "no tenant named 'nobody'"),
        (("settings", "set", "provisioning_username", "hotdesk-globex", "--tenant", "acme"), "is the tenant 'globex'"),
        (("settings", "unset", "provisioning_password", "--tenant", "acme"), "every tenant has its own"),
    ],
)
def test_bad_tenant_commands_get_one_line_and_change_nothing(run, session, customers, args, message):
    before = [(t.name, t.sip_domain) for t in session.scalars(select(Tenant).order_by(Tenant.id))]
    output = run(*args, code=1)
    assert message in output and len(output.strip().splitlines()) == 1, output
    session.expire_all()
    assert [(t.name, t.sip_domain) for t in session.scalars(select(Tenant).order_by(Tenant.id))] == before


def test_a_tenant_without_extensions_is_removed_with_its_phones(run, client, session):
    initech = credentials(run("tenants", "add", "initech", "--sip-domain", "initech.example.com"))
    YealinkPhone(client, "001565aa0007", credentials=initech).boot()
    run("tenants", "remove", "initech")
    session.expire_all()
    assert session.scalar(select(Device).where(Device.mac == "001565aa0007")) is None
    assert "initech" not in run("tenants", "list")
    # The operator's history (the installation's) keeps the tenant's coming and going.
    kept = session.scalars(
        select(Event).where(Event.kind == EventKind.ADMIN.value, Event.detail.like("tenant initech%"))
    )
    assert sorted((event.detail, event.tenant_id) for event in kept) == [
        ("tenant initech added", 1),
        ("tenant initech removed", 1),
    ]
    # Its credentials are gone with it.
    assert YealinkPhone(client, "001565aa0008", credentials=initech).fetch("001565aa0008.cfg").status_code == 401


def test_the_phone_app_follows_its_tenants_settings(run, client, customers):
    run("settings", "set", "internal_address", "", "--tenant", "acme")  # acme has no internal server
    acme_phone = YealinkPhone(client, "001565aa0009", credentials=customers["acme"])
    refused = acme_phone.text(acme_phone.login("1001", "1111", key="Internal"))
    globex_phone = YealinkPhone(client, "001565aa000a", credentials=customers["globex"])
    assert "Gus Globex" in globex_phone.text(globex_phone.login("1001", "2222", key="Internal"))
    assert "The internal server address is not set up yet" in refused


def test_a_phone_claimed_by_the_wrong_tenant_is_handed_over(run, client, session, customers):
    # globex's credentials name acme's new phone first (a MAC read off the box, say).
    squatter = YealinkPhone(client, "001565aa0010", ip="10.20.0.99", credentials=customers["globex"])
    squatter.boot()
    assert squatter.credentials != customers["globex"]  # `open`: the squatter was issued its own credentials
    acme_phone = YealinkPhone(client, "001565aa0010", credentials=customers["acme"])
    assert acme_phone.fetch("001565aa0010.cfg").status_code == 404

    output = run("devices", "hand-over", "001565aa0010", "--tenant", "acme", "--address", acme_phone.ip)
    assert "001565aa0010 is acme's now" in output
    assert squatter.fetch("001565aa0010.cfg").status_code == 401  # its credentials are withdrawn
    assert "Ann Acme" in acme_phone.text(acme_phone.login("1001", "1111"))
    tenants = {t.name: t.id for t in session.scalars(select(Tenant))}
    session.expire_all()
    assert session.scalar(select(Device.tenant_id).where(Device.mac == "001565aa0010")) == tenants["acme"]
    handed = session.scalars(select(Event.tenant_id).where(Event.detail.like("%handed over%")))
    assert sorted(handed) == sorted([tenants["globex"], tenants["acme"]])


def test_the_squatters_copy_of_the_credentials_cannot_fetch_after_a_hand_over(run, client, customers):
    squatter = YealinkPhone(client, "001565aa0011", ip="10.20.0.99", credentials=customers["globex"])
    squatter.boot()
    run("devices", "hand-over", "001565aa0011", "--tenant", "acme")
    # Waiting for acme's admin; the squatter's shared globex credentials name it no more either.
    assert (
        YealinkPhone(client, "001565aa0011", ip="10.20.0.99", credentials=customers["globex"])
        .fetch("001565aa0011.cfg")
        .status_code
        == 404
    )
    assert (
        run("devices", "hand-over", "001565aa0011", "--tenant", "acme", code=1)
        .strip()
        .endswith("is that tenant's already")
    )
