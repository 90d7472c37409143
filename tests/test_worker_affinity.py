"""deploy/gunicorn.conf.py keeps each worker to one CPU, spread over the CPUs gunicorn may use, and
gives a replaced worker the CPU of the one it replaces; HOTDESK_PIN_WORKERS=0 lets them move."""

import os
import signal
import time

import pytest

from tests.live_servers import Gunicorn

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this system")
ALLOWED = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()


def _affinities(server: Gunicorn, *, pinned: bool) -> dict[int, set[int]]:
    """The workers' CPUs, once each has set them (right after its fork: wait for that, not for a time)."""
    deadline = time.monotonic() + 30
    while True:
        found = {pid: os.sched_getaffinity(pid) for pid in server.wait_for_workers()}
        if not pinned or all(len(cpus) == 1 for cpus in found.values()) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture
def env(engine, database_url, tmp_path):
    return {
        "HOTDESK_DATABASE_URL": database_url,
        "HOTDESK_SECRET_KEY": "affinity-test-key",
        "HOTDESK_INSTANCE_PATH": str(tmp_path),
    }


def test_each_worker_keeps_to_its_own_cpu_and_a_replacement_takes_the_freed_one(env, tmp_path):
    workers = len(ALLOWED)
    server = Gunicorn("wsgi:app", tmp_path / "gunicorn.log", env, workers=workers)
    try:
        pinned = _affinities(server, pinned=True)
        assert all(len(cpus) == 1 for cpus in pinned.values()), pinned
        assert set().union(*pinned.values()) == ALLOWED  # one worker per CPU, none left out

        victim = next(iter(pinned))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while victim in server.children() or len(server.children()) < workers:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        replaced = _affinities(server, pinned=True)
        assert sorted(map(sorted, replaced.values())) == sorted(map(sorted, pinned.values()))
    finally:
        server.stop()


def test_workers_may_move_when_told_to(env, tmp_path):
    server = Gunicorn("wsgi:app", tmp_path / "gunicorn.log", env | {"HOTDESK_PIN_WORKERS": "0"}, workers=2)
    try:
        server.wait_for_workers()
        time.sleep(1)  # a worker that pins itself does so right after its fork: long done by now
        assert all(cpus == ALLOWED for cpus in _affinities(server, pinned=False).values())
    finally:
        server.stop()
