"""Rate limits count per phone, so an office behind one address can reboot together."""

from sqlalchemy import select

from hotdesk.models import Device
from tests.phones import YealinkPhone

NAT = "198.51.100.20"


def test_three_hundred_phones_behind_one_address_boot_together(client, session):
    for i in range(300):
        phone = YealinkPhone(client, f"8015650{i:05x}", ip=NAT)
        for name in phone.provisioning_files():
            first = phone.get(f"/provision/{name}")  # no credentials yet: the challenge
            assert first.status_code == 401
            assert phone.fetch(name).status_code == 200
    assert len(list(session.scalars(select(Device.id)))) == 300


def test_one_phone_hammering_is_slowed_down_in_its_own_dialect(client, extensions):
    phone = YealinkPhone(client, "001565aabb01", ip=NAT)
    phone.boot()
    url = phone.keys()["External"]
    statuses = [phone.get(url, browser=True).status_code for _ in range(125)]
    assert statuses.count(429) > 0 and statuses[:100].count(429) == 0
    answer = phone.get(url, browser=True)
    assert answer.status_code == 429 and answer.headers["Retry-After"]
    assert b"<YealinkIPPhoneTextScreen" in answer.data and b"Too many requests" in answer.data
    other = YealinkPhone(client, "001565aabb02", ip=NAT)  # same address, another phone: not affected
    assert other.boot()


def test_requests_naming_no_phone_are_limited_per_address(client):
    statuses = [
        client.get(
            "/provision/whatever.cfg", headers={"User-Agent": "scanner"}, environ_base={"REMOTE_ADDR": "203.0.113.9"}
        ).status_code
        for _ in range(1210)
    ]
    assert statuses[-1] == 429 and statuses.count(429) <= 10
    elsewhere = client.get(
        "/provision/whatever.cfg", headers={"User-Agent": "scanner"}, environ_base={"REMOTE_ADDR": "203.0.113.10"}
    )
    assert elsewhere.status_code == 401
