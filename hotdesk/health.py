"""Is this hotdesk ready to serve: the database reachable and migrated, the publish directory
writable (when set)? What a load balancer asks every second (`GET /readyz`), so one small query."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from hotdesk.schema import HEAD_REVISION

log = logging.getLogger("hotdesk.health")


def problems(engine: Engine, publish_dir: Path | None) -> list[str]:
    """What keeps this process from serving; empty when it is ready. Fixed wordings: no address,
    user name or error text of the database goes to whoever asks."""
    found = []
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:" and not os.access(database, os.R_OK | os.W_OK):
        # A pooled connection still reads a removed or closed-off file: ask the file itself.
        found.append("database unreachable")
    else:
        try:
            with engine.connect() as connection:
                revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError as error:
            log.warning("readiness: database unreachable: %s", type(error).__name__)
            found.append("database unreachable")
        else:
            if revision != HEAD_REVISION:
                found.append("database schema not current: run hotdesk init-db")
    if publish_dir is not None and not os.access(publish_dir, os.W_OK | os.X_OK):
        found.append("publish directory not writable")
    return found
