"""What hotdesk writes to disk is its own: the SQLite database, instance/ (secret key, Digest nonce
marks) 0600/0700; the published copies readable by nginx's group only (deploy/README.md), never
by others — not even the directory names, which hold each phone's fast-path secret."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hotdesk import create_app, schema, settings_registry
from hotdesk.config import Config
from hotdesk.db import make_engine, make_session_factory
from hotdesk.runtime import stock_templates
from tests.brands import EMULATORS
from tests.conftest import PROVISIONING
from tests.phones import RecordingNotifier


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.fixture
def open_umask():
    """The umask of a careless service manager: whatever hotdesk makes must not depend on it."""
    old = os.umask(0o002)
    yield
    os.umask(old)


def test_instance_database_and_published_files_are_not_for_others(tmp_path, open_umask):
    instance, published = tmp_path / "instance", tmp_path / "published"
    config = Config.from_env(
        {"HOTDESK_INSTANCE_PATH": str(instance), "HOTDESK_PUBLISH_DIR": str(published)}  # generates the key
    )
    engine = make_engine(config.database_url)
    schema.upgrade(engine)
    with make_session_factory(engine)() as session:
        schema.initialise(session, settings_registry(), stock_templates())
        session.commit()
        settings_registry().set(session, "provisioning_username", PROVISIONING[0])
        settings_registry().set(session, "provisioning_password", PROVISIONING[1])
        settings_registry().set(session, "device_admission", "open")  # issued its credentials at first fetch
        session.commit()
    engine.dispose()
    app = create_app(config, notifier=RecordingNotifier())
    try:
        phone = EMULATORS["yealink"](app.test_client(), "001565a1b2c3")
        phone.boot()  # issued its own credentials
        phone.server_url = "/provision/"
        phone.boot()  # rendered for them, and published
        phone.fetch(f"{phone.mac}.cfg")  # a Digest-free fetch from the copy
        phone.get(f"/provision/{phone.mac}.cfg")  # a challenge: a nonce issued
    finally:
        app.extensions["hotdesk"].engine.dispose()

    instance_modes = modes(instance)
    assert {"hotdesk.db", "secret_key"} <= set(instance_modes), instance_modes
    for name, mode in instance_modes.items():
        expected = 0o700 if (instance / name).is_dir() else 0o600
        assert mode == expected, f"instance/{name}: {mode:o}"

    published_modes = modes(published)
    assert any(name.startswith("current/001565a1b2c3/") for name in published_modes), published_modes
    for name, mode in published_modes.items():
        assert mode & 0o007 == 0, f"published/{name} is open to others: {mode:o}"
        if not name.startswith("current") and name != ".":
            assert mode & 0o070 == 0, f"published/{name} is open to the group: {mode:o}"


def test_an_existing_database_open_to_others_is_closed(tmp_path):
    database = tmp_path / "old.db"
    database.touch(mode=0o644)
    os.chmod(database, 0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_an_existing_instance_directory_open_to_others_is_closed(tmp_path):
    instance = tmp_path / "instance"
    Config.from_env({"HOTDESK_INSTANCE_PATH": str(instance)})  # made, with its key
    os.chmod(instance, 0o755)
    os.chmod(instance / "secret_key", 0o644)
    Config.from_env({"HOTDESK_INSTANCE_PATH": str(instance)})
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600
