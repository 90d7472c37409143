"""`hotdesk sync asterisk`: a FreePBX admin points hotdesk at a copy of /etc/asterisk
(tests/fixtures/asterisk/freepbx, the files FreePBX 16 writes), and every phone endpoint becomes an
extension with its secret and name; a broken line is reported with its line number and nothing is
imported; synced extensions are the PBX's on every face."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import html
from sqlalchemy import select

from hotdesk import settings_registry
from hotdesk.admin import accounts
from hotdesk.cli import main
from hotdesk.models import Event, EventKind, Extension, Mapping
from tests.conftest import USER_PASSWORD
from tests.phones import YealinkPhone
from tests.test_console import PASSWORD, Console, _push_request_context, text  # noqa: F401 (autouse)

FIXTURES = Path(__file__).parent / "fixtures" / "asterisk" / "freepbx"
SYNCED = {
    "1001": ("Alice Martin", "5f4dcc3b5aa765d61d8327deb882cf99", None),
    "1002": ("Bob Dupont", "bob;semi-Colon1", None),  # "\;" in the file is a semicolon
    "1003": ("Carol Reed-Smith", "1003", "carol"),  # the name from pjsip.endpoint_custom_post.conf's (+)
    "2001": ('Zo"e" Lee', "Zoe-Secret_42", None),  # from templates: type and auth_type inherited
}


@pytest.fixture
def etc_asterisk(tmp_path, session):
    directory = tmp_path / "etc-asterisk"
    shutil.copytree(FIXTURES, directory)
    settings_registry().set(session, "asterisk_config_dir", str(directory))
    session.commit()
    return directory


@pytest.fixture
def run(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))
    return lambda *args: CliRunner().invoke(main, [str(a) for a in args])


def extensions(session) -> dict[str, tuple]:
    session.expire_all()
    return {
        e.number: (e.name, e.secret, e.auth_name, e.source)
        for e in session.scalars(select(Extension).order_by(Extension.number))
    }


def synced(**changes) -> dict[str, tuple]:
    rows = {number: (*row, "asterisk") for number, row in SYNCED.items()}
    return rows | changes


def test_sync_imports_every_phone_endpoint_with_its_secret_and_name(run, session, etc_asterisk):
    dry = run("sync", "asterisk", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [
        "skip\t1004\tauth 1004-auth has no password a phone could use (md5)",
        "add\t1001",
        "add\t1002",
        "add\t1003",
        "add\t2001",
        "dry run: 4 would be added, 0 would be changed, 0 would be removed, 0 unchanged, 1 skipped",
    ]
    assert extensions(session) == {}

    done = run("sync", "asterisk")
    assert done.exit_code == 0, done.output
    assert "4 added, 0 changed, 0 removed, 0 unchanged, 1 skipped" in done.stdout
    assert "4 user account(s) opened" in done.stdout
    # Weak secrets are reported, not refused: they are the PBX's.
    assert "warning: 3 secret(s) break the secret policy (1001, 1002, 1003)" in done.stderr
    assert extensions(session) == synced()  # the trunk ("carrier": no auth=) is no phone's line
    for secret in ("5f4dcc3b5aa765d61d8327deb882cf99", "Zoe-Secret_42", "bob;semi-Colon1"):
        assert secret not in done.output
    history = session.scalars(select(Event.detail).where(Event.kind == EventKind.ADMIN.value, Event.actor == "cli"))
    assert [d for d in history if "synced" in d] == [
        f"extensions synced from Asterisk ({etc_asterisk}): 4 added, 0 changed, 0 removed, 0 unchanged, 1 skipped"
    ]

    again = run("sync", "asterisk")
    assert again.stdout.splitlines()[-1] == "0 added, 0 changed, 0 removed, 4 unchanged, 1 skipped"


def test_the_phone_gets_the_secret_the_pbx_has(run, client, session, etc_asterisk):
    assert run("sync", "asterisk").exit_code == 0
    phone = YealinkPhone(client, "001565aabb01")
    assert phone.login("2001", USER_PASSWORD).findtext("Title") == "Logged in"
    config = phone.boot()
    assert (config["account.1.user_name"], config["account.1.password"]) == ("2001", "Zoe-Secret_42")
    assert config["account.1.display_name"] == 'Zo"e" Lee'


def test_changes_and_removals_in_the_files_are_synced(run, session, etc_asterisk):
    assert run("sync", "asterisk").exit_code == 0
    auth = etc_asterisk / "pjsip.auth.conf"
    auth.write_text(auth.read_text().replace("password=1003\n", "password=Carol-New-Secret-7\n"))
    custom = etc_asterisk / "pjsip.endpoint_custom.conf"
    custom.write_text("".join(f";{line}\n" for line in custom.read_text().splitlines()))  # 2001 commented out
    (etc_asterisk / "pjsip.d").mkdir()
    (etc_asterisk / "pjsip.d" / "lobby.conf").write_text(  # pjsip.conf's #tryinclude pjsip.d/*.conf
        "[3001](office-phone)\nauth=3001-auth\ncallerid=Lobby <3001>\n"
        "[3001-auth](office-auth)\npassword=Lobby-Phone-1\n"
    )

    result = run("sync", "asterisk")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:-2] == ["change\t1003\tsecret", "add\t3001", "remove\t2001"]
    expected = synced(
        **{"1003": ("Carol Reed-Smith", "Carol-New-Secret-7", "carol", "asterisk")},
        **{"3001": ("Lobby", "Lobby-Phone-1", None, "asterisk")},
    )
    del expected["2001"]
    assert extensions(session) == expected


@pytest.mark.parametrize(
    "file, edit, problem",
    [
        (
            "pjsip.endpoint.conf",
            lambda t: t.replace("allow=ulaw,alaw\n", "allow ulaw,alaw\n", 1),
            "pjsip.endpoint.conf:62: no '=' in the line (key = value expected)",
        ),
        (
            "pjsip.auth.conf",
            lambda t: t.replace("[1002-auth]", "[1002-auth"),
            "pjsip.auth.conf:14: a [section] line without its closing ']' or with text after it",
        ),
        (
            "pjsip.endpoint_custom.conf",
            lambda t: t.replace("(office-phone)", "(office-fone)"),
            "pjsip.endpoint_custom.conf:1: template 'office-fone' is not defined above this line",
        ),
        (
            "pjsip.endpoint.conf",
            lambda t: t.replace("auth=1002-auth", "auth=1002-auht"),
            "pjsip.endpoint.conf:46: endpoint 1002: auth=1002-auht names no type=auth section",
        ),
        (
            "pjsip.conf",
            lambda t: t.replace("#include pjsip.aor.conf", "#include pjsip.aors.conf"),
            "pjsip.conf:14: #include of 'pjsip.aors.conf', which does not exist (#tryinclude may be missing)",
        ),
        (
            "pjsip.auth.conf",
            lambda t: t[:-5],
            "pjsip.auth.conf:36: the last line is cut short or the file is empty (being written?)",
        ),
    ],
)
def test_a_broken_line_is_named_and_nothing_changes(run, session, etc_asterisk, file, edit, problem):
    assert run("sync", "asterisk").exit_code == 0
    before = extensions(session)
    auth = etc_asterisk / "pjsip.auth.conf"
    auth.write_text(auth.read_text().replace("password=1003\n", "password=Carol-New-Secret-7\n"))
    path = etc_asterisk / file
    path.write_text(edit(path.read_text()))

    for args in (("sync", "asterisk"), ("sync", "asterisk", "--dry-run")):
        result = run(*args)
        assert result.exit_code == 1
        assert result.output == f"Error: {problem}\n"
    assert extensions(session) == before


def test_an_extension_hotdesk_had_is_taken_over(run, session, etc_asterisk):
    session.add(Extension(number="1001", name="Alice (CSV)", secret="Old-Secret-1", voicemail_pin="4321"))
    session.add(Extension(number="5000", name="Not on the PBX", secret="Own-Secret-1"))
    session.commit()
    result = run("sync", "asterisk")
    assert "take over\t1001\tname, secret" in result.stdout.splitlines()
    rows = extensions(session)
    assert rows["1001"] == synced()["1001"]
    assert rows["5000"] == ("Not on the PBX", "Own-Secret-1", None, None)  # hotdesk's own: left alone
    assert session.scalar(select(Extension.voicemail_pin).where(Extension.number == "1001")) == "4321"


def test_synced_extensions_are_read_only_on_every_face(run, client, session, etc_asterisk):
    assert run("sync", "asterisk").exit_code == 0
    cli = run("extensions", "set", "1002", "--name", "Robert")
    assert cli.exit_code == 1
    assert "extension 1002 is synced from the PBX (Asterisk): change it there" in cli.output
    assert run("extensions", "delete", "1002").exit_code == 1
    assert "source\tthe PBX (sync asterisk)" in run("extensions", "show", "1002").stdout.splitlines()

    token = accounts.create_token(session, "sync-test", "test", scopes=("read", "write")).secret
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    patched = client.patch("/api/v1/extensions/1002", json={"name": "Robert"}, headers=headers)
    assert patched.status_code == 403 and "synced from the PBX" in patched.json["error"]
    assert client.delete("/api/v1/extensions/1002", headers=headers).status_code == 403

    accounts.add_admin(session, "ann", PASSWORD, "test")
    session.commit()
    console = Console(client)
    assert console.sign_in().status_code == 302
    listing = console.page("/admin/extensions")
    assert listing.xpath("//tr[td/a='1002']//span[@class='badge']/text()") == ["PBX"]
    form = console.page("/admin/extensions/1002")
    assert "Synced from the PBX" in form.get_element_by_id("synced").text_content()
    edited = console.post("/admin/extensions/1002", {"name": "Robert", "email": ""}, token_from=form)
    assert edited.status_code == 422 and "synced from the PBX" in text(edited)
    assert extensions(session)["1002"] == synced()["1002"]


def test_the_api_syncs_and_previews(client, session, etc_asterisk, notifier):
    token = accounts.create_token(session, "sync-api", "test", scopes=("read", "write")).secret
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    dry = client.post("/api/v1/sync/asterisk?dry_run=true", headers=headers)
    assert dry.status_code == 200 and dry.json["dry_run"] is True
    assert [(c["extension"], c["action"]) for c in dry.json["changes"]] == [
        ("1004", "skip"),
        ("1001", "add"),
        ("1002", "add"),
        ("1003", "add"),
        ("2001", "add"),
    ]
    assert extensions(session) == {}
    done = client.post("/api/v1/sync/asterisk", headers=headers)
    assert done.status_code == 200 and done.json["weak_secrets"] == ["1001", "1002", "1003"]
    assert extensions(session) == synced()

    # 2001 logged in on a phone, then gone from the PBX: removed, the phone logged out and told.
    phone = YealinkPhone(client, "001565aabb02")
    assert phone.login("2001", USER_PASSWORD).findtext("Title") == "Logged in"
    notifier.sent.clear()
    (etc_asterisk / "pjsip.endpoint_custom.conf").write_text("")
    removed = client.post("/api/v1/sync/asterisk", headers=headers)
    assert [(c["extension"], c["action"]) for c in removed.json["changes"]][-1] == ("2001", "remove")
    assert session.scalar(select(Mapping)) is None
    assert [(n.mac, n.host) for n in notifier.sent] == [("001565aabb02", phone.ip)]

    (etc_asterisk / "pjsip.conf").unlink()
    missing = client.post("/api/v1/sync/asterisk", headers=headers)
    assert missing.status_code == 422 and missing.json["error"] == "pjsip.conf: no such file"


def test_the_console_previews_then_syncs(client, session, etc_asterisk):
    accounts.add_admin(session, "ann", PASSWORD, "test")
    session.commit()
    console = Console(client)
    assert console.sign_in().status_code == 302
    page = console.page("/admin/extensions")
    preview = console.post("/admin/extensions/sync-asterisk", {"dry_run": "true"}, token_from=page)
    assert preview.status_code == 200
    assert "Nothing was changed: 4 would be added" in text(preview)
    assert extensions(session) == {}
    doc = html.fromstring(preview.data)
    done = console.post("/admin/extensions/sync-asterisk", {"dry_run": "false"}, token_from=doc)
    assert done.status_code == 200 and "4 added" in text(done)
    assert "3 secret(s) break the secret policy" in text(done)
    assert extensions(session) == synced()

    (etc_asterisk / "pjsip.aor.conf").write_text("[1001]\nmax_contacts\n")
    refused = console.post("/admin/extensions/sync-asterisk", {"dry_run": "false"}, token_from=page)
    assert refused.status_code == 302
    assert "pjsip.aor.conf:2: no '=' in the line" in text(console.get("/admin/extensions"))


def test_a_csv_import_does_not_overwrite_what_the_pbx_owns(run, session, etc_asterisk, tmp_path):
    assert run("sync", "asterisk").exit_code == 0
    csv = tmp_path / "users.csv"
    csv.write_text("extension,name,secret\n5000,New Person,New-Secret-1\n1002,Robert,Other-Secret-1\n")
    result = run("extensions", "import", csv)
    assert result.exit_code == 1
    assert f"{csv}, line 3: extension 1002 is synced from the PBX: change it there" in result.output
    assert "5000" not in extensions(session) and extensions(session)["1002"] == synced()["1002"]


def test_the_scheduler_syncs_each_tenant_when_due(database_url, session, etc_asterisk, tmp_path, caplog):
    from hotdesk import runtime, scheduler
    from hotdesk.config import Config
    from tests.phones import RecordingNotifier

    running = runtime.build(
        Config(database_url=database_url, secret_key="k", trusted_proxies=0, instance_path=tmp_path),
        notifier=RecordingNotifier(),
    )
    try:
        last_runs: dict[int, float] = {}
        assert scheduler.sync_from_asterisk(running, last_runs, now=1000.0) == 0  # asterisk_sync_minutes 0: off
        settings_registry().set(session, "asterisk_sync_minutes", "15")
        session.commit()
        assert scheduler.sync_from_asterisk(running, last_runs, now=1000.0) == 1
        assert extensions(session) == synced()
        auth = etc_asterisk / "pjsip.auth.conf"
        auth.write_text(auth.read_text().replace("password=1003\n", "password=Carol-New-Secret-7\n"))
        assert scheduler.sync_from_asterisk(running, last_runs, now=1000.0 + 14 * 60) == 0  # not due yet
        assert extensions(session)["1003"][1] == "1003"
        assert scheduler.sync_from_asterisk(running, last_runs, now=1000.0 + 15 * 60) == 1
        assert extensions(session)["1003"][1] == "Carol-New-Secret-7"

        auth.write_text(auth.read_text().replace("[1002-auth]", "[1002-auth"))
        assert scheduler.sync_from_asterisk(running, last_runs, now=1000.0 + 30 * 60) == 1
        assert "sync asterisk for tenant default: pjsip.auth.conf:14:" in caplog.text
        assert extensions(session)["1003"][1] == "Carol-New-Secret-7"
    finally:
        running.close()


def test_a_tenant_syncs_from_its_own_pbx_only(run, session, etc_asterisk, tmp_path):
    from hotdesk import tenancy

    acme = tenancy.add(session, settings_registry(), "acme", "acme.example.com", "test").tenant
    session.commit()
    # The installation's directory is the default tenant's PBX: acme may not take its secrets.
    refused = run("sync", "asterisk", "--tenant", "acme")
    assert refused.exit_code == 1 and "this tenant has no asterisk_config_dir of its own" in refused.output
    acme_dir = tmp_path / "acme-asterisk"
    acme_dir.mkdir()
    (acme_dir / "pjsip.conf").write_text(
        "[7001]\ntype=endpoint\nauth=7001-auth\ncallerid=Ann Acme <7001>\n"
        "[7001-auth]\ntype=auth\nusername=7001\npassword=Acme-Secret-1\n"
    )
    assert run("settings", "set", "asterisk_config_dir", acme_dir, "--tenant", "acme").exit_code == 0
    done = run("sync", "asterisk", "--tenant", "acme")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[0] == "add\t7001"
    session.expire_all()
    rows = session.execute(select(Extension.tenant_id, Extension.number)).all()
    assert rows == [(acme.id, "7001")]
