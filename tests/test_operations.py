"""What operators' tools see: the load balancer's health checks, Prometheus's /metrics (counts
that add up over gunicorn's workers, readable only from this host or with a system token, no
secret in a label), and the Grafana dashboard naming only metrics that exist."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hotdesk import create_app, metrics, settings_registry, tenancy
from hotdesk.admin import accounts
from hotdesk.config import Config
from hotdesk.db import make_session_factory
from hotdesk.models import Extension
from tests.live_http import LiveClient
from tests.live_servers import ROOT, Gunicorn, NotifyResponder
from tests.phones import YealinkPhone

DASHBOARD = ROOT / "deploy" / "grafana" / "hotdesk.json"


def samples(body: bytes) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value, from Prometheus's text format."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def total(found: dict, name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in found.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


# Health.


def test_health_and_readiness_answer_on_both_listeners(engine, database_url, notifier, tmp_path):
    for faces in ("phones", "admin"):
        app = create_app(_config(database_url, tmp_path), notifier=notifier, faces=faces)
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert (ready.status_code, ready.get_json()) == (200, {"status": "ok", "problems": []})
        app.extensions["hotdesk"].engine.dispose()


def test_readiness_goes_red_when_the_database_goes_and_green_when_it_is_back(client, app, database_url, tmp_path):
    assert client.get("/readyz").status_code == 200
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = Path(url.database)
        aside = tmp_path / "stopped.db"
        shutil.move(database, aside)  # the database file gone (a pooled connection still reads it)
        try:
            answer = client.get("/readyz")
            assert answer.status_code == 503
            assert answer.get_json() == {"status": "unavailable", "problems": ["database unreachable"]}
            assert client.get("/healthz").status_code == 200  # the process still serves
        finally:
            shutil.move(aside, database)
        assert client.get("/readyz").status_code == 200
    else:
        # The same server pointed at a port where no database listens: PostgreSQL stopped.
        dead = create_app(_config(str(url.set(port=1)), tmp_path))
        answer = dead.test_client().get("/readyz")
        assert answer.status_code == 503
        assert answer.get_json()["problems"] == ["database unreachable"]
        assert url.password not in answer.get_data(as_text=True)
        dead.extensions["hotdesk"].engine.dispose()
        assert client.get("/readyz").status_code == 200


def test_readiness_is_red_while_the_schema_is_behind_the_code(client, app):
    engine = app.extensions["hotdesk"].engine
    with engine.begin() as connection:
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.get_json()["problems"] == ["database schema not current: run hotdesk init-db"]
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
    assert client.get("/readyz").status_code == 200


def test_readiness_is_red_without_the_publish_directory(publishing_app, published):
    client = publishing_app.test_client()
    assert client.get("/readyz").status_code == 200
    shutil.rmtree(published)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["problems"] == ["publish directory not writable"]


def _config(database_url: str, tmp_path: Path, **changes) -> Config:
    return Config(
        database_url=database_url, secret_key="test-secret-key", trusted_proxies=0, instance_path=tmp_path, **changes
    )


# Who may read /metrics.


def test_metrics_are_for_this_host_or_a_system_token(client, session):
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    elsewhere = {"REMOTE_ADDR": "10.9.8.7"}
    refused = client.get("/metrics", environ_base=elsewhere)
    assert refused.status_code == 401
    assert "hotdesk_" not in refused.get_data(as_text=True)
    # Through a proxy on this host (nginx sets X-Forwarded-For): whoever is behind it is not this host.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 401

    system = accounts.create_token(session, "prometheus", "test", scopes=["read"]).secret
    tenant = tenancy.add(session, settings_registry(), "acme", "acme.example.com", "test").tenant
    tenants = accounts.create_token(session, "acme-reader", "test", scopes=["read"], tenant_id=tenant.id).secret
    writer = accounts.create_token(session, "writer", "test", scopes=["write"]).secret
    session.commit()
    scraped = client.get("/metrics", environ_base=elsewhere, headers={"Authorization": f"Bearer {system}"})
    assert scraped.status_code == 200
    assert scraped.content_type.startswith("text/plain; version=0.0.4")
    for other in (tenants, writer, "hdk_not-a-token"):
        answer = client.get("/metrics", environ_base=elsewhere, headers={"Authorization": f"Bearer {other}"})
        assert answer.status_code == 401


def test_metrics_only_on_the_admin_listener(engine, database_url, notifier, tmp_path):
    phones = create_app(_config(database_url, tmp_path), notifier=notifier, faces="phones")
    admin = create_app(_config(database_url, tmp_path), notifier=notifier, faces="admin")
    assert phones.test_client().get("/metrics").status_code == 404
    assert admin.test_client().get("/metrics").status_code == 200
    off = create_app(_config(database_url, tmp_path, metrics=False), notifier=notifier)
    assert off.test_client().get("/metrics").status_code == 404
    for app in (phones, admin, off):
        app.extensions["hotdesk"].engine.dispose()


def test_no_label_carries_a_mac_an_extension_or_a_pin(client, extensions):
    phone = YealinkPhone(client, "001565aabb51")
    phone.boot()
    phone.login("1001", "9999")  # wrong
    phone.login("1001", "4321")
    phone.boot()
    body = client.get("/metrics").get_data(as_text=True)
    labels = " ".join(re.findall(r"\{[^}]*\}", body))
    for secret in ("001565aabb51", "00:15:65", "1001", "4321", "9999", "alice", "phones", "10.20.0.31"):
        assert secret not in labels.lower()
    found = samples(body.encode())
    assert total(found, "hotdesk_failed_logins_total", reason="wrong_password") >= 1
    assert total(found, "hotdesk_logged_in_phones") == 1


# Under gunicorn, as deployed: the workers' counts add up.


class CountingClient(LiveClient):
    files_fetched = 0

    def get(self, url, **kwargs):
        response = super().get(url, **kwargs)
        if ("/provision/" in url or "/fast/" in url) and response.status_code == 200:
            self.files_fetched += 1
        return response


def people_and_their_phones(engine, count: int, first: int, first_pin: int) -> NotifyResponder:
    """`count` extensions from `first` (PINs from `first_pin`), and a peer answering their phones' NOTIFYs."""
    with make_session_factory(engine)() as session:
        session.add_all(
            Extension(
                number=str(first + n), name=f"User {n}", secret=f"Sip-secret-{n}x", voicemail_pin=str(first_pin + n)
            )
            for n in range(count)
        )
        responder = NotifyResponder()
        settings_registry().set(session, "phone_sip_port", str(responder.port))
        session.commit()
    return responder


@pytest.mark.slow
def test_counters_add_up_over_two_gunicorn_workers(engine, database_url, tmp_path):
    phones, wrong = 16, 4
    responder = people_and_their_phones(engine, phones, 2000, 7100)
    env = {
        "HOTDESK_DATABASE_URL": database_url,
        "HOTDESK_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOTDESK_SECRET_KEY": "metrics-test-key",
        "HOTDESK_WORKERS": "2",
    }
    stale = tmp_path / "instance" / "metrics" / "counter_999999.db"  # a dead process's counts, before the start
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"\0" * 8)
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = Gunicorn("wsgi:app", tmp_path / "gunicorn.log", env, workers=2)
    try:
        server.wait_for_workers()
        assert not stale.exists()

        def flow(n: int) -> int:
            client = CountingClient(server.url)
            try:
                phone = YealinkPhone(client, f"0015650c{n:04x}")
                phone.boot()
                if n < wrong:
                    assert phone.text(phone.login(str(2000 + n), "0000")) != "Logged in"
                answer = phone.login(str(2000 + n), str(7100 + n))
                assert answer.findtext("Title") == "Logged in", phone.text(answer)
                phone.boot()
                assert phone.line()["user_name"] == str(2000 + n)
                return client.files_fetched
            finally:
                client.close()

        with ThreadPoolExecutor(8) as pool:
            fetched = sum(pool.map(flow, range(phones)))

        scrape = LiveClient(server.url)
        deadline = 30
        for _ in range(deadline * 10):
            # The NOTIFYs' outcomes reach the history in the background; a worker writes its fetches'
            # counts every second (hotdesk.metrics.FetchCounts).
            found = samples(scrape.get("/metrics").data)
            if total(found, "hotdesk_notify_total") >= phones and served_by_phones(found) >= fetched:
                break
            time.sleep(0.1)
        scrape.close()
        assert total(found, "hotdesk_logins_total", by="phone") == phones
        assert total(found, "hotdesk_failed_logins_total", reason="wrong_password") == wrong
        assert total(found, "hotdesk_logouts_total") == 0
        assert total(found, "hotdesk_notify_total", outcome="delivered") == phones
        assert total(found, "hotdesk_logged_in_phones") == phones
        assert total(found, "hotdesk_phones_seen_last_hour") == phones
        assert served_by_phones(found) == fetched >= 4 * phones
        assert (
            total(found, "hotdesk_provisioning_requests_total", kind="user") == phones
        )  # the device file after the login
        assert total(found, "hotdesk_provisioning_fetch_seconds_count") == total(
            found, "hotdesk_provisioning_requests_total"
        )
        assert total(found, "hotdesk_mails_total") == 0
        # Each worker counted into its own file: the sums above are both workers' work. (Usually two
        # files; on a loaded machine one worker may have accepted every connection, and one.)
        counted = {path.name for path in (tmp_path / "instance" / "metrics").glob("counter_*.db")}
        assert 1 <= len(counted) <= 2, counted
    finally:
        server.stop()
        responder.close(settle=0)


def served_by_phones(found: dict) -> float:
    return sum(
        total(found, "hotdesk_provisioning_requests_total", brand="yealink", outcome=outcome)
        for outcome in ("rendered", "copy")
    )


@pytest.mark.slow
def test_a_worker_that_exits_leaves_every_fetch_it_counted(engine, database_url, tmp_path):
    env = {
        "HOTDESK_DATABASE_URL": database_url,
        "HOTDESK_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOTDESK_SECRET_KEY": "metrics-test-key",
    }
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = Gunicorn("wsgi:app", tmp_path / "gunicorn.log", env, workers=1)
    try:
        [worker] = server.wait_for_workers()
        client = CountingClient(server.url)
        for n in range(3):
            YealinkPhone(client, f"0015650d{n:04x}").boot()
        client.close()
        os.kill(worker, signal.SIGTERM)  # what a HUP, a max_requests restart or a stop does to it
        deadline = time.monotonic() + 30
        while server.children() in ([], [worker]) and time.monotonic() < deadline:
            time.sleep(0.05)
        scrape = LiveClient(server.url)
        found = samples(scrape.get("/metrics").data)  # the new worker's scrape, at once
        scrape.close()
        assert served_by_phones(found) == client.files_fetched >= 6
        assert total(found, "hotdesk_provisioning_fetch_seconds_count") == total(
            found, "hotdesk_provisioning_requests_total"
        )
    finally:
        server.stop()


def test_the_fetch_histogram_puts_each_fetch_in_its_bucket(client):
    def histogram() -> dict:
        found = samples(client.get("/metrics").data)
        return {key: value for key, value in found.items() if ("answer", "refused") in key[1]}

    before = histogram()
    for seconds in (0.0004, 0.001, 0.003, 0.7, 4.0):
        metrics.FETCHES.count("yealink", "none", "404", seconds)
    after = histogram()  # the scrape writes its own process's counts first: no second's wait here

    def added(name: str, **labels: str) -> float:
        key = (name, tuple(sorted({"answer": "refused", **labels}.items())))
        return after[key] - before.get(key, 0)

    bucket = "hotdesk_provisioning_fetch_seconds_bucket"
    assert [added(bucket, le=le) for le in ("0.001", "0.0025", "0.005", "0.5", "1.0", "2.5", "+Inf")] == [
        2,
        2,
        3,
        3,
        4,
        4,
        5,
    ]
    assert added("hotdesk_provisioning_fetch_seconds_count") == 5
    assert added("hotdesk_provisioning_fetch_seconds_sum") == pytest.approx(4.7044)
    # Stored as two counters, shown as the histogram only.
    assert not any("fetches_in_bucket" in name or "summed" in name for name, _ in samples(client.get("/metrics").data))


COUNTING_PROCESS = """
import os, sys
from hotdesk import metrics
for _ in range(5):
    metrics.FETCHES.count("yealink", "user", "copy", 0.0003)
metrics.FETCHES.write_every_second()
child = os.fork()
if child == 0:  # a worker forked after its parent counted: only its own fetches are its to write
    for _ in range(2):
        metrics.FETCHES.count("yealink", "user", "copy", 0.0003)
    sys.exit(0)  # before its first second: the counts are written at exit
os.waitpid(child, 0)
"""


def test_each_process_writes_its_own_counts_once_at_exit(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    subprocess.run([sys.executable, "-c", COUNTING_PROCESS], env=env, cwd=ROOT, check=True, timeout=60)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    found = samples(generate_latest(registry))
    assert total(found, "hotdesk_provisioning_requests_total", outcome="copy") == 7
    assert len(list(directory.glob("counter_*.db"))) == 2


OLDER_VERSION = """
from prometheus_client import Histogram
Histogram("hotdesk_provisioning_fetch_seconds", "Before FetchCounts", ["answer"]).labels("copy").observe(0.001)
"""


def test_an_older_versions_histogram_left_after_a_reload_does_not_break_the_scrape(client, tmp_path, monkeypatch):
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    subprocess.run([sys.executable, "-c", OLDER_VERSION], env=env, cwd=ROOT, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    body = client.get("/metrics").get_data(as_text=True)
    assert body.count("# TYPE hotdesk_provisioning_fetch_seconds histogram") == 1
    assert "hotdesk_provisioning_fetch_seconds_count" in {
        s.name
        for s in next(
            f for f in text_string_to_metric_families(body) if f.name == "hotdesk_provisioning_fetch_seconds"
        ).samples
    }


# The Grafana dashboard.


def test_every_dashboard_query_names_a_metric_hotdesk_serves(client, extensions):
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", []) if "expr" in target
    ]
    assert len(queries) >= 8
    phone = YealinkPhone(client, "001565aabb52")
    phone.boot()
    served = {family.name for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))}
    served |= {f"{name}_total" for name in served} | {
        f"{name}_{suffix}" for name in served for suffix in ("bucket", "count", "sum")
    }
    for query in queries:
        named = set(re.findall(r"\b(hotdesk_[a-z_]+)\b", query))
        assert named, query
        assert named <= served, (query, named - served)
    assert dashboard["title"] and dashboard["schemaVersion"] >= 30
    assert all(panel.get("datasource", {}).get("uid") == "${datasource}" for panel in dashboard["panels"])


def test_a_fetch_answered_from_the_published_copy_counts_as_copy(publishing_app, extensions):
    client = publishing_app.test_client()

    def copies():
        return total(samples(client.get("/metrics").data), "hotdesk_provisioning_requests_total", outcome="copy")

    phone = YealinkPhone(client, "001565aabb53")
    phone.boot()  # issued its own credentials: rendered
    phone.boot()  # with them: rendered and published
    before = copies()
    phone.boot()  # the copies answer
    found = samples(client.get("/metrics").data)
    assert copies() - before == 2
    assert total(found, "hotdesk_provisioning_requests_total", kind="common", outcome="copy") >= 1
    assert total(found, "hotdesk_provisioning_requests_total", kind="guest", outcome="copy") >= 1
    assert total(found, "hotdesk_provisioning_fetch_seconds_count", answer="copy") >= 2


# Structured logs.


def test_every_answer_names_its_request_id(client):
    first, second = client.get("/healthz"), client.get("/provision/y000000000066.cfg")
    ids = {first.headers["X-Request-Id"], second.headers["X-Request-Id"]}
    assert len(ids) == 2 and all(re.fullmatch(r"[0-9a-f]{16}", given) for given in ids)
    # A proxy's id is kept when it looks like one; anything else is replaced.
    assert client.get("/healthz", headers={"X-Request-Id": "lb-7f3a9c21"}).headers["X-Request-Id"] == "lb-7f3a9c21"
    forged = client.get("/healthz", headers={"X-Request-Id": 'x" {"level":"error"}'}).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{16}", forged)


@pytest.mark.slow
def test_json_logs_carry_request_ids_and_no_pin_query_or_token(engine, database_url, extensions, tmp_path):
    env = {
        "HOTDESK_DATABASE_URL": database_url,
        "HOTDESK_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOTDESK_SECRET_KEY": "json-log-key",
        "HOTDESK_LOG_FORMAT": "json",
    }
    server = Gunicorn("wsgi:app", tmp_path / "gunicorn.log", env, workers=1)
    try:
        client = LiveClient(server.url)
        phone = YealinkPhone(client, "001565aabb71")
        phone.boot()
        form = phone.press("External")
        url = phone.submit_url(form, {"extension": "1001", "password": "8642"})
        refused = client.get(url, headers={"User-Agent": phone.user_agent, "X-Request-Id": "storm-req-000042"})
        assert refused.status_code == 200
        token = url.split("/phone/", 1)[1].split("/", 1)[0]
        client.close()
        time.sleep(0.5)
    finally:
        server.stop()
    lines = [line for line in server.log().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    failed = [e for e in entries if e["message"].startswith("hotdesk login failed")]
    assert len(failed) == 1 and failed[0]["request_id"] == "storm-req-000042"
    assert failed[0]["level"] == "warning" and failed[0]["logger"] == "hotdesk.login"
    requests = [e for e in entries if e["logger"] == "hotdesk.request"]
    assert {"method", "path", "status", "duration_ms", "request_id"} <= set(requests[0])
    assert any(e["request_id"] == "storm-req-000042" and e["path"].startswith("/phone/…/") for e in requests)
    for secret in ("8642", "password=", token):
        assert secret not in server.log(), secret
