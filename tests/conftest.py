import os

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from hotdesk import create_app, schema, settings_registry
from hotdesk.cli import main
from hotdesk.config import Config
from hotdesk.db import make_engine, make_session_factory
from hotdesk.models import Base, Extension
from hotdesk.runtime import stock_templates
from tests import tools
from tests.phones import RecordingNotifier
from tests.sipp import sipp_uas  # noqa: F401 (a fixture for every test module)
from tests.softphone_real import linphones  # noqa: F401 (likewise)

PROVISIONING = ("phones", "prov-Secret-1")
PROVISIONING_PATH = "default-tenant-provisioning-path-1"  # the default tenant's, for phones without credentials
USER_PASSWORD = "55667788"
ADMIN_PASSWORD = "90807060"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """SQLite by default; HOTDESK_TEST_DATABASE_URL runs the whole suite on e.g. PostgreSQL."""
    url = os.environ.get("HOTDESK_TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'hotdesk.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    schema.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    sessions = make_session_factory(engine)
    registry = settings_registry()
    with sessions() as session:
        schema.initialise(session, registry, stock_templates())
        session.commit()
        for name, value in {
            "provisioning_username": PROVISIONING[0],
            "provisioning_password": PROVISIONING[1],
            "provisioning_path": PROVISIONING_PATH,
            "user_password": USER_PASSWORD,
            "admin_password": ADMIN_PASSWORD,
            "external_address": "pbx.example.com:5080",
            "internal_address": "10.1.0.5",
            # What the suite was written for; tests/test_device_trust.py covers approve (the default) and known.
            "device_admission": "open",
        }.items():
            registry.set(session, name, value)
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with make_session_factory(engine)() as session:
        yield session


@pytest.fixture
def run(database_url, engine, tmp_path, monkeypatch):
    """The `hotdesk` command on the test database, as the `app` fixture's instance: same secret key,
    so a URL the command signs (a QR code's) is one the app accepts. Fails unless it exits with `code`."""
    monkeypatch.setenv("HOTDESK_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTDESK_INSTANCE_PATH", str(tmp_path / "cli-instance"))
    monkeypatch.setenv("HOTDESK_SECRET_KEY", "test-secret-key")

    def run(*args, code=0, stdin=None):
        result = CliRunner().invoke(main, [str(a) for a in args], input=stdin, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return run


@pytest.fixture
def notifier():
    return RecordingNotifier()


@pytest.fixture
def app(engine, database_url, notifier, tmp_path):
    yield from running_app(database_url, notifier, tmp_path)


@pytest.fixture
def published(tmp_path):
    """HOTDESK_PUBLISH_DIR of `publishing_app`."""
    return tmp_path / "published"


@pytest.fixture
def publishing_app(engine, database_url, notifier, tmp_path, published):
    """The app with HOTDESK_PUBLISH_DIR set (hotdesk.published)."""
    yield from running_app(database_url, notifier, tmp_path, publish_dir=published)


def running_app(database_url, notifier, tmp_path, **config):
    app = create_app(
        Config(
            database_url=database_url, secret_key="test-secret-key", trusted_proxies=0, instance_path=tmp_path, **config
        ),
        notifier=notifier,
    )
    app.config["TESTING"] = True
    yield app
    app.extensions["hotdesk"].engine.dispose()


@pytest.fixture
def extensions(session):
    """1001 has a voicemail PIN; 1002 has none (the global user password applies)."""
    session.add_all(
        [
            Extension(number="1001", name="Alice Martin", secret="alice-SIP-secret-9f3", voicemail_pin="4321"),
            Extension(number="1002", name='Bob & <Co> "Ünïcode"', secret="bob-SIP-secret-77a", auth_name="bob-auth"),
        ]
    )
    session.commit()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter):
    """One list of the tests skipped for a missing tool and how to install it, after pytest's own
    summary (the outermost wrapper ends last), just above the counts."""
    yield
    reasons = [
        report.longrepr[2]
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3
    ]
    skipped = tools.skipped_for_missing_tools(reasons)
    if skipped:
        terminalreporter.section("skipped: tools not installed", sep="=", yellow=True, bold=True)
        for package, count in sorted(skipped.items()):
            terminalreporter.line(f"{count} test(s) need Debian package {package}")
        terminalreporter.line(f"install: {tools.install_command(skipped)}   (or `make test-deps` as root)", bold=True)
