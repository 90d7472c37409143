"""Migrations build exactly the schema the models describe, and go down and up again."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from hotdesk import schema
from hotdesk.db import make_engine
from hotdesk.models import Base


def test_migrated_database_matches_the_models(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_downgrade_to_nothing_and_up_again(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    config = schema.alembic_config(engine)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_the_revision_readiness_expects_is_alembics_head(engine):
    """hotdesk.health compares the database with schema.HEAD_REVISION, written by hand so that web
    workers never load Alembic: a new migration must move it too."""
    assert ScriptDirectory.from_config(schema.alembic_config(engine)).get_current_head() == schema.HEAD_REVISION
