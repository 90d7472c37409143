"""Rate limits count per phone, so an office behind one address can reboot together."""

import socket
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hotdesk import settings_registry
from hotdesk.models import Device
from tests.live_http import LiveClient
from tests.live_servers import Gunicorn
from tests.phones import YealinkPhone, parse_xml

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
    def scanner(address: str) -> int:
        return client.get(
            "/provision/whatever.cfg", headers={"User-Agent": "scanner"}, environ_base={"REMOTE_ADDR": address}
        ).status_code

    # 1,200 a minute by default. The counter is a sliding window's: a minute that turns during the
    # run weighs the last minute's count by what is left of it, so the 429 may come a little later.
    statuses = [scanner("203.0.113.9") for _ in range(1200)]
    assert 429 not in statuses
    more = 0
    while scanner("203.0.113.9") != 429:
        more += 1
        assert more < 200, "no 429 after 1,400 requests in a few seconds"
    assert scanner("203.0.113.10") == 401


def test_a_request_naming_two_phones_is_about_none_and_counts_against_its_address(client, session):
    # The User-Agent names one phone, the file another: refused as an unknown file, and not let
    # through unlimited as if it were a phone's fetch.
    registry = settings_registry()
    registry.set(session, "anonymous_requests_per_minute", "3")
    session.commit()
    headers = {"User-Agent": "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:01"}
    statuses = [
        client.get("/provision/001565aabb02.cfg", headers=headers, environ_base={"REMOTE_ADDR": "203.0.113.7"})
        for _ in range(5)
    ]
    assert [response.status_code for response in statuses] == [401, 401, 401, 429, 429]
    phone = YealinkPhone(client, "001565aabb01", ip="203.0.113.7")  # the same address, one phone: its own
    assert phone.boot()


def raw_get(port: int, path: str, user_agent: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """One request over a bare socket: the status line, every header as sent (duplicates kept), the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {user_agent}\r\nConnection: close\r\n"
        connection.sendall(request.encode() + b"\r\n")
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("iso-8859-1").split("\r\n")
    headers = [(name.strip().lower(), value.strip()) for name, _, value in (line.partition(":") for line in lines)]
    return status, headers, body


def assert_one_well_formed_entity(headers: list[tuple[str, str]], body: bytes) -> dict[str, str]:
    names = [name for name, _ in headers]
    assert names.count("content-type") == 1 and names.count("content-length") == 1, headers
    assert len(names) == len(set(names)), headers  # nor any other header twice (the limiter's included)
    assert "transfer-encoding" not in names
    values = dict(headers)
    assert int(values["content-length"]) == len(body), (values["content-length"], len(body))
    return values


@pytest.fixture
def gunicorn(engine, session, database_url, tmp_path):
    registry = settings_registry()
    registry.set(session, "device_requests_per_minute", "3")
    registry.set(session, "anonymous_requests_per_minute", "3")
    session.commit()
    env = {"HOTDESK_DATABASE_URL": database_url, "HOTDESK_SECRET_KEY": "k", "HOTDESK_INSTANCE_PATH": str(tmp_path)}
    server = Gunicorn("wsgi:app", tmp_path / "gunicorn.log", env, workers=1)
    yield server
    server.stop()


def test_a_rate_limited_answer_is_one_well_formed_http_response_in_the_phones_dialect(gunicorn, extensions):
    phone = YealinkPhone(LiveClient(gunicorn.url), "001565aabb01")
    phone.boot()
    path = urlsplit(phone.keys()["External"]).path
    answers = [raw_get(gunicorn.port, path, phone.user_agent) for _ in range(5)]
    status, headers, body = answers[-1]
    assert status == "HTTP/1.1 429 TOO MANY REQUESTS", [a[0] for a in answers]
    values = assert_one_well_formed_entity(headers, body)
    assert values["content-type"] == "text/xml; charset=utf-8" and int(values["retry-after"]) > 0
    screen = parse_xml(body)
    assert screen.tag == "YealinkIPPhoneTextScreen" and "Too many requests" in screen.findtext("Text")

    # A request naming no phone is answered in plain text, as well formed.
    answers = [raw_get(gunicorn.port, "/provision/whatever.cfg", "scanner") for _ in range(5)]
    status, headers, body = answers[-1]
    assert status.startswith("HTTP/1.1 429"), [a[0] for a in answers]
    values = assert_one_well_formed_entity(headers, body)
    assert values["content-type"].startswith("text/plain") and b"Too many requests" in body


def test_the_counters_live_in_one_swept_store_that_starts_no_thread_per_request(client, extensions, monkeypatch):
    """Each worker's counters: limited as before, given back once expired, and swept by one thread
    of their own rather than a new thread after every counted request (hotdesk.web.ratelimit)."""
    import threading
    import time

    from limits import RateLimitItemPerSecond, strategies

    from hotdesk.web.ratelimit import SweptMemoryStorage

    [limiter] = client.application.extensions["limiter"]
    store = limiter.storage
    assert isinstance(store, SweptMemoryStorage)
    phone = YealinkPhone(client, "001565aabb07", ip=NAT)
    phone.boot()
    started = []
    original_start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread.name) or original_start(thread))
    for _ in range(5):
        assert phone.get(phone.keys()["External"], browser=True).status_code == 200
        time.sleep(0.02)  # MemoryStorage's own timer would have ended by the next request
    # At most the sweeper, once (the first count starts it); never MemoryStorage's Timer ("Thread-N").
    assert [name for name in started if "ratelimit" in name or name.startswith("Thread")] in (
        [],
        ["hotdesk-ratelimit-sweep"],
    )

    per_second = strategies.SlidingWindowCounterRateLimiter(store)
    twice = RateLimitItemPerSecond(2)
    assert [per_second.hit(twice, "swept-test") for _ in range(3)] == [True, True, False]
    deadline = time.monotonic() + 10
    while any("swept-test" in key for key in store.expirations):  # gone once expired and swept
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert per_second.hit(twice, "swept-test")
