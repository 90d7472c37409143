"""The admin commands against bad input and for narrow API tokens: one line, never a traceback."""

import pytest
from click.testing import CliRunner
from sqlalchemy import delete

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
