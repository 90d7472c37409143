"""The one builder of a running hotdesk: what the web app, every CLI command and the scheduler hold.

Built in one place so no process can come up half-wired (a NOTIFY sender without the history,
a session factory without the fast path's hooks). No Flask here: the CLI and the scheduler
build it without loading the web layer. It is also where the core meets the brands, which know
nothing of each other: the brands' settings join the registry, their NOTIFY flavour the notifier,
their stock templates the database (docs/architecture.md, "Arrows").
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hotdesk import access_codes, brands, mail, published, softphone, sso
from hotdesk.config import Config
from hotdesk.db import make_engine, make_session_factory
from hotdesk.notifications import DeviceNotifier, NotifyFlavour, notification_recorder, notify_through_pbx
from hotdesk.notify import NotifyDispatcher
from hotdesk.pbx import ami
from hotdesk.setting_store import Settings
from hotdesk.settings import CORE_SETTINGS, SettingValues
from hotdesk.sightings import Sightings
from hotdesk.snapshot import SnapshotCache


@dataclass
class Hotdesk:
    """What one running process holds: the database, the settings registry and its cached values, the NOTIFY sender."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    settings: Settings
    notifier: DeviceNotifier
    snapshots: SnapshotCache
    sightings: Sightings  # last-seen updates, written in batches
    published: published.PublishedFiles | None  # the nginx fast path, when HOTDESK_PUBLISH_DIR is set
    mail: mail.sender.MailSender  # sends the mail queue; started by the web app and the scheduler

    def close(self) -> None:
        """Let queued NOTIFYs finish (their outcomes reach the history), write pending sightings, disconnect."""
        self.mail.stop()
        self.notifier.shutdown(wait=True)
        ami.close_all()
        self.sightings.flush()
        self.engine.dispose()


def settings_registry() -> Settings:
    return Settings(
        [
            *CORE_SETTINGS,
            *softphone.options.SETTINGS,
            *mail.options.SETTINGS,
            *sso.SETTINGS,
            *access_codes.SETTINGS,
            *brands.setting_specs(),
        ]
    )


def notify_flavour(brand_key: str, settings: SettingValues) -> NotifyFlavour | None:
    """How a brand's phones are told to reload (hotdesk.notifications names no brand)."""
    brand = brands.BRANDS.get(brand_key)
    if brand is None:
        return None
    body = brand.notify_body()
    if body is None:
        return NotifyFlavour(brand.notify_event(settings))
    return NotifyFlavour(brand.notify_event(settings), body.text, body.content_type)


def stock_templates() -> list[tuple[str, str, str]]:
    """(brand, name, body) of every brand's stock templates, which `init-db` seeds (hotdesk.schema)."""
    return [
        (brand.key, name, body) for brand in brands.BRANDS.values() for name, body in brand.stock_templates().items()
    ]


def build(config: Config, *, notifier: NotifyDispatcher | None = None) -> Hotdesk:
    """Engine and sessions (the snapshot counter's hooks come with every session factory, the fast
    path's are attached here), settings, the snapshot cache, sightings, the NOTIFY sender whose
    outcomes go to the history, and the mail sender (not started). `notifier`: a stand-in, for tests."""
    engine = make_engine(config.database_url)
    sessions = make_session_factory(engine)
    registry = settings_registry()
    return Hotdesk(
        config=config,
        engine=engine,
        sessions=sessions,
        settings=registry,
        notifier=DeviceNotifier(
            notifier
            if notifier is not None
            else NotifyDispatcher(on_outcome=notification_recorder(sessions), via_pbx=notify_through_pbx),
            notify_flavour,
        ),
        snapshots=SnapshotCache(registry),
        sightings=Sightings(sessions),
        published=published.attach(sessions, config),
        mail=mail.sender.MailSender(sessions, registry, config.secret_key),
    )
