"""A gunicorn worker killed (SIGKILL) in the middle of a login storm loses no login a phone was
told had succeeded, and leaves no mapping without its history (a login is one transaction).

Phones log in over real HTTP to gunicorn started from deploy/gunicorn.conf.py; twice during the
storm one worker is killed outright, whatever it is doing. The server is then restarted and
every phone that saw "Logged in" must still be its user's phone.
"""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from hotdesk import settings_registry
from hotdesk.models import Device, Event, Extension, Mapping
from tests.live_http import LiveClient
from tests.live_servers import Gunicorn, NotifyResponder
from tests.phones import YealinkPhone

pytestmark = pytest.mark.slow

PHONES = 48
CONCURRENCY = 8
KILLS = 3


def number(i: int) -> str:
    return str(3000 + i)


def pin(i: int) -> str:
    return f"{740000 + 37 * i}"


def mac(i: int) -> str:
    return f"001565c0{i:04x}"


@pytest.fixture
def server(engine, session, database_url, tmp_path):
    session.add_all(
        Extension(number=number(i), name=f"User {i}", secret=f"secret-{i}", voicemail_pin=pin(i)) for i in range(PHONES)
    )
    phones_side = NotifyResponder()
    settings_registry().set(session, "phone_sip_port", str(phones_side.port))
    session.commit()
    env = {
        "HOTDESK_DATABASE_URL": database_url,
        "HOTDESK_SECRET_KEY": "crash-test-key",
        "HOTDESK_INSTANCE_PATH": str(tmp_path),
    }

    def start() -> Gunicorn:
        return Gunicorn("wsgi:app", tmp_path / "gunicorn.log", env, workers=2)

    running = [start()]
    yield running, start
    running[-1].stop()
    phones_side.close(settle=0)


class Storm:
    """Phones logging in concurrently; `kill_during_logins` kills a worker while logins are being answered."""

    def __init__(self, url: str):
        # No retry on a dropped connection: a phone whose request died with the worker sees no answer.
        self.phones = [YealinkPhone(LiveClient(url, retry=False), mac(i)) for i in range(PHONES)]
        self.lock = threading.Condition()
        self.submitting = 0
        self.finished = 0

    def log_in(self, i: int) -> bool | None:
        """True: the phone was told it is logged in; False: told it is not; None: no answer (the kill)."""
        phone = self.phones[i]
        try:
            phone.boot()
            form = phone.press("External")
            with self.lock:
                self.submitting += 1
                self.lock.notify_all()
            try:
                answer = phone.submit(form, extension=number(i), password=pin(i))
            finally:
                with self.lock:
                    self.submitting -= 1
        except Exception:
            return None
        finally:
            with self.lock:
                self.finished += 1
                self.lock.notify_all()
        return answer.findtext("Title") == "Logged in"

    def kill_during_logins(self, gunicorn: Gunicorn, after: int) -> int:
        with self.lock:
            self.lock.wait_for(lambda: self.finished >= after and self.submitting > 0, timeout=10)
            victim = gunicorn.wait_for_workers()[after % gunicorn.workers]
            os.kill(victim, signal.SIGKILL)
        return victim


def test_no_login_a_phone_saw_succeed_is_lost_when_a_worker_is_killed(server, session):
    running, start = server
    gunicorn = running[0]
    gunicorn.wait_for_workers()
    storm = Storm(gunicorn.url)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        futures = [pool.submit(storm.log_in, i) for i in range(PHONES)]
        killed = [storm.kill_during_logins(gunicorn, after=k * PHONES // (KILLS + 1)) for k in range(1, KILLS + 1)]
        outcomes = [f.result() for f in futures]
    phones = storm.phones
    told_ok = [i for i, ok in enumerate(outcomes) if ok]
    assert len(killed) == KILLS and told_ok, outcomes
    # gunicorn replaced the killed workers: logins went on after the kills
    assert not set(killed) & set(gunicorn.wait_for_workers())

    gunicorn.stop()
    running.append(start())
    session.expire_all()
    mapped = {m.device.mac: m.extension.number for m in session.scalars(select(Mapping))}
    for i in told_ok:
        assert mapped.get(mac(i)) == number(i), (
            f"phone {i} was told it is logged in, but the database has {mapped.get(mac(i))}"
        )

    # No half-written login: a device is mapped exactly when its latest login/logout event is a login of that extension.
    for device in session.scalars(select(Device)):
        latest = session.scalar(
            select(Event)
            .where(Event.mac == device.mac, Event.kind.in_(("login", "logout")))
            .order_by(Event.id.desc())
            .limit(1)
        )
        expected = latest.extension if latest is not None and latest.kind == "login" else None
        assert mapped.get(device.mac) == expected, device.mac
    assert session.scalar(select(func.count()).select_from(Mapping)) == len(set(mapped.values()))

    for i in told_ok:  # and after the restart the phone gets its user's line
        phone = phones[i]
        phone.client = LiveClient(running[-1].url)
        assert phone.boot()["account.1.user_name"] == number(i)
