"""Tenancy costs a phone's fetch no extra statement: a tenant's settings, credentials, paths and
default templates come from the per-process snapshot (hotdesk.snapshot), as the installation's do."""

from pathlib import Path

from tests.phones import YealinkPhone
from tests.test_published_answers import statements
from tests.test_tenants import customers, run  # noqa: F401 -- the fixtures: acme and globex, each with 1001


def test_a_tenants_phone_costs_the_statements_a_default_tenant_phone_costs(
    app,
    client,
    extensions,
    run,
    customers,
    tmp_path,
):
    run("settings", "set", "multiple_login", "allow", "--tenant", "acme")  # a policy of its own too
    template = tmp_path / "acme.cfg"
    template.write_text((Path(app.root_path) / "epm_templates/yealink/default.cfg").read_text())
    run("templates", "import", template, "--brand", "yealink", "--name", "acme", "--tenant", "acme")
    run("templates", "set-default", "yealink", "acme", "--tenant", "acme")
    default_phone = YealinkPhone(client, "001565ac0001")
    acme_phone = YealinkPhone(client, "001565ac0002", ip="10.20.0.32", credentials=customers["acme"])
    default_phone.login("1001", "4321")
    acme_phone.login("1001", "1111")
    counts = {}
    for name, phone in (("default", default_phone), ("acme", acme_phone)):
        phone.boot()  # its own credentials from now on
        phone.boot()  # the snapshot and the phone's sighting are current
        with statements(app) as sent:
            response = phone.fetch(f"{phone.mac}.cfg")  # rendered: this app publishes nothing
        assert response.status_code == 200 and b"account.1.enable = 1" in response.data
        counts[name] = sent
    assert len(counts["acme"]) == len(counts["default"]) == 2, counts  # the revision, the device with its user
