"""Creating and migrating the schema (Alembic), and the rows a fresh database needs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hotdesk import snapshot, templates, tenancy
from hotdesk.setting_store import Settings

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's revision: what a database this code serves must be at (hotdesk.health).
# Written here rather than asked of Alembic, which weighs 11 MB in each web worker that would
# otherwise never load it; tests/test_migrations.py holds it to Alembic's head.
HEAD_REVISION = "0018"


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def initialise(session: Session, registry: Settings, stock: Iterable[tuple[str, str, str]]) -> None:
    """Generated passwords and the stock templates (brand, name, body: runtime.stock_templates);
    existing values are never overwritten."""
    snapshot.ensure_counter(session)
    tenancy.ensure_default(session)
    registry.seed(session)
    templates.seed_stock(session, stock)
