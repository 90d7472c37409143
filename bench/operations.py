"""`make bench BENCH_ARGS="--metrics"` and `--occupancy`: what operators' tools cost (issue 16).

`--metrics`: the same database served by four gunicorns — as deployed (published copies) and
rendering every fetch, each with Prometheus metrics on and off (HOTDESK_METRICS=off) — measured in
the same interleaved rounds, on and off one after the other; then what the metrics add to a fetch's
CPU measured in one process (bench/metrics_in_process.py: the servers' rounds cannot tell a few
microseconds from their noise). The verdict: that, as a share of the server CPU of a fetch with
metrics off (target: at most 5 %).

`--occupancy`: a year of history at `--occupancy-phones` phones (each in use on about 70 % of the
working days, one session a day of one to nine hours, by one of as many extensions), written as the
history has it, then summed up once (the first report after an upgrade: for information), then the
report of a year, a month and a week timed in process (target: a year in under a second), and
summing up one more day.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bench import seed
from bench.measure import Measured, Target, cpu_seconds
from bench.tenants import database_url, say
from bench.wrk import wrk
from hotdesk import schema, settings_registry
from hotdesk.admin import occupancy
from hotdesk.db import make_engine, make_session_factory
from hotdesk.models import DEFAULT_TENANT_ID, Device, Event
from tests.live_servers import ROOT, Gunicorn, Process

METRICS_TARGET = 1.05  # server CPU per fetch with metrics ÷ without
OCCUPANCY_TARGET = 1.0  # seconds for a year's report
SECRET_KEY = "bench-secret-key"
DEFAULTS = {"ops_devices": 10_000, "occupancy_phones": 10_000}
KINDS = {
    "deployed": "as deployed: the copy rendered at the phone's last fetch",
    "rendering": "no HOTDESK_PUBLISH_DIR: every fetch rendered",
}
YEAR_END = date(2026, 11, 30)


def metrics_cost(args, work: Path, servers: list[Process]) -> str:
    url = database_url(args, "metrics", work)
    say(f"seeding {args.ops_devices:,} devices and extensions")
    population = seed.seed(url, args.ops_devices, guests=0, sip_port=9)
    fetches = work / "fetch-metrics.txt"
    order = random.Random(args.ops_devices).sample(population.users, len(population.users))
    seed.request_list(fetches, order, lambda p: [f"{p.mac}.cfg"])
    env = {"HOTDESK_DATABASE_URL": url, "HOTDESK_SECRET_KEY": SECRET_KEY, "HOTDESK_INSTANCE_PATH": str(work)}
    targets = {}
    for kind in KINDS:
        for metrics in ("on", "off"):
            server_env = env | {"HOTDESK_METRICS": metrics}
            if kind == "deployed":
                server_env["HOTDESK_PUBLISH_DIR"] = str(args.memory_dir / f"published-metrics-{metrics}")
            servers.append(
                server := Gunicorn("wsgi:app", work / f"{kind}-{metrics}.log", server_env, workers=args.workers)
            )
            targets[f"{kind} {metrics}"] = Target(server.url, fetches, server)
            if kind == "deployed":
                say(f"metrics {metrics}: every phone fetches its file once (rendered and published)")
                first = wrk(server.url, fetches, connections=args.connections, count=args.ops_devices)
                if first.errors:
                    raise SystemExit(f"bench: {first.errors} errors in the first fetches (see {server.log_path})")
    for target in targets.values():  # warm-up
        wrk(target.url, target.requests, connections=args.connections, seconds=2)
    ratios: dict[str, list[float]] = {kind: [] for kind in KINDS}  # each round's on ÷ off
    for round_ in range(args.rounds):
        say(f"round {round_ + 1} of {args.rounds}: config fetch, metrics on and off, as deployed and rendering")
        for kind in KINDS:
            # On and off one after the other, in turns first: each pair meets the same other load.
            for metrics in ("on", "off") if round_ % 2 == 0 else ("off", "on"):
                target = targets[f"{kind} {metrics}"]
                before = cpu_seconds(target.server)
                measured = wrk(target.url, target.requests, connections=args.connections, seconds=args.seconds)
                target.runs.append(Measured(measured, cpu_seconds(target.server) - before))
            on, off = (targets[f"{kind} {metrics}"].runs[-1] for metrics in ("on", "off"))
            ratios[kind].append((on.cpu_seconds / on.run.requests) / (off.cpu_seconds / off.run.requests))
    say("in one process: the same fetches through the app with metrics on and off, in alternating batches")
    in_process = measure_in_process(url, fetches, work, args.memory_dir)
    lines = [
        row("measurement", "req/s", "p50 ms", "p99 ms", "errors", "server CPU ms/req"),
        "|---|--:|--:|--:|--:|--:|",
        *(
            row(
                f"config fetch, {args.ops_devices:,} devices, metrics {metrics} ({KINDS[kind]})",
                f"{t.rate:,.0f}",
                f"{t.p50_ms:.1f}",
                f"{t.p99_ms:.1f}",
                t.errors,
                f"{t.cpu_ms:.3f}",
            )
            for kind in KINDS
            for metrics in ("on", "off")
            for t in [targets[f"{kind} {metrics}"]]
        ),
        "",
        row(
            "what metrics add to a config fetch",
            "in process: CPU µs/fetch off → on",
            "added µs (median; quartiles)",
            "share of the fetch's server CPU",
            "gunicorn servers: CPU/req on ÷ off (median; range)",
        ),
        "|---|--:|--:|--:|--:|",
    ]
    verdicts = []
    for kind, label in KINDS.items():
        found, off = in_process[kind], targets[f"{kind} off"]
        share = found["added_us"] / (1000 * off.cpu_ms)
        lines.append(
            row(
                f"{label} ({found['pairs']} pairs of {found['batch']}-fetch batches)",
                f"{found['off_us']:.1f} → {found['on_us']:.1f}",
                f"{found['added_us']:+.1f} ({found['added_q1_us']:+.1f} to {found['added_q3_us']:+.1f})",
                f"{100 * share:+.2f} % of {1000 * off.cpu_ms:.0f} µs",
                f"{statistics.median(ratios[kind]):.3f}× ({min(ratios[kind]):.3f} to {max(ratios[kind]):.3f})",
            )
        )
        ok = share <= METRICS_TARGET - 1 and targets[f"{kind} on"].errors == off.errors == 0
        verdicts.append(
            row(
                f"metrics cost ≤ {round(100 * (METRICS_TARGET - 1))} % of a config fetch's server CPU ({label})",
                f"{1 + share:.3f}× ({100 * share:+.2f} %)",
                "pass" if ok else "**FAIL**",
            )
        )
    lines += ["", row("target", "measured", "verdict"), "|---|---|---|", *verdicts]
    return "\n".join(lines)


def measure_in_process(url: str, fetches: Path, work: Path, published: Path) -> dict:
    """bench/metrics_in_process.py, in a process of its own: Prometheus's multiprocess mode is chosen
    when prometheus_client is first imported."""
    metrics_dir = work / "metrics-in-process"
    metrics_dir.mkdir()
    command = [sys.executable, "-m", "bench.metrics_in_process", "--database-url", url]
    finished = subprocess.run(
        [*command, "--requests", str(fetches), "--work", str(work), "--published", str(published)],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if finished.returncode != 0:
        raise SystemExit(f"bench: the in-process measurement failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout)


def occupancy_time(args, work: Path) -> str:
    url = database_url(args, "occupancy", work)
    seed.fresh_database(url)
    engine = make_engine(url)
    schema.upgrade(engine)
    sessions = make_session_factory(engine)
    registry = settings_registry()
    with sessions() as session:
        schema.initialise(session, registry, [])
        session.commit()
    phones = [f"0015651{n:05x}" for n in range(args.occupancy_phones)]
    with sessions() as session:
        session.execute(
            insert(Device),
            [{"mac": mac, "brand": "yealink", "tenant_id": DEFAULT_TENANT_ID} for mac in phones],
        )
        session.commit()
    start = YEAR_END - timedelta(days=364)
    say(f"writing a year of history at {len(phones):,} phones")
    written = 0
    rng = random.Random(16)
    day = start
    while day <= YEAR_END:
        written += _write_day(sessions, phones, day, rng)
        day += timedelta(days=1)
    say(f"{written:,} logins and logouts written; summing them up")

    with sessions() as session:
        began, began_cpu = time.perf_counter(), time.process_time()
        occupancy.catch_up(session, registry)
        session.commit()
        first = (time.perf_counter() - began, time.process_time() - began_cpu)

    timings = {}
    for label, since in (
        ("a year", start),
        ("a month", YEAR_END - timedelta(days=29)),
        ("a week", YEAR_END - timedelta(days=6)),
    ):
        walls, cpus = [], []
        for _ in range(3):
            with sessions() as session:
                began, began_cpu = time.perf_counter(), time.process_time()
                found = occupancy.report(session, registry, since=since.isoformat(), until=YEAR_END.isoformat())
                walls.append(time.perf_counter() - began)
                cpus.append(time.process_time() - began_cpu)
                session.commit()
        timings[label] = (statistics.median(walls), statistics.median(cpus), found)
        say(f"{label}: {timings[label][0]:.3f} s")

    next_day = YEAR_END + timedelta(days=1)
    more = _write_day(sessions, phones, next_day, rng)  # a Tuesday
    with sessions() as session:
        began = time.perf_counter()
        occupancy.catch_up(session, registry)
        session.commit()
        one_day = time.perf_counter() - began
    engine.dispose()

    year_wall, _, year = timings["a year"]
    lines = [
        row("measurement", "seconds (wall)", "CPU seconds", "what it read"),
        "|---|--:|--:|---|",
        row(
            f"summing up a year of history the first time ({written:,} logins and logouts)",
            f"{first[0]:.1f}",
            f"{first[1]:.1f}",
            "every login and logout, once (the first report after the upgrade)",
        ),
        *(
            row(
                f"occupancy report of {label}, {len(phones):,} phones",
                f"{wall:.3f}",
                f"{cpu:.3f}",
                f"{found.sessions:,} sessions, {found.phones_used:,} phones used, {len(found.extensions):,} extensions",
            )
            for label, (wall, cpu, found) in timings.items()
        ),
        row(
            "summing up the next day's logins and logouts",
            f"{one_day:.3f}",
            "",
            f"{more:,} events",
        ),
        "",
        row("target", "measured", "verdict"),
        "|---|---|---|",
        row(
            f"occupancy for a year of history at {len(phones):,} phones renders in under a second",
            f"{year_wall:.3f} s ({year.sessions:,} sessions)",
            "pass" if year_wall < OCCUPANCY_TARGET else "**FAIL**",
        ),
    ]
    return "\n".join(lines)


def _write_day(sessions, phones: list[str], day: date, rng: random.Random) -> int:
    """One working day's logins and logouts (none on weekends), in the order they happened."""
    if day.weekday() >= 5:
        return 0
    happened = []
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for mac in phones:
        if rng.random() < 0.7:
            login = midnight + timedelta(hours=7, minutes=rng.randrange(180))
            logout = login + timedelta(minutes=rng.randrange(60, 540))
            extension = str(100000 + rng.randrange(len(phones)))
            happened.append((login, "login", mac, extension))
            happened.append((logout, "logout", mac, extension))
    happened.sort()
    rows = [
        {"at": at, "kind": kind, "mac": mac, "extension": ext, "brand": "yealink", "tenant_id": DEFAULT_TENANT_ID}
        for at, kind, mac, ext in happened
    ]
    with sessions() as session:
        for start in range(0, len(rows), 20_000):
            session.execute(insert(Event), rows[start : start + 20_000])
        session.commit()
    return len(rows)


def row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"
