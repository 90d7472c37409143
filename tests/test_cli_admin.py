"""The admin commands: templates import, pins, history export, admins, tokens; one-line errors."""

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotdesk import hotdesking, settings_registry
from hotdesk.admin import accounts
from hotdesk.cli import main
from hotdesk.models import Address, Admin, ApiToken, Event, Extension, Template, TemplatePin


@pytest.fixture
def run(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))

    def run(*args, input=None):
        return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


def one_line_error(result, *fragments):
    assert result.exit_code != 0
    assert result.output.count("\n") == 1, result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


@pytest.fixture
def alice(session):
    session.add(Extension(number="1001", name="Alice", secret="s", voicemail_pin="4321"))
    session.commit()


def test_templates_import_checks_before_saving(run, session, tmp_path):
    stock = session.scalar(select(Template).where(Template.brand == "yealink", Template.name == "default")).body
    good = tmp_path / "lobby.cfg"
    good.write_text(stock.replace("External", "Outside"))
    result = run("templates", "import", good, "--brand", "yealink", "--name", "lobby")
    assert result.exit_code == 0, result.output
    assert "yealink/lobby" in run("templates", "list").output

    bad = tmp_path / "bad.cfg"
    bad.write_text("#!version:1.0.0.1\n{% if line %}\naccount.1.enable = 1\n")
    one_line_error(run("templates", "import", bad, "--brand", "yealink", "--name", "lobby"), str(bad), "line 3")
    session.expire_all()
    assert "Outside" in session.scalar(select(Template).where(Template.name == "lobby")).body

    one_line_error(run("templates", "import", good, "--brand", "nokia", "--name", "x"), "no brand 'nokia'")
    one_line_error(
        run("templates", "import", tmp_path / "missing.cfg", "--brand", "yealink", "--name", "x"), "missing.cfg"
    )


def test_pin_and_unpin_from_the_command_line(run, session, alice):
    assert run("mappings", "pin", "1001", "yealink/default").exit_code == 0
    assert run("mappings", "pins").output == "1001\tyealink/default\n"
    one_line_error(run("mappings", "pin", "1001", "yealink/nope"), "no template 'yealink/nope'")
    one_line_error(run("mappings", "pin", "9999", "yealink/default"), "no extension 9999")
    assert run("mappings", "unpin", "1001", "yealink").exit_code == 0
    one_line_error(run("mappings", "unpin", "1001", "yealink"), "has no yealink template pinned")
    session.expire_all()
    assert session.scalars(select(TemplatePin)).all() == []
    actors = {e.actor for e in session.scalars(select(Event).where(Event.kind == "admin"))}
    assert actors == {"cli"}


def test_history_export_with_filters(run, session, alice, tmp_path):
    registry = settings_registry()
    for mac in ("001565aabb01", "001565aabb02"):
        device = hotdesking.record_device(
            session, brand="yealink", mac=mac, model="T46S", firmware="66.86.0.15", ip="10.0.0.9"
        )
        hotdesking.login(session, registry.values(session), device, "1001", "4321", Address.EXTERNAL)
        session.commit()  # the caller's commit: the core only flushes

    out = tmp_path / "history.csv"
    assert run("history", "export", "--mac", "00:15:65:AA:BB:02", out).exit_code == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("id,at,kind,extension,mac")
    assert [line.split(",")[2:5] for line in lines[1:]] == [["login", "1001", "001565aabb02"]]

    stdout = run("history", "export", "--extension", "1001", "--kind", "logout").output.splitlines()
    assert [line.split(",")[4] for line in stdout[1:]] == ["001565aabb01"]  # auto_logout of the first phone
    one_line_error(run("history", "export", "--since", "last tuesday"), "since:")


def test_admins_add_from_stdin_and_prompt(run, session):
    result = run("admins", "add", "ann", "--password-stdin", input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    assert accounts.sign_in(session, "ann", "correct horse battery", None).name == "ann"
    session.commit()
    result = run("admins", "add", "bob", input="bobs long password\nbobs long password\n")
    assert result.exit_code == 0, result.output
    assert "bobs long password" not in result.output
    assert run("admins", "list").output.splitlines()[0].startswith("ann\t")

    one_line_error(
        run("admins", "add", "ann", "--password-stdin", input="another password\n"), "admin ann already exists"
    )
    one_line_error(run("admins", "add", "carl", "--password-stdin", input="short\n"), "password: needs at least")
    one_line_error(run("admins", "add", "bad name", "--password-stdin", input="correct horse battery\n"), "name:")
    session.expire_all()
    assert sorted(a.name for a in session.scalars(select(Admin))) == ["ann", "bob"]


def test_tokens_shown_once_listed_revoked(run, session):
    result = run("tokens", "create", "billing-sync")
    assert result.exit_code == 0
    secret = result.stdout.strip()
    assert secret.startswith("hdk_") and "cannot be shown again" in result.stderr
    assert accounts.token_named_by(session, secret).name == "billing-sync"
    assert secret not in run("tokens", "list").output
    assert run("tokens", "list").output.startswith("billing-sync\t")
    one_line_error(run("tokens", "create", "billing-sync"), "token billing-sync already exists")
    assert run("tokens", "revoke", "billing-sync").exit_code == 0
    one_line_error(run("tokens", "revoke", "billing-sync"), "no token billing-sync")
    session.expire_all()
    assert session.scalars(select(ApiToken)).all() == []
