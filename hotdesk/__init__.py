"""hotdesk: a hot-desking server for office desk phones."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.middleware.proxy_fix import ProxyFix

from hotdesk import brands, published
from hotdesk.config import Config
from hotdesk.db import make_engine, make_session_factory
from hotdesk.notify import NotifyDispatcher
from hotdesk.settings import CORE_SETTINGS, Settings
from hotdesk.sightings import Sightings
from hotdesk.snapshot import SnapshotCache

if TYPE_CHECKING:
    from hotdesk.web.http_auth import DigestNonces


@dataclass
class Hotdesk:
    """What one running app holds: the database, the settings registry and its cached values, the NOTIFY sender."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    settings: Settings
    notifier: NotifyDispatcher
    snapshots: SnapshotCache
    published: published.PublishedFiles | None = None  # the nginx fast path, when HOTDESK_PUBLISH_DIR is set
    sightings: Sightings | None = None  # last-seen updates, written in batches
    digest_nonces: DigestNonces | None = None  # the phone faces' Digest nonces and this host's nc marks


def _log_to_stderr() -> None:
    """hotdesk's own log lines (failed logins for fail2ban, NOTIFY outcomes) on stderr, with time."""
    logger = logging.getLogger("hotdesk")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def settings_registry() -> Settings:
    return Settings([*CORE_SETTINGS, *brands.setting_specs()])


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
    app = Flask(__name__, instance_path=str(config.instance_path))
    app.config["SECRET_KEY"] = config.secret_key
    engine = make_engine(config.database_url)
    sessions = make_session_factory(engine)
    if notifier is None:
        from hotdesk.notifications import notification_recorder

        notifier = NotifyDispatcher(on_outcome=notification_recorder(sessions))
    registry = settings_registry()
    files = published.attach(sessions, config)
    if files is not None:
        files.retire()  # what a crash may have left behind; workers publish again on demand
    sightings = Sightings(sessions)
    from hotdesk.web.http_auth import DigestNonces, NonceCounts

    nonces = DigestNonces(config.secret_key, NonceCounts(config.instance_path / "digest-nonces.db"))
    app.extensions["hotdesk"] = Hotdesk(
        config, engine, sessions, registry, notifier, SnapshotCache(registry), files, sightings, nonces
    )

    if files is not None and "phones" in faces:
        from hotdesk.web.published_answers import PublishedAnswers

        app.wsgi_app = PublishedAnswers(app.wsgi_app, files, sightings, nonces)  # type: ignore[method-assign]
    if config.trusted_proxies:
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]

    from hotdesk import web

    web.init_app(app, faces)
    return app
