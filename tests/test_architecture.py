"""The arrows of docs/architecture.md that a running process shows: the core and the command line
run without the web layer (`lint-imports`, in `make lint`, checks every arrow of the source)."""

import subprocess
import sys

from tests.live_servers import ROOT

WEB = ("flask", "werkzeug", "flask_limiter", "flask_wtf", "hotdesk.web", "hotdesk.app")


def loaded_after(code: str) -> set[str]:
    shown = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", shown], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_importing_the_core_loads_no_flask():
    loaded = loaded_after("import hotdesk.hotdesking, hotdesk.runtime, hotdesk.admin.phones, hotdesk.scheduler")
    assert "hotdesk.hotdesking" in loaded
    assert not {name for name in loaded if name.startswith(WEB)}


def test_the_command_line_loads_no_flask_for_a_command_without_web(engine, database_url):
    code = (
        "from click.testing import CliRunner\nfrom hotdesk.cli import main\n"
        f"result = CliRunner().invoke(main, ['settings', 'list'], env={{'HOTDESK_DATABASE_URL': {database_url!r},"
        " 'HOTDESK_SECRET_KEY': 'k'})\nassert result.exit_code == 0, result.output"
    )
    loaded = loaded_after(code)
    assert "hotdesk.cli" in loaded and "hotdesk.runtime" in loaded
    assert not {name for name in loaded if name.startswith(WEB)}


def test_the_app_factory_keeps_its_old_name():
    loaded = loaded_after(
        "from hotdesk import create_app\nfrom hotdesk.app import create_app as factory\nassert create_app is factory"
    )
    assert "flask" in loaded
