"""Templates per tenant, as an operator meets them from the CLI and the tenants' phones meet them:
a tenant may have its own templates and its own default per brand; it falls back to the system's,
sees and uses them, changes only its own, and never reaches another tenant's."""

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from hotdesk.models import Template, Tenant
from tests.phones import YealinkPhone
from tests.test_tenants import customers, run  # noqa: F401 -- the fixtures: acme and globex, each with 1001

STOCK = (Path(__file__).parents[1] / "hotdesk/epm_templates/yealink/default.cfg").read_text()
ACME_MAC, GLOBEX_MAC = "001565ab0001", "001565ab0002"


def marked(marker: str) -> str:
    """The stock Yealink template with a setting the phone's configuration shows."""
    first, rest = STOCK.split("\n", 1)
    return f"{first}\nfeatures.hotdesk_marker = {marker}\n{rest}"


@pytest.fixture
def template_file(tmp_path):
    def write(marker: str) -> Path:
        path = tmp_path / f"{marker}.cfg"
        path.write_text(marked(marker))
        return path

    return write


def phones(client, customers):
    return (
        YealinkPhone(client, ACME_MAC, credentials=customers["acme"]),
        YealinkPhone(client, GLOBEX_MAC, ip="10.20.0.32", credentials=customers["globex"]),
    )


def test_a_tenants_own_default_serves_its_phones_and_no_others(client, run, customers, template_file):
    acme_phone, globex_phone = phones(client, customers)
    assert "features.hotdesk_marker" not in acme_phone.boot()

    run("templates", "import", template_file("acme"), "--brand", "yealink", "--name", "acme", "--tenant", "acme")
    assert "features.hotdesk_marker" not in acme_phone.boot()  # its own, not yet its default
    run("templates", "set-default", "yealink", "acme", "--tenant", "acme")

    assert acme_phone.boot()["features.hotdesk_marker"] == "acme"
    assert "features.hotdesk_marker" not in globex_phone.boot()
    assert "Ann Acme" in acme_phone.text(acme_phone.login("1001", "1111"))
    assert acme_phone.boot()["features.hotdesk_marker"] == "acme"  # a user's file too
    assert f"1001\t{ACME_MAC}\tyealink T46S\tyealink/acme\t" in run("mappings", "list", "--tenant", "acme")

    listed = run("templates", "list", "--tenant", "acme", "--brand", "yealink")
    assert listed.splitlines() == ["yealink/acme  (default)", "yealink/default  (system)"]
    assert (
        run("templates", "list", "--tenant", "globex", "--brand", "yealink") == "yealink/default  (system, default)\n"
    )
    assert run("templates", "list", "--brand", "yealink") == "yealink/default  (default)\n"  # the system's, as before
    assert "features.hotdesk_marker = acme" in run("templates", "show", "yealink", "acme", "--tenant", "acme")

    # Back to the system's default: naming it, or deleting the tenant's own default.
    run("templates", "set-default", "yealink", "default", "--tenant", "acme")
    assert "features.hotdesk_marker" not in acme_phone.boot()
    run("templates", "set-default", "yealink", "acme", "--tenant", "acme")
    run("templates", "delete", "yealink", "acme", "--tenant", "acme")
    assert "features.hotdesk_marker" not in acme_phone.boot()


def test_a_tenant_may_shadow_a_system_template_and_its_pins_get_its_own(
    client,
    run,
    customers,
    template_file,
):
    acme_phone, globex_phone = phones(client, customers)
    run("templates", "import", template_file("mine"), "--brand", "yealink", "--name", "default", "--tenant", "acme")
    assert "features.hotdesk_marker" not in acme_phone.boot()  # a template named default is not the default

    run("mappings", "pin", "1001", "yealink/default", "--tenant", "acme")
    run("mappings", "pin", "1001", "yealink/default", "--tenant", "globex")
    acme_phone.login("1001", "1111")
    globex_phone.login("1001", "2222")
    assert acme_phone.boot()["features.hotdesk_marker"] == "mine"
    assert "features.hotdesk_marker" not in globex_phone.boot()
    assert "features.hotdesk_marker = mine" in run("templates", "show", "yealink", "default", "--tenant", "acme")
    assert "features.hotdesk_marker" not in run("templates", "show", "yealink", "default")
    assert run("mappings", "pins", "--tenant", "acme") == "1001\tyealink/default\n"


def test_a_tenant_changes_only_its_own_templates(run, customers, template_file):
    run("templates", "import", template_file("spare"), "--brand", "yealink", "--name", "spare")  # the system's
    refused = [
        ("templates", "delete", "yealink", "default", "--tenant", "acme"),
        ("templates", "delete", "yealink", "spare", "--tenant", "acme"),
        ("templates", "set-default", "yealink", "spare", "--tenant", "acme"),
    ]
    for args in refused:
        assert "is the system's: a tenant changes only its own" in run(*args, code=1)
    assert run("templates", "list", "--brand", "yealink") == "yealink/default  (default)\nyealink/spare\n"
    # Importing one of that name for the tenant is how it changes what its phones get.
    run("templates", "import", template_file("acme-spare"), "--brand", "yealink", "--name", "spare", "--tenant", "acme")
    assert "acme-spare" in run("templates", "show", "yealink", "spare", "--tenant", "acme")
    assert "features.hotdesk_marker = spare" in run("templates", "show", "yealink", "spare")
    assert "no template yealink/nothing" in run("templates", "show", "yealink", "nothing", "--tenant", "acme", code=1)
    assert "no tenant named 'initech'" in run("templates", "list", "--tenant", "initech", code=1)


def test_another_tenants_template_cannot_be_pinned_seen_or_changed(run, customers, template_file):
    run("templates", "import", template_file("acme"), "--brand", "yealink", "--name", "acme-only", "--tenant", "acme")
    assert "no template 'yealink/acme-only'" in run(
        "mappings", "pin", "1001", "yealink/acme-only", "--tenant", "globex", code=1
    )
    assert "no template 'yealink/acme-only'" in run(
        "extensions", "add", "1002", "--name", "Gil", "--secret", "Gl0bex-Secret", "--pin", "2468",
        "--template", "yealink/acme-only", "--tenant", "globex", code=1,
    )  # fmt: skip
    for args in (
        ("templates", "show", "yealink", "acme-only"),
        ("templates", "show", "yealink", "acme-only", "--tenant", "globex"),
        ("templates", "delete", "yealink", "acme-only", "--tenant", "globex"),
        ("templates", "set-default", "yealink", "acme-only", "--tenant", "globex"),
        ("templates", "delete", "yealink", "acme-only"),
    ):
        assert "no template yealink/acme-only" in run(*args, code=1)
    assert "acme-only" not in run("templates", "list", "--tenant", "globex") + run("templates", "list")
    assert run("mappings", "pins", "--tenant", "globex") == ""


def test_the_schema_keeps_one_default_per_brand_for_the_system_and_for_each_tenant(session, customers):
    acme = session.query(Tenant).filter_by(name="acme").one().id
    globex = session.query(Tenant).filter_by(name="globex").one().id

    def add(**fields) -> None:
        session.add(Template(brand="yealink", body="#!version:1.0.0.1\n", **fields))
        session.flush()

    add(name="default", tenant_id=acme, is_default=True)  # a tenant's own of a system name, its default
    add(name="default", tenant_id=globex, is_default=True)
    add(name="second", tenant_id=acme)
    for clash in (
        {"name": "default", "tenant_id": None},  # a second system yealink/default
        {"name": "default", "tenant_id": acme},  # a second of acme's
        {"name": "other", "tenant_id": None, "is_default": True},  # a second system default
        {"name": "other", "tenant_id": acme, "is_default": True},  # a second default of acme's
    ):
        savepoint = session.begin_nested()
        with pytest.raises(IntegrityError):
            add(**clash)
        savepoint.rollback()
    session.rollback()
