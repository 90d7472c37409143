"""Last-seen updates leave the request path: noted by the fetch, written in one batch later."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hotdesk.models import Device, utcnow
from hotdesk.sightings import Sighting, Sightings
from tests.phones import YealinkPhone

MAC = "001565aabb31"


@pytest.fixture
def sightings(app):
    """The app's batch writer, with a round long enough that only the test flushes it."""
    hotdesk = app.extensions["hotdesk"]
    hotdesk.sightings = Sightings(hotdesk.sessions, interval=3600)
    return hotdesk.sightings


def last_seen(session):
    session.expire_all()
    return session.execute(select(Device.last_seen, Device.last_ip).where(Device.mac == MAC)).one()


def test_a_new_phone_is_recorded_at_once(client, sightings, session):
    YealinkPhone(client, MAC).boot()
    assert last_seen(session).last_ip == "10.20.0.31"


def test_a_known_phones_fetch_after_a_power_cut_writes_nothing_until_the_batch(client, sightings, session):
    phone = YealinkPhone(client, MAC)
    phone.boot()
    an_hour_ago = utcnow() - timedelta(hours=1)
    session.execute(update(Device).values(last_seen=an_hour_ago))
    session.commit()

    phone.ip = "10.20.0.77"  # back after the power cut, with a new address
    assert phone.boot()["account.1.enable"] == "0"
    seen, ip = last_seen(session)
    assert ip == "10.20.0.31" and seen == an_hour_ago

    sightings.flush()
    seen, ip = last_seen(session)
    assert ip == "10.20.0.77" and seen > an_hour_ago


def test_a_late_batch_never_moves_a_phone_back_in_time_nor_touches_another_phone(client, sightings, session):
    YealinkPhone(client, MAC).boot()
    device = session.scalar(select(Device).where(Device.mac == MAC))
    sightings.note(Sighting(device.id, MAC, "10.9.9.9", utcnow() - timedelta(hours=2)))  # older than the row
    sightings.note(Sighting(device.id + 1000, "001565ffffff", "10.9.9.8", utcnow()))  # no such phone
    sightings.flush()
    assert last_seen(session).last_ip == "10.20.0.31"


def test_fetches_answered_from_copies_are_noted_once_until_the_phone_moves(app, monkeypatch):
    sightings = Sightings(app.extensions["hotdesk"].sessions, interval=3600)
    noted = []
    monkeypatch.setattr(sightings, "note", noted.append)
    for _ in range(1000):
        sightings.saw(7, MAC, "10.20.0.31")
    sightings.saw(7, MAC, "10.20.0.32")  # moved desks
    sightings.saw(123_456, "001565aabb32", "10.20.0.31")  # ids far apart cost a few bytes each
    assert [(s.device_id, s.ip) for s in noted] == [(7, "10.20.0.31"), (7, "10.20.0.32"), (123_456, "10.20.0.31")]
