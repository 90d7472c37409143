"""The one builder of a running hotdesk: what the web app, every CLI command and the scheduler hold.

Built in one place so no process can come up half-wired (a NOTIFY sender without the history,
a session factory without the fast path's hooks). No Flask here: the CLI and the scheduler
build it without loading the web layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hotdesk import brands, published
from hotdesk.config import Config
from hotdesk.db import make_engine, make_session_factory
from hotdesk.notifications import notification_recorder
from hotdesk.notify import NotifyDispatcher
from hotdesk.settings import CORE_SETTINGS, Settings
from hotdesk.sightings import Sightings
from hotdesk.snapshot import SnapshotCache


@dataclass
class Hotdesk:
    """What one running process holds: the database, the settings registry and its cached values, the NOTIFY sender."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    settings: Settings
    notifier: NotifyDispatcher
    snapshots: SnapshotCache
    sightings: Sightings  # last-seen updates, written in batches
    published: published.PublishedFiles | None  # the nginx fast path, when HOTDESK_PUBLISH_DIR is set

    def close(self) -> None:
        """Let queued NOTIFYs finish (their outcomes reach the history), write pending sightings, disconnect."""
        self.notifier.shutdown(wait=True)
        self.sightings.flush()
        self.engine.dispose()


def settings_registry() -> Settings:
    return Settings([*CORE_SETTINGS, *brands.setting_specs()])


def build(config: Config, *, notifier: NotifyDispatcher | None = None) -> Hotdesk:
    """Engine and sessions (the snapshot counter's hooks come with every session factory, the fast
    path's are attached here), settings, the snapshot cache, sightings, and the NOTIFY sender whose
    outcomes go to the history. `notifier`: a stand-in, for tests."""
    engine = make_engine(config.database_url)
    sessions = make_session_factory(engine)
    registry = settings_registry()
    return Hotdesk(
        config=config,
        engine=engine,
        sessions=sessions,
        settings=registry,
        notifier=notifier if notifier is not None else NotifyDispatcher(on_outcome=notification_recorder(sessions)),
        snapshots=SnapshotCache(registry),
        sightings=Sightings(sessions),
        published=published.attach(sessions, config),
    )
