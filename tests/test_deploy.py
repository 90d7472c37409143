"""The deployment in deploy/ works as shipped: nginx (the site file and its proxy snippet) in front
of gunicorn (deploy/gunicorn.conf.py) with HOTDESK_TRUSTED_PROXIES=1, a phone logging in over
real HTTPS and HTTP, and its NOTIFY reaching the phone's own address, not nginx's.

nginx runs from the shipped files with only machine-specific values replaced (ports, paths, a
throwaway certificate), each replacement checked so the test breaks if the files change shape.
nginx connects to gunicorn from 127.0.0.3, so the app's peer is never the phone's 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hotdesk import settings_registry
from hotdesk.models import Event, Extension
from tests import tools
from tests.brands import EMULATORS
from tests.conftest import PROVISIONING_PATH
from tests.live_http import LiveClient
from tests.live_servers import NGINX, ROOT, Gunicorn, Nginx, free_port
from tests.phones import YealinkPhone
from tests.test_access_codes import code_in
from tests.test_mail import inbox  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow

MAC = "001565d0e1f2"
FAST_MAC = "001565d0e1f4"
CISCO_MAC = "a4b439d0e1f5"
PROXY_SOURCE = "127.0.0.3"
REBOOT_EVENT = "check-sync;reboot=true"


@dataclass
class Deployment:
    https_url: str
    http_url: str
    tls: ssl.SSLContext
    logs: Path
    app: Gunicorn
    published: Path
    cisco_url: str  # the port-6970 listener for Cisco enterprise phones, uncommented

    def logged(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs.glob("*.log")) + self.app.log()


def shipped(path: Path, replacements: dict[str, str]) -> str:
    text = path.read_text()
    for old, new in replacements.items():
        assert old in text, f"{path.relative_to(ROOT)} no longer contains {old!r}: update this test"
        text = text.replace(old, new)
    return text


def uncommented(text: str, first_line: str) -> str:
    """The shipped file with the commented-out block that starts at `first_line` switched on."""
    lines = text.splitlines()
    start = lines.index(first_line)
    end = lines.index("#}", start)
    return (
        "\n".join(lines[:start] + [line.removeprefix("#") for line in lines[start : end + 1]] + lines[end + 1 :]) + "\n"
    )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, database_url):
    if NGINX is None:
        tools.missing("nginx")
    if tools.which("openssl") is None:
        tools.missing("openssl")
    work = tmp_path_factory.mktemp("deploy")
    cert, key = work / "cert.pem", work / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    env = {
        "HOTDESK_DATABASE_URL": database_url,
        "HOTDESK_SECRET_KEY": "deploy-test-key",
        "HOTDESK_TRUSTED_PROXIES": "1",
        "HOTDESK_INSTANCE_PATH": str(work),
        "HOTDESK_PUBLISH_DIR": str(work / "published"),
    }
    app = Gunicorn("wsgi:app", work / "gunicorn.log", env)
    https, http = free_port(), free_port()
    snippet = work / "hotdesk-proxy.conf"
    snippet.write_text(
        shipped(
            ROOT / "deploy/nginx/hotdesk-proxy.conf",
            {"proxy_pass http://hotdesk;": f"proxy_pass http://hotdesk;\nproxy_bind {PROXY_SOURCE};"},
        )
    )
    fast = work / "hotdesk-fast.conf"
    fast.write_text(
        shipped(
            ROOT / "deploy/nginx/hotdesk-fast.conf",
            {
                "/var/log/nginx/": f"{work}/",
                "/var/lib/hotdesk/published/": f"{work}/published/",
                "/etc/nginx/snippets/hotdesk-proxy.conf": str(snippet),
            },
        )
    )
    site = shipped(
        ROOT / "deploy/nginx/hotdesk.conf",
        {
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{app.port};",
            "listen 443 ssl;": f"listen 127.0.0.1:{https} ssl;",
            "listen [::]:443 ssl;": "",
            "listen 80 default_server;": f"listen 127.0.0.1:{http} default_server;",
            "listen [::]:80 default_server;": "",
            "/etc/ssl/hotdesk/fullchain.pem": str(cert),
            "/etc/ssl/hotdesk/privkey.pem": str(key),
            "/var/log/nginx/": f"{work}/",
            "/etc/nginx/snippets/hotdesk-proxy.conf": str(snippet),
            "/etc/nginx/snippets/hotdesk-fast.conf": str(fast),
        },
    )
    cisco = free_port()
    site = (
        uncommented(uncommented(site, "#geo $hotdesk_cisco_path {"), "#server {")
        .replace("listen 6970;", f"listen 127.0.0.1:{cisco};")
        .replace("listen [::]:6970;", "")
        .replace('10.20.0.0/16 "PROVISIONING-PATH-OF-A-TENANT";', f'127.0.0.0/8 "{PROVISIONING_PATH}";')
    )
    nginx = Nginx(work / "nginx", site, [https, http, cisco])
    try:
        yield Deployment(
            f"https://127.0.0.1:{https}",
            f"http://127.0.0.1:{http}",
            ssl.create_default_context(cafile=cert),
            work,
            app,
            work / "published",
            f"http://127.0.0.1:{cisco}",
        )
    finally:
        nginx.stop()
        app.stop()


@pytest.fixture
def phone_port(session, sipp_uas):
    """sipp as the phone's SIP side, on the phone's address; the phones' NOTIFY port points at it."""
    peer = sipp_uas(REBOOT_EVENT)
    registry = settings_registry()
    registry.set(session, "phone_sip_port", str(peer.port))
    session.commit()
    return peer


class HeaderForgingClient(LiveClient):
    """A client that sends its own X-Forwarded-* headers with every request, hoping to be believed."""

    FORGED: ClassVar[dict[str, str]] = {
        "X-Forwarded-For": "192.0.2.66",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Port": "6666",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Prefix": "/evil",
    }

    def get(self, url, *, headers=None, **kwargs):
        return super().get(url, headers={**(headers or {}), **self.FORGED}, **kwargs)


def login_event(session) -> Event:
    session.expire_all()
    return session.scalar(select(Event).where(Event.kind == "login", Event.mac == MAC))


def test_phone_logs_in_over_https_through_nginx(deployment, extensions, phone_port, session):
    phone = YealinkPhone(LiveClient(deployment.https_url, ssl_context=deployment.tls), MAC)

    phone.boot()
    keys = phone.keys()
    assert keys and all(url.startswith(f"{deployment.https_url}/phone/") for url in keys.values()), keys
    answer = phone.submit(phone.press("External"), extension="1001", password="4321")

    assert answer.findtext("Title") == "Logged in"
    assert phone_port.wait() == 0, phone_port.diagnostics()  # the NOTIFY reached 127.0.0.1, the phone
    assert phone.boot()["account.1.user_name"] == "1001"
    assert all(url.startswith(f"{deployment.https_url}/phone/") for url in phone.keys().values())
    assert login_event(session).ip == "127.0.0.1"


def test_phone_facing_http_listener_ignores_forwarded_headers_from_phones(deployment, extensions, phone_port, session):
    phone = YealinkPhone(HeaderForgingClient(deployment.http_url), MAC)

    phone.boot()
    assert all(url.startswith(f"{deployment.http_url}/phone/") for url in phone.keys().values()), phone.keys()
    answer = phone.submit(phone.press("Internal"), extension="1001", password="4321")

    assert answer.findtext("Title") == "Logged in"
    assert phone_port.wait() == 0, phone_port.diagnostics()
    assert login_event(session).ip == "127.0.0.1"
    assert phone.client.get("/").status_code == 404  # the plain listener serves phones only


def test_cisco_enterprise_phones_fetch_from_port_6970_and_are_sent_to_https_for_the_rest(
    deployment, extensions, session
):
    settings_registry().set(session, "phone_base_url", deployment.https_url)
    session.commit()
    client = LiveClient(deployment.cisco_url)
    phone = EMULATORS["cisco_sip"](client, CISCO_MAC)
    name = phone.provisioning_files()[0]

    response = client.get(f"/{name}", headers={"User-Agent": phone.user_agent})  # no credentials, as the firmware
    assert response.status_code == 200, response.data[:300]
    phone.files = {name: response.data}
    phone.config = phone.read_config(phone.files)
    keys = phone.keys()
    assert keys and all(url.startswith(f"{deployment.https_url}/phone/") for url in keys.values()), keys
    assert (
        client.get(f"/provision/{name}", headers={"User-Agent": phone.user_agent}).status_code == 404
    )  # those two names only
    # The listener adds the default tenant's provisioning path, a secret: the logs keep it out.
    https = LiveClient(deployment.https_url, ssl_context=deployment.tls)
    assert (
        https.get(f"/provision/t/{PROVISIONING_PATH}/{name}", headers={"User-Agent": phone.user_agent}).status_code
        == 200
    )
    assert "/provision/t/" in deployment.logged() and PROVISIONING_PATH not in deployment.logged()


def test_pins_stay_out_of_every_log(deployment, phone_port, session):
    session.add(Extension(number="2001", name="Carol", secret="carol-SIP-secret", voicemail_pin="86420975"))
    session.commit()
    phone = YealinkPhone(LiveClient(deployment.http_url), MAC)
    phone.boot()
    phone.submit(phone.press("External"), extension="2001", password="97531864")  # a failed login is logged
    phone.submit(phone.press("External"), extension="2001", password="86420975")
    phone_port.wait()

    logged = deployment.logged()
    assert "/phone/" in logged and "login failed" in logged
    assert "86420975" not in logged and "97531864" not in logged and "password=" not in logged


def test_an_access_code_login_leaves_neither_code_nor_challenge_in_any_log(deployment, phone_port, session, inbox):
    """phone_two_factor through nginx and gunicorn: the worker's own sender mails the code, the
    code logs the phone in, and no log line (nginx's, gunicorn's, hotdesk's) holds the code or the
    challenge that rode in the screen's path."""
    registry = settings_registry()
    for name, value in [
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", str(inbox.port)),
        ("smtp_security", "none"),
        ("smtp_from", "hotdesk@example.com"),
        ("phone_two_factor", "email"),
    ]:
        registry.set(session, name, value)
    session.add(
        Extension(
            number="2003", name="Dora", secret="dora-SIP-secret", voicemail_pin="75318642", email="dora@example.org"
        )
    )
    session.commit()
    phone = YealinkPhone(LiveClient(deployment.http_url), MAC)
    screen = phone.login("2003", "75318642")
    assert phone.form_parameters(screen) == ["code"]
    challenge = urlsplit(screen.findtext("URL")).path.split("/")[6]
    code = code_in(inbox.wait_for(1)[-1])
    phone.submit(screen, code=f"{(int(code) + 1) % 10**6:06d}")  # a wrong one is logged (for fail2ban)
    answer = phone.submit(screen, code=code)
    assert "Dora" in phone.text(answer)
    phone_port.wait()

    logged = deployment.logged()
    assert "/phone/…" in logged and "reason=wrong_access_code" in logged
    assert challenge not in logged and code not in logged and "code=" not in logged


def test_no_secret_path_segment_in_the_access_log(deployment):
    """A phone's app token, a softphone's link or configuration token, a link to choose a password:
    each a secret in a path, each cut out of nginx's log line as out of hotdesk's."""
    client = LiveClient(deployment.https_url, ssl_context=deployment.tls)
    cut = {
        "/phone/Phone-Token-4711/login": "/phone/…",  # the phone app's own log format (nginx/hotdesk.conf)
        "/app/qr/1.QrToken0815": "/app/qr/...",
        "/app/config/Config-Token-0915": "/app/config/...",
        "/portal/password/1.7fffffff.nonce.Password-Link-1234": "/portal/password/...",
    }
    for path in cut:
        client.get(path)
    client.close()
    deadline = time.monotonic() + 5
    while not all(f"GET {logged} " in deployment.logged() for logged in cut.values()):
        assert time.monotonic() < deadline, deployment.logged()[-2000:]
        time.sleep(0.05)
    for token in ("Phone-Token-4711", "QrToken0815", "Config-Token-0915", "Password-Link-1234"):
        assert token not in deployment.logged(), token


def test_reload_replaces_workers_without_failing_a_request(deployment, engine):
    phone = YealinkPhone(LiveClient(deployment.http_url), "001565d0e1f3")
    phone.boot()
    before = set(deployment.app.wait_for_workers())
    statuses, stop = [], threading.Event()

    def fetch_until_stopped():
        while not stop.is_set():
            statuses.append(phone.fetch(f"{phone.mac}.cfg").status_code)
            time.sleep(0.02)  # a busy phone, not a flood: the per-phone rate limit stays out of it

    fetching = threading.Thread(target=fetch_until_stopped)
    fetching.start()
    try:
        os.kill(deployment.app.pid, signal.SIGHUP)  # what `systemctl reload hotdesk` sends
        deadline = time.monotonic() + 30
        while set(deployment.app.children()) & before and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # and some requests to the new workers
    finally:
        stop.set()
        fetching.join()

    assert not set(deployment.app.wait_for_workers()) & before, "the old workers are still running"
    assert statuses and set(statuses) == {200}, statuses


@contextmanager
def paused(server: Gunicorn):
    """gunicorn stopped in its tracks (SIGSTOP): whatever is answered meanwhile, nginx answered alone."""
    pids = [server.pid, *server.children()]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


@pytest.mark.parametrize("listener", ["https", "http"])
def test_nginx_serves_published_files_alone_and_never_a_stale_one(deployment, extensions, phone_port, listener):
    base = deployment.https_url if listener == "https" else deployment.http_url
    phone = YealinkPhone(LiveClient(base, ssl_context=deployment.tls, timeout=5, retry=False), FAST_MAC)
    phone.boot()  # global credentials: the phone's own, and its fast path
    assert phone.server_url.startswith(f"{base}/fast/{FAST_MAC}/"), phone.server_url
    guest = phone.boot()  # nothing published yet: nginx asks hotdesk, which publishes
    with paused(deployment.app):
        assert phone.boot() == guest

    answer = phone.submit(phone.press("External"), extension="1001", password="4321")
    assert answer.findtext("Title") == "Logged in"
    assert phone_port.wait() == 0, phone_port.diagnostics()
    assert not list(deployment.published.glob(f"current/{FAST_MAC}/*/*"))
    user = phone.boot()
    assert user["account.1.password"] == "alice-SIP-secret-9f3"
    with paused(deployment.app):
        assert phone.boot() == user

    assert phone.choose(phone.press("Logout"), "Logout").findtext("Title") == "Logged out"
    assert phone.boot()["account.1.enable"] == "0"
    with paused(deployment.app):
        assert phone.boot()["account.1.enable"] == "0"
    secret_path = phone.server_url.removeprefix(base)
    assert secret_path.split("/")[3] not in deployment.logged(), "the fast path's signature is a secret"
