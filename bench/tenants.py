"""`make bench BENCH_ARGS="--tenants 1000"`: what tenancy costs a config fetch (issue 12: no extra
query per fetch, cost per fetch ≤ 1.1× the single-tenant run).

Two databases with the same directory (`--tenant-devices` phones, each logged in), one with every
phone in the default tenant, one with them spread over `--tenants` tenants, each with its own
provisioning credentials and a few settings of its own. Each is served as deployed (published
copies) and rendering every fetch, and the four servers are measured in the same interleaved
rounds, so that other work on the machine weighs on them alike; the ratio is of server CPU per
request. The snapshot's rebuild after a configuration change (read once per worker per change)
is timed in process.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import seed
from bench.measure import Measured, Target, cpu_seconds
from bench.wrk import wrk
from hotdesk import settings_registry
from hotdesk.db import make_engine, make_session_factory
from hotdesk.snapshot import SnapshotCache
from tests.live_servers import Gunicorn, Process

TARGET = 1.1  # cost per fetch with tenants ÷ without
SECRET_KEY = "bench-secret-key"
DEFAULTS = {"tenants": 1000, "tenant_devices": 100_000, "seconds": 6.0, "rounds": 3}


@dataclass(frozen=True)
class Rebuild:
    """Milliseconds to read the snapshot after a change, and then to type every tenant's settings."""

    load_ms: float
    typing_ms: float


def run(args, work: Path, servers: list[Process]) -> str:
    """Seed, serve, measure; the report's table."""
    targets, rebuilds = {}, {}
    for label, tenants in (("single", 0), ("tenants", args.tenants)):
        url = database_url(args, label, work)
        say(f"seeding {args.tenant_devices:,} devices and extensions over {tenants or 'no'} tenants")
        population = seed.seed(url, args.tenant_devices, guests=0, sip_port=9, tenants=tenants)
        fetches = work / f"fetch-{label}.txt"
        order = random.Random(args.tenant_devices).sample(population.users, len(population.users))
        seed.request_list(fetches, order, lambda p: [f"{p.mac}.cfg"])
        env = {"HOTDESK_DATABASE_URL": url, "HOTDESK_SECRET_KEY": SECRET_KEY, "HOTDESK_INSTANCE_PATH": str(work)}
        published = env | {"HOTDESK_PUBLISH_DIR": str(args.memory_dir / f"published-{label}")}
        for kind, server_env in (("deployed", published), ("rendering", env)):
            servers.append(
                server := Gunicorn("wsgi:app", work / f"{label}-{kind}.log", server_env, workers=args.workers)
            )
            targets[f"{label} {kind}"] = Target(server.url, fetches, server)
        rebuilds[label] = rebuild_time(url)
        say(f"{label}: every one of {args.tenant_devices:,} phones fetches its file once (rendered and published)")
        deployed = targets[f"{label} deployed"]
        first = wrk(deployed.url, fetches, connections=args.connections, count=args.tenant_devices)
        if first.errors:
            raise SystemExit(f"bench: {first.errors} errors in the first fetches (see {deployed.server.log_path})")
    for target in targets.values():  # warm-up: imports, caches, pools, each tenant's typed settings
        wrk(target.url, target.requests, connections=args.connections, seconds=2)
    names = list(targets)
    for round_ in range(args.rounds):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        say(f"round {round_ + 1} of {args.rounds}: config fetch from {', '.join(order)}")
        for name in order:
            target = targets[name]
            before = cpu_seconds(target.server)
            measured = wrk(target.url, target.requests, connections=args.connections, seconds=args.seconds)
            target.runs.append(Measured(measured, cpu_seconds(target.server) - before))
    return report(targets, rebuilds, args)


def rebuild_time(url: str, repeat: int = 5) -> Rebuild:
    """The CPU time a worker spends after a configuration change: reading the snapshot (settings,
    tenants, their settings and credentials, templates, pins), then typing the settings of every
    tenant it serves (once each, at its phones' first fetches). CPU time, not the clock's: the
    machine's other work would otherwise be most of it."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    cache = SnapshotCache(settings_registry())
    loads, typings = [], []
    with sessions() as session:
        for _ in range(repeat):
            start = time.process_time()
            snapshot = cache._load(session, None)
            loads.append(time.process_time() - start)
            start = time.process_time()
            for tenant_id in snapshot.tenants:
                snapshot.settings_for(tenant_id)
            typings.append(time.process_time() - start)
    engine.dispose()
    return Rebuild(1000 * statistics.median(loads), 1000 * statistics.median(typings))


def report(targets: dict[str, Target], rebuilds: dict[str, Rebuild], args) -> str:
    def row(*cells) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    labels = {
        "deployed": "as deployed: the copy rendered at the phone's last fetch",
        "rendering": "no HOTDESK_PUBLISH_DIR: every fetch rendered",
    }
    population = {"single": "every phone in the default tenant", "tenants": f"{args.tenants:,} tenants"}
    measured = [
        row("measurement", "req/s", "p50 ms", "p99 ms", "errors", "server CPU ms/req"),
        "|---|--:|--:|--:|--:|--:|",
        *(
            row(
                f"config fetch, {args.tenant_devices:,} devices, {population[who]} ({labels[kind]})",
                f"{t.rate:,.0f}",
                f"{t.p50_ms:.1f}",
                f"{t.p99_ms:.1f}",
                t.errors,
                f"{t.cpu_ms:.3f}",
            )
            for kind in labels
            for who in population
            for t in [targets[f"{who} {kind}"]]
        ),
    ]
    verdicts = [row("target", "measured", "verdict"), "|---|---|---|"]
    for kind, label in labels.items():
        single, tenants = targets[f"single {kind}"], targets[f"tenants {kind}"]
        cost = tenants.cpu_ms / single.cpu_ms
        ok = cost <= TARGET and single.errors == tenants.errors == 0
        verdicts.append(
            row(
                f"cost per fetch with {args.tenants:,} tenants ≤ {TARGET}× the single tenant's ({label};"
                " server CPU per request)",
                f"{cost:.2f}× (req/s: {single.rate / tenants.rate:.2f}×)",
                "pass" if ok else "**FAIL**",
            )
        )
    single, spread = rebuilds["single"], rebuilds["tenants"]
    verdicts.append(
        row(
            "snapshot rebuild after a configuration change, once per worker (in process, CPU time)",
            f"single tenant {single.load_ms:.1f} ms; {args.tenants:,} tenants {spread.load_ms:.1f} ms"
            f" + {spread.typing_ms:.1f} ms typing every tenant's settings",
            "for information",
        )
    )
    return "\n".join(measured) + "\n\n" + "\n".join(verdicts)


def database_url(args, label: str, work: Path) -> str:
    if not args.database_url:
        return f"sqlite:///{work / f'hotdesk-{label}.db'}"
    separator = "&" if "?" in args.database_url else "?"
    return f"{args.database_url}{separator}options=-csearch_path%3Dhotdesk_bench_{label}"


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)
