"""The admin commands against bad input and for narrow API tokens: one line, never a traceback."""

import pytest
from click.testing import CliRunner

from hotdesk.cli import main
from tests.test_cli_admin import one_line_error


@pytest.fixture
def run(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "instance"))
    return lambda *args: CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("option, value", [("--until", "9999-12-31"), ("--since", "0001-01-01T00:00+01:00")])
def test_history_export_with_an_impossible_date_is_one_line(run, option, value):
    one_line_error(run("history", "export", option, value), f"{option[2:]}: '{value}' is out of range")
