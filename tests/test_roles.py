"""Roles (issue 12): system admins and tokens, tenant managers and tenant tokens, through the CLI,
the console and the API. (That a tenant reaches nothing of another through any route is
tests/test_tenant_isolation.py.)"""

import pytest
from click.testing import CliRunner
from lxml import html
from sqlalchemy import select

from hotdesk import tenancy
from hotdesk.admin import accounts
from hotdesk.admin import extensions as admin_extensions
from hotdesk.cli import main
from hotdesk.directory import ExtensionData
from hotdesk.models import DEFAULT_TENANT_ID, Event, Setting, Tenant, TenantSetting
from tests.phones import YealinkPhone
from tests.test_console import PASSWORD, Console, rows, text


@pytest.fixture(autouse=True)
def _push_request_context():
    """As in test_console: each request gets its own `g`."""


@pytest.fixture
def registry(app):
    return app.extensions["hotdesk"].settings


@pytest.fixture
def tenants(session, registry):
    """acme and globex, each with its 1001; the default tenant has 1001 too."""
    made = {}
    for name, person in (("acme", "Ann Acme"), ("globex", "Gus Globex")):
        made[name] = tenancy.add(session, registry, name, f"{name}.example.com", "test")
        data = ExtensionData("1001", person, f"{name.capitalize()}-Secret-1", "1234")
        admin_extensions.create(
            session, data, "test", registry.values(session, made[name].tenant.id), tenant_id=made[name].tenant.id
        )
    admin_extensions.create(
        session, ExtensionData("1001", "Dee Default", "Default-Secret-1"), "test", registry.values(session)
    )
    session.commit()
    return made


def sign_in(client, name, tenant_id=None, session=None):
    accounts.add_admin(session, name, PASSWORD, "test", tenant_id=tenant_id)
    session.commit()
    console = Console(client)
    assert console.sign_in(name).status_code == 302
    return console


@pytest.fixture
def system(client, session, tenants):
    return sign_in(client, "root", None, session)


@pytest.fixture
def manager(client, session, tenants):
    return sign_in(client, "ann-manager", tenants["acme"].tenant.id, session)


def extension_names(response) -> list[str]:
    return [
        " ".join(cell.split()) for cell in html.fromstring(response.data).xpath("//main//table/tbody/tr/td[2]/text()")
    ]


def token(session, name, tenant_id=None, scopes=accounts.SCOPES):
    secret = accounts.create_token(session, name, "test", scopes=scopes, tenant_id=tenant_id).secret
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


# the CLI


@pytest.fixture
def run(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))

    def run(*args, input=None, code=0):
        result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return run


def test_cli_makes_tenant_managers_and_tenant_tokens(run, client, tenants):
    assert "admin ann added (manager of acme)" in run(
        "admins", "add", "ann", "--tenant", "acme", "--password-stdin", input=PASSWORD + "\n"
    )
    run("admins", "add", "root", "--password-stdin", input=PASSWORD + "\n")
    listed = run("admins", "list")
    assert "ann\tmanager of acme\t" in listed and "root\tsystem\t" in listed
    secret = run("tokens", "create", "acme-sync", "--tenant", "acme").splitlines()[0]
    assert "acme-sync\tread,write\tacme\t" in run("tokens", "list")
    # The token reaches acme's 1001 only.
    answer = client.get("/api/v1/extensions", headers={"Authorization": f"Bearer {secret}"})
    assert [item["name"] for item in answer.json["items"]] == ["Ann Acme"]
    # A phone added for acme is acme's; commands about a phone find it in its tenant.
    run("devices", "add", "001565dd0001", "--tenant", "acme")
    answer = client.get("/api/v1/devices", headers={"Authorization": f"Bearer {secret}"})
    assert [item["mac"] for item in answer.json["items"]] == ["001565dd0001"]
    assert "nobody was logged in on 001565dd0001" in run("logout", "00:15:65:DD:00:01")
    error = run("admins", "add", "bob", "--tenant", "nobody", "--password-stdin", input=PASSWORD + "\n", code=1)
    assert "no tenant named 'nobody'" in error and len(error.strip().splitlines()) == 1


# the console


def test_a_system_admin_switches_tenants_in_the_header(system):
    assert extension_names(system.get("/admin/extensions")) == ["Dee Default"]
    page = system.page("/admin/")
    assert page.xpath("//form[@id='tenant-switch']//option[@selected]/text()") == ["default"]
    assert system.post("/admin/tenant", {"tenant": "acme"}, token_from=page).status_code == 302
    assert extension_names(system.get("/admin/extensions")) == ["Ann Acme"]
    assert system.page("/admin/").xpath("//form[@id='tenant-switch']//option[@selected]/text()") == ["acme"]
    refused = system.submit("/admin/tenant", {"tenant": "nobody"}, headers={"Referer": "http://localhost/admin/"})
    assert refused.status_code == 302 and "no tenant named 'nobody'" in text(system.get("/admin/"))
    assert extension_names(system.get("/admin/extensions")) == ["Ann Acme"]


def test_tenants_page_adds_shows_the_credentials_once_and_removes(system, session, registry):
    made = system.submit("/admin/tenants", {"name": "initech", "sip_domain": "initech.example.com"})
    assert made.status_code == 200
    initech = session.scalar(select(Tenant).where(Tenant.name == "initech"))
    password = registry.get(session, "provisioning_password", initech.id)
    assert password in text(made) and "hotdesk-initech" in text(made)
    page = system.get("/admin/tenants")
    assert password not in page.get_data(as_text=True)
    assert ["initech", "initech.example.com", "0", "Remove"] in rows(page, "tenant-list")
    refused = system.submit("/admin/tenants/acme/remove", headers={"Referer": "http://localhost/admin/tenants"})
    assert "still has 1 extension(s)" in text(system.get(refused.headers["Location"]))
    assert system.submit("/admin/tenants/initech/remove").status_code == 302
    assert "initech" not in [row[0] for row in rows(system.get("/admin/tenants"), "tenant-list")]
    session.expire_all()
    assert session.scalar(select(Tenant).where(Tenant.name == "acme")) is not None


def test_a_tenant_manager_sees_only_their_tenant(manager, client):
    page = manager.get("/admin/")
    assert "acme" in text(page) and "Tenants" not in text(page)
    assert manager.get("/admin/tenants").status_code == 404
    assert extension_names(manager.get("/admin/extensions")) == ["Ann Acme"]


def test_a_tenant_manager_changes_their_tenants_own_settings_only(manager, session, tenants, registry):
    acme = tenants["acme"].tenant.id
    installation = registry.get(session, "external_address")
    assert manager.submit("/admin/settings", {"external_address": "pbx.acme.example"}).status_code == 302
    session.expire_all()
    assert registry.get(session, "external_address", acme) == "pbx.acme.example"
    assert registry.get(session, "external_address") == installation  # every other tenant's: unchanged
    refused = manager.submit("/admin/settings", {"device_admission": "known", "internal_address": "10.1.1.1"})
    assert refused.status_code == 422
    assert "device_admission: a setting of the whole server, which only a system admin changes" in text(refused)
    session.expire_all()
    assert "internal_address" not in registry.overrides(session, acme)  # a form with a refused value changes nothing
    assert session.scalar(select(TenantSetting).where(TenantSetting.name == "device_admission")) is None
    page = manager.page("/admin/settings")
    assert page.xpath("//input[@name='device_admission']/@disabled")
    assert not page.xpath("//input[@name='external_address']/@disabled")
    # Back to the installation's value.
    assert page.xpath("//form[@id='unset-external_address']")
    assert manager.post("/admin/settings/external_address/unset", token_from=page).status_code == 302
    session.expire_all()
    assert registry.get(session, "external_address", acme) == installation


def test_the_default_tenants_manager_changes_no_setting(client, session, tenants):
    manager = sign_in(client, "dee-manager", DEFAULT_TENANT_ID, session)
    before = {row.name: row.value for row in session.scalars(select(Setting))}
    refused = manager.submit("/admin/settings", {"external_address": "pbx.default.example"})
    assert refused.status_code == 422 and "the default tenant's settings are the installation's" in text(refused)
    session.expire_all()
    assert {row.name: row.value for row in session.scalars(select(Setting))} == before


def test_a_tenant_manager_manages_their_own_managers_and_tokens(manager, session, tenants, client):
    accounts.add_admin(session, "gus-manager", PASSWORD, "test", tenant_id=tenants["globex"].tenant.id)
    accounts.add_admin(session, "root", PASSWORD, "test")
    session.commit()
    names = [row[0] for row in rows(manager.get("/admin/access"), "admin-list")]
    assert names == ["ann-manager"]
    # The form cannot make a system admin or another tenant's manager: whatever it says, acme's.
    added = manager.submit("/admin/access/admins", {"name": "ann2", "password": PASSWORD, "tenant": "globex"})
    assert added.status_code == 302
    made = manager.submit("/admin/access/tokens", {"name": "acme-bot", "scope": ["read"], "tenant": ""})
    secret = made.get_data(as_text=True).split('id="new-token"')[1].split("<code>")[1].split("</code>")[0]
    session.expire_all()
    acme = tenants["acme"].tenant.id
    assert [a.tenant_id for a in accounts.admins(session) if a.name == "ann2"] == [acme]
    assert [t.tenant_id for t in accounts.tokens(session)] == [acme]
    answer = client.get("/api/v1/extensions", headers={"Authorization": f"Bearer {secret}"})
    assert [item["name"] for item in answer.json["items"]] == ["Ann Acme"]
    # A system admin's password is not a manager's to change.
    refused = manager.submit("/admin/access/admins/root/password", {"password": "x" * 12})
    assert "no admin root" in text(manager.get(refused.headers["Location"]))


def test_every_action_of_a_manager_is_in_their_tenants_history(manager, session, tenants):
    assert manager.submit("/admin/extensions/1001", {"name": "Ann Acme-Smith"}).status_code == 302
    acme = tenants["acme"].tenant.id
    event = session.scalar(select(Event).where(Event.actor == "ann-manager", Event.kind == "admin"))
    assert event.tenant_id == acme and event.detail == "extension 1001 changed: name"
    signed_in = session.scalar(select(Event).where(Event.actor == "ann-manager", Event.kind == "admin_signin"))
    assert signed_in.tenant_id == acme
    history = text(manager.get("/admin/history"))
    assert "extension 1001 changed" in history and "tenant globex added" not in history


def test_the_live_table_does_not_move_for_another_tenants_logins(manager, client, session, tenants, registry):
    marker = manager.page("/admin/mappings").xpath("//*[@data-marker]/@data-marker")[0]
    globex = tenants["globex"]
    phone = YealinkPhone(
        client, "001565cc0001", credentials=(globex.provisioning_username, globex.provisioning_password)
    )
    assert "Gus Globex" in phone.text(phone.login("1001", "1234"))
    assert manager.get(f"/admin/mappings/live?marker={marker}").status_code == 204


# the API


def test_a_system_token_names_the_tenant_it_acts_for(client, session, tenants):
    headers = token(session, "ops")
    names = lambda query="": [  # noqa: E731
        item["name"] for item in client.get(f"/api/v1/extensions{query}", headers=headers).json["items"]
    ]
    assert names() == ["Dee Default"]
    assert names("?tenant=acme") == ["Ann Acme"]
    assert names("?tenant=globex") == ["Gus Globex"]
    unset = client.delete("/api/v1/settings/timezone", headers=headers)
    assert unset.status_code == 422 and "the default tenant's values are the installation's" in unset.json["error"]
    missing = client.get("/api/v1/extensions?tenant=nobody", headers=headers)
    assert missing.status_code == 404 and missing.json["error"] == "no tenant named 'nobody'"
    made = client.post(
        "/api/v1/extensions?tenant=acme",
        headers=headers,
        json={"number": "1002", "name": "Al", "secret": "Acme-Secret-2"},
    )
    assert made.status_code == 201 and made.headers["Location"].endswith("/api/v1/extensions/1002?tenant=acme")
    assert client.get(made.headers["Location"], headers=headers).json["name"] == "Al"


def test_a_tenant_token_acts_for_its_tenant_only(client, session, tenants):
    acme = tenants["acme"].tenant.id
    headers = token(session, "acme-sync", acme)
    assert client.get("/api/v1/extensions/1001", headers=headers).json["name"] == "Ann Acme"
    assert client.get("/api/v1/extensions/1001?tenant=acme", headers=headers).json["name"] == "Ann Acme"
    other = client.get("/api/v1/extensions/1001?tenant=globex", headers=headers)
    assert other.status_code == 404 and other.json == {"error": "no tenant named 'globex'"}
    assert client.get("/api/v1/tenants", headers=headers).status_code == 403
    # Its own provisioning password it reads; a secret it inherits is the installation's, shared.
    own = client.get("/api/v1/settings/provisioning_password", headers=headers)
    assert own.json["value"] == tenants["acme"].provisioning_password
    inherited = client.get("/api/v1/settings/admin_password", headers=headers)
    assert inherited.status_code == 403 and "installation's" in inherited.json["error"]
    refused = client.put("/api/v1/settings/device_admission", headers=headers, json={"value": "open"})
    assert refused.status_code == 403 and "only a system admin" in refused.json["error"]
    assert client.put("/api/v1/settings/timezone", headers=headers, json={"value": "Europe/Berlin"}).status_code == 200
    assert client.get("/api/v1/settings/timezone", headers=headers).json["value"] == "Europe/Berlin"
    assert client.delete("/api/v1/settings/timezone", headers=headers).status_code == 204
    assert client.get("/api/v1/settings/timezone", headers=headers).json["value"] == "UTC"
    assert client.delete("/api/v1/settings/device_admission", headers=headers).status_code == 403


def test_system_tokens_manage_tenants(client, session, tenants):
    headers = token(session, "ops")
    made = client.post(
        "/api/v1/tenants", headers=headers, json={"name": "initech", "sip_domain": "initech.example.com"}
    )
    assert made.status_code == 201
    assert made.json["provisioning_username"] == "hotdesk-initech" and made.json["provisioning_password"]
    listed = client.get("/api/v1/tenants", headers=headers).json["items"]
    assert {"name": "acme", "sip_domain": "acme.example.com", "extensions": 1} in listed
    refused = client.delete("/api/v1/tenants/acme", headers=headers)
    assert refused.status_code == 409 and "still has 1 extension(s)" in refused.json["error"]
    assert client.delete("/api/v1/tenants/initech", headers=headers).status_code == 204
    assert client.delete("/api/v1/tenants/initech", headers=headers).status_code == 404
    without_secrets = token(session, "ops-rw", scopes=("read", "write"))
    assert (
        client.post(
            "/api/v1/tenants", headers=without_secrets, json={"name": "x", "sip_domain": "x.example.com"}
        ).status_code
        == 403
    )
