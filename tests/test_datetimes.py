"""Every database hands back moments as aware UTC datetimes (models.UtcDateTime), so no code repairs them."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import StatementError

from hotdesk.admin import accounts
from hotdesk.models import Device, Event
from tests.phones import YealinkPhone

MAC = "001565aabb41"
PARIS_WINTER = timezone(timedelta(hours=1))


def test_a_moment_written_in_any_zone_reads_back_as_aware_utc(client, session):
    YealinkPhone(client, MAC).boot()
    moment = datetime(2026, 1, 5, 9, 30, tzinfo=PARIS_WINTER)
    session.execute(update(Device).where(Device.mac == MAC).values(last_seen=moment))
    session.commit()
    session.expire_all()

    seen = session.scalar(select(Device.last_seen).where(Device.mac == MAC))
    assert seen == moment and seen.utcoffset() == timedelta(0)
    device = session.scalar(select(Device).where(Device.mac == MAC))
    assert device.created_at.tzinfo is not None and device.created_at.utcoffset() == timedelta(0)
    at = session.scalar(select(Event.at).order_by(Event.id.desc()).limit(1))
    assert at is None or at.utcoffset() == timedelta(0)


def test_the_api_shows_moments_in_utc(client, session):
    YealinkPhone(client, MAC).boot()
    session.execute(
        update(Device).where(Device.mac == MAC).values(last_seen=datetime(2026, 1, 5, 9, 30, tzinfo=PARIS_WINTER))
    )
    session.commit()
    token = accounts.create_token(session, "reader", "test", scopes=accounts.SCOPES).secret
    session.commit()
    response = client.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"})
    (device,) = [item for item in response.get_json()["items"] if item["mac"] == MAC]
    assert device["last_seen"] == "2026-01-05T08:30:00+00:00"


def test_a_naive_datetime_is_refused_rather_than_guessed(session):
    session.add(Event(kind="admin", detail="naive", at=datetime(2026, 1, 5, 9, 30)))
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()
