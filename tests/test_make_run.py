"""`make run` as an operator starts it, against clients that are slow or malformed on purpose:
they delay no phone, and what they send (a PIN in a query string) stays out of the logs."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from hotdesk import settings_registry
from hotdesk.db import make_engine, make_session_factory
from tests.conftest import PROVISIONING
from tests.live_servers import ROOT, free_port, wait_for_port

pytestmark = pytest.mark.slow

YEALINK_UA = "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc"


class MakeRun:
    """`make run` with HOTDESK_BIND on a loopback port, in its own process group."""

    def __init__(self, log, database_url):
        self.port = free_port()
        self.log_path = log
        env = {
            **os.environ,
            "HOTDESK_DATABASE_URL": database_url,
            "HOTDESK_BIND": f"127.0.0.1:{self.port}",
            "HOTDESK_INSTANCE_PATH": str(log.parent / "instance"),  # not the checkout's instance/
        }
        env.pop("MAKEFLAGS", None)
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                ["make", "--no-print-directory", "run"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port(self.port, self.process, log, timeout=120)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory, database_url):
    engine = make_engine(database_url)
    server = MakeRun(tmp_path_factory.mktemp("make_run") / "make-run.log", database_url)
    try:
        with make_session_factory(engine)() as session:
            registry = settings_registry()
            registry.set(session, "provisioning_username", PROVISIONING[0])
            registry.set(session, "provisioning_password", PROVISIONING[1])
            session.commit()
        yield server
    finally:
        server.stop()
        engine.dispose()


def fetch(port: int) -> tuple[int, float]:
    """A Yealink's fetch of its brand's common file: status and seconds."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/provision/y000000000066.cfg",
        headers={
            "User-Agent": YEALINK_UA,
            "Authorization": "Basic " + base64.b64encode(":".join(PROVISIONING).encode()).decode(),
        },
    )
    start = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        return response.status, time.monotonic() - start


def slowloris(port: int, stop: threading.Event, opened: list) -> None:
    """A client that sends its request's headers a byte every 0.2 s and never finishes them."""
    head = b"GET /provision/y000000000066.cfg HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 10_000
    with socket.create_connection(("127.0.0.1", port)) as sock:
        opened.append(sock)
        for byte in head:
            if stop.wait(0.2):
                return
            try:
                sock.send(bytes([byte]))
            except OSError:  # the server gave up on us: fine, and what it should do eventually
                return


def test_sixteen_slow_clients_do_not_delay_a_phone(server):
    assert fetch(server.port)[0] == 200
    stop, opened = threading.Event(), []
    clients = [threading.Thread(target=slowloris, args=(server.port, stop, opened)) for _ in range(16)]
    for client in clients:
        client.start()
    try:
        deadline = time.monotonic() + 10
        while len(opened) < 16 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # every slow client has begun trickling into whatever reads it
        for _ in range(5):
            status, seconds = fetch(server.port)
            assert status == 200
            assert seconds < 2, f"a phone waited {seconds:.1f} s behind 16 slow clients"
    finally:
        stop.set()
        for client in clients:
            client.join()


def test_a_malformed_request_line_leaves_no_query_string_in_the_log(server):
    logged = len(server.log())
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        # No HTTP version: gunicorn quotes the whole line in its error log.
        sock.sendall(b"GET /phone/Secret-Token-77/login?extension=1001&password=918273\r\nHost: x\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400")
    deadline = time.monotonic() + 5
    while "Invalid request" not in server.log()[logged:] and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log()[logged:]
    assert "Invalid request" in log and "/phone/…/login" in log, log  # gunicorn did log the request line
    assert "918273" not in log and "password=" not in log, log
    assert "Secret-Token-77" not in log, log  # the phone's app token opens its login screen: a secret too
