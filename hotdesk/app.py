"""The WSGI app: the running hotdesk (runtime.build) behind Flask, with the faces asked for.

The one module outside hotdesk.web that loads Flask; wsgi.py and gunicorn start here."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from hotdesk.config import Config
from hotdesk.notify import NotifyDispatcher
from hotdesk.runtime import build

__all__ = ["FACES", "create_app"]


def _log_to_stderr() -> None:
    """hotdesk's own log lines (failed logins for fail2ban, NOTIFY outcomes) on stderr, with time."""
    logger = logging.getLogger("hotdesk")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


FACES = ("phones", "admin")


def create_app(
    config: Config | None = None, notifier: NotifyDispatcher | None = None, faces: str | tuple[str, ...] = FACES
) -> Flask:
    """The WSGI app. `faces`: "phones" (provisioning and the phones' XML apps), "admin" (web console
    and REST API), or both; `make run` serves them on two addresses when HOTDESK_ADMIN_BIND is set."""
    faces = tuple(face.strip() for face in faces.split(",")) if isinstance(faces, str) else faces
    if not faces or set(faces) - set(FACES):
        raise ValueError(f"faces: choose from {', '.join(FACES)}, not {faces!r}")
    config = config or Config.from_env()
    _log_to_stderr()
    # No app-wide /static/: the package's static/ holds the console's assets, which its blueprint serves.
    app = Flask("hotdesk", instance_path=str(config.instance_path), static_folder=None)
    app.config["SECRET_KEY"] = config.secret_key
    running = build(config, notifier=notifier)
    # A worker's start deletes no published copy: another worker or host may be serving them
    # (only a change deletes them; `hotdesk published retire` all of them, see deploy/README.md).
    files = running.published
    app.extensions["hotdesk"] = running
    if config.send_mail:
        # In each worker (the app is made after the fork): a thread that sends queued mail within
        # seconds, whichever process queued it; the queue's claims keep workers from sending one twice.
        running.mail.start()
    # The phone faces' Digest nonces and this host's nonce-count marks (hotdesk.web.http_auth).
    from hotdesk.web.http_auth import DigestNonces, NonceCounts

    nonces = DigestNonces(config.secret_key, NonceCounts(config.instance_path / "digest-nonces.db"))
    app.extensions["hotdesk.digest_nonces"] = nonces

    if files is not None and "phones" in faces:
        from hotdesk.web.published_answers import PublishedAnswers

        answers = PublishedAnswers(app.wsgi_app, files, running.sightings, nonces)
        app.wsgi_app = answers  # type: ignore[method-assign]
    if config.trusted_proxies:
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]

    from hotdesk import web

    web.init_app(app, faces)
    return app
