"""Cached settings, templates and pins: reused while nothing changed, fresh after any change.

Each change is made in its own session, as another worker, host or the CLI would make it; the
cache under test belongs to "this" worker."""

import pytest
from sqlalchemy import select

from hotdesk import settings_registry, templates
from hotdesk.admin import pins
from hotdesk.admin import templates as admin_templates
from hotdesk.db import make_session_factory
from hotdesk.models import Extension, Template
from hotdesk.settings import EXTERNAL_ADDRESS
from hotdesk.snapshot import SnapshotCache


@pytest.fixture
def cache():
    return SnapshotCache(settings_registry())


@pytest.fixture
def elsewhere(engine):
    """A session of another process."""
    with make_session_factory(engine)() as session:
        yield session


def fresh(cache, engine):
    with make_session_factory(engine)() as session:
        return cache.get(session)


def test_unchanged_database_gives_the_same_snapshot_without_reloading(cache, engine):
    assert fresh(cache, engine) is fresh(cache, engine)


def test_a_setting_changed_elsewhere_is_seen_on_the_next_read(cache, engine, elsewhere):
    before = fresh(cache, engine)
    settings_registry().set(elsewhere, "external_address", "sbc.example.org:5061")
    elsewhere.commit()
    after = fresh(cache, engine)
    assert before.settings[EXTERNAL_ADDRESS][:2] != ("sbc.example.org", 5061)
    assert after.settings[EXTERNAL_ADDRESS][:2] == ("sbc.example.org", 5061)


def test_an_uncommitted_change_does_not_leak_into_the_cache(cache, engine, elsewhere):
    before = fresh(cache, engine)
    settings_registry().set(elsewhere, "external_address", "sbc.example.org:5061")
    elsewhere.flush()
    assert fresh(cache, engine).settings[EXTERNAL_ADDRESS] == before.settings[EXTERNAL_ADDRESS]
    elsewhere.rollback()


def test_template_edit_and_new_default_are_seen(cache, engine, elsewhere):
    fresh(cache, engine)
    admin_templates.save(elsewhere, "yealink", "lobby", "#!version:1.0.0.1\n## lobby\n", "admin")
    elsewhere.commit()
    templates.set_default(elsewhere, "yealink", "lobby")
    elsewhere.commit()
    assert fresh(cache, engine).defaults["yealink"].name == "lobby"

    admin_templates.save(elsewhere, "yealink", "lobby", "#!version:1.0.0.1\n## lobby, second edition\n", "admin")
    elsewhere.commit()
    assert "second edition" in fresh(cache, engine).defaults["yealink"].body


def test_pin_and_unpin_are_seen(cache, engine, elsewhere, extensions):
    admin_templates.save(elsewhere, "yealink", "sales", "#!version:1.0.0.1\n## sales\n", "admin")
    elsewhere.commit()
    extension = elsewhere.scalar(select(Extension).where(Extension.number == "1001"))
    assert fresh(cache, engine).pins == {}

    pins.pin(elsewhere, "1001", "yealink/sales", "admin")
    elsewhere.commit()
    assert fresh(cache, engine).pins[(extension.id, "yealink")].name == "sales"

    pins.unpin(elsewhere, "1001", "yealink", "admin")
    elsewhere.commit()
    assert fresh(cache, engine).pins == {}


def test_deleting_a_template_drops_it_and_its_pins(cache, engine, elsewhere, extensions):
    admin_templates.save(elsewhere, "yealink", "sales", "#!version:1.0.0.1\n## sales\n", "admin")
    elsewhere.commit()
    pins.pin(elsewhere, "1001", "yealink/sales", "admin")
    elsewhere.commit()
    assert fresh(cache, engine).pins

    admin_templates.delete(elsewhere, "yealink", "sales", "admin")
    elsewhere.commit()
    snapshot = fresh(cache, engine)
    assert snapshot.pins == {} and "sales" not in {t.name for t in snapshot.templates.values()}


def test_the_cached_settings_cannot_be_changed_by_a_caller(cache, engine):
    with pytest.raises(TypeError):
        fresh(cache, engine).settings[EXTERNAL_ADDRESS] = "evil.example"  # type: ignore[index]


def test_template_bodies_in_the_snapshot_match_the_database(cache, engine, session):
    snapshot = fresh(cache, engine)
    for template in session.scalars(select(Template)):
        assert snapshot.templates[template.id].body == template.body
