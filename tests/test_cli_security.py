"""The admin commands against bad input and for narrow API tokens: one line, never a traceback."""

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import delete

from hotdesk import events
from hotdesk.admin import accounts
from hotdesk.cli import main
from hotdesk.models import Extension
from tests.test_api_security import assert_formula_safe, stored, tricky_extensions
from tests.test_cli_admin import one_line_error


@pytest.fixture
def run(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))
    return lambda *args: CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("option, value", [("--until", "9999-12-31"), ("--since", "0001-01-01T00:00+01:00")])
def test_history_export_with_an_impossible_date_is_one_line(run, option, value):
    one_line_error(run("history", "export", option, value), f"{option[2:]}: '{value}' is out of range")


def test_extensions_export_to_a_file_imports_back_unchanged(run, session, tmp_path):
    tricky_extensions(session)
    before = stored(session)
    backup = tmp_path / "backup.csv"
    result = run("extensions", "export", backup)
    assert result.exit_code == 0, result.output
    assert_formula_safe(backup.read_text())
    assert backup.stat().st_mode & 0o777 == 0o600  # secrets and PINs
    assert run("extensions", "export").output == backup.read_text()
    session.execute(delete(Extension))
    session.commit()
    assert run("extensions", "import", backup).exit_code == 0
    assert stored(session) == before


def test_tokens_with_scopes_and_expiry(run, session):
    result = run("tokens", "create", "backup", "--scope", "secrets", "--expires", "2099-12-31")
    assert result.exit_code == 0, result.output
    token = accounts.token_named_by(session, result.stdout.strip())
    assert token.scopes == "read secrets" and "(read secrets)" in result.stderr
    assert events.aware(token.expires_at) == datetime(2100, 1, 1, tzinfo=UTC)  # through that day
    assert run("tokens", "create", "monitor", "--scope", "read", "--expires", "30").exit_code == 0
    assert run("tokens", "create", "sync").exit_code == 0
    listed = run("tokens", "list").output.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [
        ["backup", "read,secrets"],
        ["monitor", "read"],
        ["sync", "read,write"],
    ]
    assert listed[0].endswith("expires 2100-01-01 00:00") and listed[2].endswith("no expiry")

    one_line_error(
        run("tokens", "create", "x", "--scope", "admin"), "scope: 'admin' is not one of read, write, secrets"
    )
    one_line_error(run("tokens", "create", "x", "--expires", "soon"), "expires: 'soon' is neither")
    one_line_error(run("tokens", "create", "x", "--expires", "2020-01-01"), "not in the future")
    one_line_error(run("tokens", "create", "x", "--expires", "0"), "at least 1 day")
    one_line_error(run("tokens", "create", "x", "--expires", "9999-12-31"), "out of range")
