"""The `hotdesk` command: what it does, and that bad input gets one line and changes nothing."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from hotdesk.cli import main
from hotdesk.models import Extension, Setting, TemplatePin


@pytest.fixture
def run(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))

    def run(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


def write(tmp_path, text, name="users.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def count(session, model):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_import_adds_and_updates_extensions(run, session, tmp_path):
    first = write(
        tmp_path,
        "extension,name,secret,voicemail_pin,email,auth_name,template\n"
        "1001,Alice,s1,4321,alice@example.com,,yealink/default\n"
        "1002,Bob,s2,,,bob-auth,\n",
    )
    result = run("extensions", "import", first)
    assert result.exit_code == 0, result.output
    assert "2 extension(s) imported" in result.output

    result = run(
        "extensions", "import", write(tmp_path, "\ufeffextension,name,secret\n1001,Alice Martin,s1-new\n", "again.csv")
    )
    assert result.exit_code == 0, result.output
    session.expire_all()
    alice = session.scalar(select(Extension).where(Extension.number == "1001"))
    assert (alice.name, alice.secret, alice.email) == ("Alice Martin", "s1-new", None)
    assert count(session, Extension) == 2
    assert [(p.brand, p.template.name) for p in alice.pins] == [("yealink", "default")]


@pytest.mark.parametrize(
    "text, message",
    [
        ("extension,name\n1001,Alice\n", "line 1: missing column(s) secret"),
        ("extension,name,secret,colour\n1001,A,s,red\n", "line 1: unknown column(s) colour"),
        ("extension,name,secret\n1001,Alice,s1\n1002,,s2\n", "line 3: name:"),
        ("extension,name,secret\n1001,Alice,s1\n10 02,Bob,s2\n", "line 3: extension:"),
        ("extension,name,secret,voicemail_pin\n1001,Alice,s1,12ab\n", "line 2: voicemail_pin:"),
        ("extension,name,secret,email\n1001,Alice,s1,not-an-email\n", "line 2: email:"),
        ("extension,name,secret,template\n1001,Alice,s1,nope/none\n", "line 2: template:"),
        ("extension,name,secret\n1001,Alice,s1\n1001,Again,s2\n", "line 3: extension: 1001 is already on line 2"),
        ("extension,name,secret\n1001,Alice,s1,extra\n", "line 2: expected 3 fields"),
        ("extension,name,secret\n1001,Alice,has space\n", "line 2: secret:"),
    ],
)
def test_bad_csv_names_file_line_and_field_and_writes_nothing(run, session, tmp_path, text, message):
    path = write(tmp_path, text)
    result = run("extensions", "import", path)
    assert result.exit_code != 0
    assert result.output.count("\n") == 1, result.output
    assert str(path) in result.output and message in result.output
    assert count(session, Extension) == 0


def test_non_utf8_csv_is_refused(run, session, tmp_path):
    result = run("extensions", "import", write(tmp_path, "extension,name,secret\n1001,Jos\xe9,s\n", encoding="latin-1"))
    assert result.exit_code != 0 and "not UTF-8" in result.output
    assert count(session, Extension) == 0


def test_missing_file(run, tmp_path):
    result = run("extensions", "import", tmp_path / "nope.csv")
    assert result.exit_code != 0 and "nope.csv" in result.output


def test_add_and_list(run, session):
    result = run(
        "extensions",
        "add",
        "2001",
        "--name",
        "Carol",
        "--secret",
        "c-Secret-1",
        "--pin",
        "2468",
        "--email",
        "c@example.com",
    )
    assert result.exit_code == 0, result.output
    assert "2001\tCarol\tvoicemail=yes\tc@example.com" in run("extensions", "list").output
    assert count(session, TemplatePin) == 0


def test_add_with_bad_pin_changes_nothing(run, session):
    result = run("extensions", "add", "2001", "--name", "Carol", "--secret", "c", "--pin", "12x")
    assert result.exit_code != 0 and "voicemail_pin" in result.output
    assert count(session, Extension) == 0


def test_settings_set_get_and_errors(run, session):
    assert run("settings", "set", "external_address", "pbx.example.org:5070").exit_code == 0
    assert run("settings", "get", "external_address").output == "pbx.example.org:5070\n"
    before = count(session, Setting)

    unknown = run("settings", "set", "colour", "red")
    assert unknown.exit_code != 0 and "unknown setting 'colour'" in unknown.output
    bad_port = run("settings", "set", "phone_sip_port", "70000")
    assert bad_port.exit_code != 0 and "not a port number" in bad_port.output
    bad_host = run("settings", "set", "internal_address", "bad host!")
    assert bad_host.exit_code != 0
    assert run("settings", "get", "phone_sip_port").output == "5060\n"
    assert count(session, Setting) == before


def test_settings_list_hides_passwords(run):
    output = run("settings", "list").output
    assert "admin_password = (hidden)" in output and "90807060" not in output


def test_logout_rejects_a_bad_mac(run):
    result = run("logout", "00:15:65:zz:00:01")
    assert result.exit_code != 0 and "is not a MAC address" in result.output


def test_logout_of_an_unknown_phone(run):
    result = run("logout", "00:15:65:00:00:01")
    assert result.exit_code != 0 and "no phone with MAC 001565000001" in result.output


def test_logout_frees_the_phone_and_tells_it(run, client, extensions, session, sipp_uas):
    from hotdesk import settings_registry
    from tests.phones import YealinkPhone

    phone = YealinkPhone(client, "001565aabb01", ip="127.0.0.1")
    phone.login("1001", "4321")
    peer = sipp_uas("check-sync;reboot=true")
    settings_registry().set(session, "phone_sip_port", str(peer.port))
    session.commit()

    result = run("logout", "00-15-65-AA-BB-01")

    assert result.exit_code == 0, result.output
    assert "1001 logged out of 001565aabb01" in result.output
    assert "NOTIFY to 127.0.0.1: 200 OK" in result.output
    assert peer.wait() == 0, peer.diagnostics()
    assert phone.boot()["account.1.enable"] == "0"
    assert "1001" not in run("mappings", "list").output


def test_templates_set_default(run):
    assert "yealink/default  (default)" in run("templates", "list").output
    result = run("templates", "set-default", "yealink", "missing")
    assert result.exit_code != 0 and "no template yealink/missing" in result.output


def test_installed_console_script_initialises_a_fresh_database_twice(tmp_path):
    script = Path(sys.executable).parent / "hotdesk"
    env = {
        "HOTDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
        "HOTDESK_INSTANCE_PATH": str(tmp_path),
        "PATH": "",
    }
    for _ in range(2):
        done = subprocess.run([script, "init-db"], check=False, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    password = subprocess.run(
        [script, "settings", "get", "admin_password"], check=True, env=env, capture_output=True, text=True
    )
    assert password.stdout.strip().isdigit() and len(password.stdout.strip()) == 16


def test_command_on_an_uninitialised_database_says_so(tmp_path):
    script = Path(sys.executable).parent / "hotdesk"
    env = {
        "HOTDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
        "HOTDESK_INSTANCE_PATH": str(tmp_path),
        "PATH": "",
    }
    done = subprocess.run(
        [script, "extensions", "list"], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "hotdesk init-db" in done.stderr
