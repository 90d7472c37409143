"""Environment configuration (HOTDESK_*), read once when the app or CLI starts."""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
"""The directory holding the package: a git checkout (`make run`, editable installs) or site-packages."""


def default_instance_path() -> Path:
    """Where the SQLite database and the generated secret key live unless HOTDESK_INSTANCE_PATH says.

    From a checkout: its instance/ (`make run`). Installed from a wheel: Flask's place for an installed
    app, <sys.prefix>/var/hotdesk-instance (the venv's var/), so `hotdesk init-db`, gunicorn and the
    scheduler of one install find the same database and key from whatever directory they start in.
    """
    if (CHECKOUT / "pyproject.toml").is_file():
        return CHECKOUT / "instance"
    return Path(sys.prefix) / "var" / "hotdesk-instance"


@dataclass(frozen=True)
class Config:
    database_url: str
    secret_key: str
    trusted_proxies: int
    instance_path: Path
    publish_dir: Path | None = None  # the nginx fast path's files (hotdesk.published); None: off
    # The web app sends the mail queue from a thread of its own (hotdesk.mail.sender). On when read
    # from the environment (wsgi.py, `make run`); a test that builds its Config starts the sender itself.
    send_mail: bool = False

    @classmethod
    def from_env(cls, environ: os._Environ | dict = os.environ) -> Config:
        instance = Path(environ.get("HOTDESK_INSTANCE_PATH") or default_instance_path())
        database_url = environ.get("HOTDESK_DATABASE_URL") or f"sqlite:///{instance / 'hotdesk.db'}"
        proxies = environ.get("HOTDESK_TRUSTED_PROXIES", "0")
        if not proxies.isdigit():
            raise ValueError(f"HOTDESK_TRUSTED_PROXIES must be a whole number, not {proxies!r}")
        return cls(
            database_url=database_url,
            secret_key=environ.get("HOTDESK_SECRET_KEY") or _stored_secret_key(instance),
            trusted_proxies=int(proxies),
            instance_path=instance,
            publish_dir=Path(environ["HOTDESK_PUBLISH_DIR"]) if environ.get("HOTDESK_PUBLISH_DIR") else None,
            send_mail=True,
        )


def private_directory(path: Path) -> None:
    """Make `path` (and missing parents) readable by hotdesk's user alone: instance/ holds the secret
    key, the SQLite database and the Digest nonce marks. A directory an older version left open to
    others is closed too."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(path, 0o700)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it is missing (before a library creates it with its own
    mode); an existing one open to others is closed."""
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        _owner_only(path, 0o600)


def _owner_only(path: Path, mode: int) -> None:
    status = path.stat()
    if status.st_mode & 0o077 and status.st_uid == os.geteuid():
        os.chmod(path, mode)


def _stored_secret_key(instance: Path) -> str:
    """A key generated on first start and kept, so tokens in phones' configs survive restarts."""
    path = instance / "secret_key"
    try:
        key = path.read_text().strip()
        private_directory(instance)  # an instance/ (or key) left open to others is closed
        private_file(path)
        return key
    except FileNotFoundError:
        private_directory(instance)
        key = secrets.token_urlsafe(48)
        # O_EXCL: when several workers start at once, exactly one writes and all read the same key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key
