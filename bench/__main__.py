"""`make bench` (`python -m bench`): hotdesk's provisioning path against its ceilings, measured in
one run on this machine, printed as a table of ratios with the targets' verdicts.

Servers run from deploy/gunicorn.conf.py (hotdesk and a bare Flask app, same workers) and nginx;
the load comes from other processes on loopback: wrk for fixed requests, bench/login_storm.py
for login flows. With the default sizes the table is also recorded in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import apps, operations, seed, tenants, voicemail
from bench.measure import Measured, Target, cpu_seconds
from bench.wrk import Run, wrk
from hotdesk.published import PublishedFiles, signature
from tests.live_http import LiveClient
from tests.live_servers import NGINX, ROOT, Gunicorn, Nginx, Process, free_port

README = Path(__file__).with_name("README.md")
DEFAULTS = {
    "phones": 10_000,
    "sizes": "100,10000,100000",
    "login_phones": 500,
    "login_concurrency": 32,
    "think": 1.0,
    "connections": 64,
    "seconds": 6.0,
    "rounds": 3,
}
TARGETS = {"fetch_vs_bare": 0.8, "login_p99_ms": 50.0, "scale_cost": 1.2, "rss_mb": 100.0, "fast_vs_static": 0.5}
SECRET_KEY = "bench-secret-key"


@dataclass
class Results:
    targets: dict[str, Target] = field(default_factory=dict)  # "hotdesk <size>", "bare", "static", "fast"
    boot: Run | None = None
    login: dict | None = None  # phones that send each request the moment the last answer came
    paced: dict | None = None  # people at desks: they type, their phones restart
    memory: list[tuple[float, float]] = field(default_factory=list)  # (RSS, PSS) MB per worker


def main() -> None:
    args = arguments()
    if args.voicemail_mailboxes:
        table = voicemail.run(args.voicemail_mailboxes)
        print(table)
        if args.voicemail_mailboxes == voicemail.DEFAULT_MAILBOXES:
            record(table, "bench-voicemail")
            print("\nrecorded in bench/README.md")
        return
    args.load_before = os.getloadavg()[0]  # other work on the machine skews every number: say how much there was
    work = Path(tempfile.mkdtemp(prefix="hotdesk-bench-"))
    # HOTDESK_PUBLISH_DIR on a tmpfs, as deploy/README.md recommends (the copies are a cache that
    # hotdesk empties when it starts; on disk each new file costs a journal write).
    args.memory_dir = Path(
        tempfile.mkdtemp(prefix="hotdesk-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    )
    results = Results()
    servers: list[Process] = []
    tenancy: str | None = None  # the tenants mode's table
    marker, table = "", ""  # an apps mode's README marker and table
    try:
        if args.tenants:
            tenancy = tenants.run(args, work, servers)
        elif args.only == "login":
            print(login_only(args, work, servers))
        elif args.app_signins:
            marker, table = "bench-app-signins", apps.run_signins(args, work, servers)
        elif args.import_users:
            marker, table = "bench-import", apps.run_import(args, work)
        elif args.metrics:
            marker, table = "bench-metrics", operations.metrics_cost(args, work, servers)
        elif args.occupancy:
            marker, table = "bench-occupancy", operations.occupancy_time(args, work)
        else:
            run(args, work, results, servers)
    except BaseException:
        say(f"failed: the servers' logs are in {work}")
        raise
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            check_log(server)
        shutil.rmtree(args.memory_dir)
    shutil.rmtree(work)
    if args.metrics or args.occupancy:
        table = machine(args) + "\n\n" + table
        print(table)
        if all(getattr(args, name) == value for name, value in operations.DEFAULTS.items()):
            record(table, marker)
            print("\nrecorded in bench/README.md")
        return
    if args.only == "login":
        return
    if args.app_signins or args.import_users:
        table = machine(args, apps.load_line(args), servers=bool(args.app_signins)) + "\n\n" + table
        print(table)
        defaults = apps.SIGNIN_DEFAULTS if args.app_signins else apps.IMPORT_DEFAULTS
        if all(getattr(args, name) == value for name, value in defaults.items()):
            record(table, marker)
            print("\nrecorded in bench/README.md")
        return
    if tenancy is not None:
        table = machine(args) + "\n\n" + tenancy
        print(table)
        if all(getattr(args, name) == value for name, value in tenants.DEFAULTS.items()):
            record(table, "bench-tenants")
            print("\nrecorded in bench/README.md")
        return
    table = report(results, args)
    print(table)
    if all(
        getattr(args, name) == (value if name != "sizes" else parse_sizes(value)) for name, value in DEFAULTS.items()
    ):
        record(table)
        print("\nrecorded in bench/README.md")
    else:
        print("\n(reduced sizes: bench/README.md left as it is)")


def run(args, work: Path, results: Results, servers: list[Process]) -> None:
    sip_port = free_port(socket.SOCK_DGRAM)
    populations = {}
    deployed_env = {}  # each size's as-deployed server's environment
    for size in sorted({*args.sizes, args.phones}):
        url = database_url(args, size, work)
        say(f"seeding {size:,} devices and extensions")
        populations[size] = population = seed.seed(
            url, size, guests=2 * args.login_phones if size == args.phones else 0, sip_port=sip_port
        )
        fetches = work / f"fetch-{size}.txt"
        seed.request_list(
            fetches, random.Random(size).sample(population.users, len(population.users)), lambda p: [f"{p.mac}.cfg"]
        )
        env = {"HOTDESK_DATABASE_URL": url, "HOTDESK_SECRET_KEY": SECRET_KEY, "HOTDESK_INSTANCE_PATH": str(work)}
        # As deployed (deploy/README.md): HOTDESK_PUBLISH_DIR set, so a phone's fetch after its first
        # is answered from the copy rendered then. And without it, every fetch rendered.
        deployed_env[size] = published = env | {"HOTDESK_PUBLISH_DIR": str(args.memory_dir / f"published-{size}")}
        servers.append(server := Gunicorn("wsgi:app", work / f"hotdesk-{size}.log", published, workers=args.workers))
        results.targets[f"hotdesk {size}"] = Target(server.url, fetches, server)
        servers.append(rendering := Gunicorn("wsgi:app", work / f"rendering-{size}.log", env, workers=args.workers))
        results.targets[f"rendering {size}"] = Target(rendering.url, fetches, rendering)

    main_target = results.targets[f"hotdesk {args.phones}"]
    body = work / "body.cfg"
    body.write_bytes(one_config(main_target.url, populations[args.phones].users[0]))
    servers.append(
        bare := Gunicorn("bench.bare_app:app", work / "bare.log", {"BENCH_BODY_FILE": str(body)}, workers=args.workers)
    )
    results.targets["bare"] = Target(bare.url, main_target.requests, bare)
    # CPU affinity (deploy/gunicorn.conf.py keeps each worker to one CPU): the same two servers with
    # workers free to move between CPUs, in the same rounds.
    free = {"HOTDESK_PIN_WORKERS": "0"}
    servers.append(
        bare_free := Gunicorn(
            "bench.bare_app:app", work / "bare-free.log", {"BENCH_BODY_FILE": str(body), **free}, workers=args.workers
        )
    )
    results.targets["bare free"] = Target(bare_free.url, main_target.requests, bare_free)
    servers.append(
        hotdesk_free := Gunicorn(
            "wsgi:app", work / "hotdesk-free.log", deployed_env[args.phones] | free, workers=args.workers
        )
    )
    results.targets["hotdesk free"] = Target(hotdesk_free.url, main_target.requests, hotdesk_free)
    servers.append(static := static_file(body, work, args))
    results.targets["static"] = Target(static.url, main_target.requests, static)
    results.targets["fast"] = fast_path(populations[args.phones], args, work, servers)

    for size, population in populations.items():
        say(f"config fetch: every one of {size:,} phones fetches its file once (rendered and published)")
        first = wrk(
            results.targets[f"hotdesk {size}"].url,
            results.targets[f"hotdesk {size}"].requests,
            connections=args.connections,
            count=len(population.users),
        )
        if first.errors:
            raise SystemExit(
                f"bench: {first.errors} errors in the first fetches"
                f" (see {results.targets[f'hotdesk {size}'].server.log_path})"
            )
    names = list(results.targets)
    for name in names:  # warm-up: imports, caches, pools
        wrk(
            results.targets[name].url,
            results.targets[name].requests,
            connections=args.connections,
            seconds=2,
        )
    for round_ in range(args.rounds):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        say(f"round {round_ + 1} of {args.rounds}: config fetch from {', '.join(order)}")
        for name in order:
            target = results.targets[name]
            before = cpu_seconds(target.server)
            measured = wrk(target.url, target.requests, connections=args.connections, seconds=args.seconds)
            target.runs.append(Measured(measured, cpu_seconds(target.server) - before))

    largest = results.targets[f"hotdesk {max(args.sizes)}"].server
    results.memory = [memory_mb(pid) for pid in largest.wait_for_workers()]

    seed.power_cut(database_url(args, args.phones, work))
    PublishedFiles(
        args.memory_dir / f"published-{args.phones}", SECRET_KEY
    ).retire()  # a power cut empties the tmpfs they live on
    storm = work / "boot-storm.txt"
    seed.request_list(storm, populations[args.phones].users, lambda p: [seed.COMMON_FILE, f"{p.mac}.cfg"])
    say(f"boot storm: {args.phones:,} phones")
    results.boot = wrk(main_target.url, storm, connections=args.connections, count=2 * args.phones)
    say(f"login storm: {args.login_phones} phones, {args.login_concurrency} at a time, no pause")
    results.login = login_storm(main_target, populations[args.phones], args, work, sip_port, batch=0, think=0.0)
    say(
        f"login storm: {args.login_phones} more phones, {args.login_concurrency} at a time,"
        f" {args.think} s to type and to restart"
    )
    results.paced = login_storm(main_target, populations[args.phones], args, work, sip_port, batch=1, think=args.think)
    say(f"paced login storm, p99 of each request in flow order (ms): {results.paced['step_p99_ms']}")
    say(f"paced login storm, the slowest flows (s into the run, each answer in ms): {results.paced['slowest'][:4]}")


def login_only(args, work: Path, servers: list[Process]) -> str:
    """The login storms alone (`--only login`), on a database of `--phones` devices served as deployed."""
    sip_port = free_port(socket.SOCK_DGRAM)
    url = database_url(args, args.phones, work)
    say(f"seeding {args.phones:,} devices and extensions")
    population = seed.seed(url, args.phones, guests=2 * args.login_phones, sip_port=sip_port)
    env = {
        "HOTDESK_DATABASE_URL": url,
        "HOTDESK_SECRET_KEY": SECRET_KEY,
        "HOTDESK_INSTANCE_PATH": str(work),
        "HOTDESK_PUBLISH_DIR": str(args.memory_dir / "published"),
    }
    servers.append(server := Gunicorn("wsgi:app", work / "hotdesk.log", env, workers=args.workers))
    target = Target(server.url, work / "unused", server)
    one_config(server.url, population.users[0])  # the workers loaded
    say(f"login storm: {args.login_phones} phones, {args.login_concurrency} at a time, no pause")
    closed = login_storm(target, population, args, work, sip_port, batch=0, think=0.0)
    say(f"login storm: {args.login_phones} more phones, {args.think} s to type and to restart")
    paced = login_storm(target, population, args, work, sip_port, batch=1, think=args.think)
    say(f"paced login storm, p99 of each request in flow order (ms): {paced['step_p99_ms']}")
    say(f"paced login storm, the slowest flows (s into the run, each answer in ms): {paced['slowest'][:4]}")
    lines = [machine(args, f"bench/login_storm.py, {args.login_concurrency} phones at a time")]
    for name, storm in (("no pause", closed), ("people at desks", paced)):
        lines.append(
            f"{name}: {storm['flows'] / storm['seconds']:.1f} flows/s, flow p50 {storm['flow_p50_ms']:.0f} ms,"
            f" p99 {storm['flow_p99_ms']:.0f} ms, {storm['errors']} errors,"
            f" {storm['notifies']} of {storm['flows']} NOTIFYs answered,"
            f" server CPU per flow {storm['cpu_ms'] * storm['requests'] / max(storm['ok'], 1):.1f} ms"
        )
    return "\n".join(lines)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--phones",
        type=int,
        default=DEFAULTS["phones"],
        help="phones in the boot storm (and directory size of the fetch comparison)",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=parse_sizes(DEFAULTS["sizes"]),
        help="directory sizes of the scale measurement",
    )
    parser.add_argument("--login-phones", type=int, default=DEFAULTS["login_phones"])
    parser.add_argument("--login-concurrency", type=int, default=DEFAULTS["login_concurrency"])
    parser.add_argument(
        "--think",
        type=float,
        default=DEFAULTS["think"],
        help="seconds a user takes to type extension and PIN (and a phone to restart) in the paced login storm",
    )
    parser.add_argument("--connections", type=int, default=DEFAULTS["connections"], help="wrk's keep-alive connections")
    parser.add_argument("--seconds", type=float, default=DEFAULTS["seconds"], help="length of each throughput run")
    parser.add_argument(
        "--rounds", type=int, default=DEFAULTS["rounds"], help="throughput runs per server, interleaved"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="gunicorn workers (and nginx workers)")
    parser.add_argument(
        "--tenants",
        type=int,
        default=0,
        help="instead of the rest: what tenancy costs a fetch, with the devices spread over this many tenants"
        f" (the issue's case: {tenants.DEFAULTS['tenants']})",
    )
    parser.add_argument(
        "--voicemail-mailboxes",
        type=int,
        default=0,
        help="instead of the rest: what a PIN check costs with directory_source asterisk, against a voicemail.conf"
        f" of this many mailboxes (the issue's case: {voicemail.DEFAULT_MAILBOXES})",
    )
    parser.add_argument(
        "--tenant-devices",
        type=int,
        default=tenants.DEFAULTS["tenant_devices"],
        help="devices (each logged in) in the tenants mode's two databases",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="instead of the rest: what Prometheus metrics cost a config fetch (metrics on and off)",
    )
    parser.add_argument(
        "--ops-devices", type=int, default=operations.DEFAULTS["ops_devices"], help="devices of the --metrics mode"
    )
    parser.add_argument(
        "--occupancy",
        action="store_true",
        help="instead of the rest: the occupancy report over a year of history (--occupancy-phones phones)",
    )
    parser.add_argument("--occupancy-phones", type=int, default=operations.DEFAULTS["occupancy_phones"])
    parser.add_argument(
        "--app-signins",
        type=int,
        default=0,
        metavar="APPS",
        help="instead of the rest: this many apps signing in at once through /app/v1/sign-in"
        f" (the issue's case: {apps.SIGNIN_DEFAULTS['app_signins']})",
    )
    parser.add_argument(
        "--import-users",
        type=int,
        default=0,
        metavar="N",
        help="instead of the rest: one `hotdesk extensions import` of N new users with generated passwords"
        f" (the issue's case: {apps.IMPORT_DEFAULTS['import_users']:,})",
    )
    parser.add_argument(
        "--only",
        choices=["login"],
        help="login: instead of the rest, only the two login storms, against one as-deployed server of --phones devices"
        " (a minute, to compare changes; bench/README.md left as it is)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="a PostgreSQL database to use (a schema hotdesk_bench_<size> for each size); default: SQLite files",
    )
    return parser.parse_args()


def database_url(args, size: int, work: Path) -> str:
    """A database per size, all served at once: SQLite files, or schemas of the one PostgreSQL database."""
    if not args.database_url:
        return f"sqlite:///{work / f'hotdesk-{size}.db'}"
    separator = "&" if "?" in args.database_url else "?"
    return f"{args.database_url}{separator}options=-csearch_path%3Dhotdesk_bench_{size}"


def parse_sizes(text: str) -> list[int]:
    return [int(size) for size in text.split(",")]


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def one_config(url: str, phone: seed.Phone) -> bytes:
    client = LiveClient(url)
    response = client.get(
        f"/provision/{phone.mac}.cfg", headers={"User-Agent": phone.user_agent}, auth=(phone.username, phone.password)
    )
    client.close()
    assert response.status_code == 200 and b"account.1.enable = 1" in response.data, response.data[:200]
    return response.data


def login_storm(
    target: Target, population: seed.Population, args, work: Path, sip_port: int, *, batch: int, think: float
) -> dict:
    """`batch`: which `login_phones` of the seeded guests log in (each storm needs phones nobody is logged into).
    Adds the server's CPU time per request (`cpu_ms`): unlike latencies, barely moved by other load.

    Before the clock, each phone boots once as a guest, as it did when it became one (at its last
    logout, or when it was unpacked): the phones people log in on have sat at their desks as guests,
    their guest files published since then. A phone's very first fetch, rendered, is the boot storm's."""
    plan = work / f"login-storm-{batch}.json"
    chosen = slice(batch * args.login_phones, (batch + 1) * args.login_phones)
    flows = {
        "base_url": target.url,
        "concurrency": args.login_concurrency,
        "sip_port": sip_port,
        "think_seconds": think,
        "phones": [vars(p) for p in population.guests[chosen]],
        "extensions": population.free_extensions[chosen],
    }
    plan.write_text(json.dumps(flows | {"boot_only": True}))
    subprocess.run([sys.executable, "-m", "bench.login_storm", str(plan)], capture_output=True, text=True, check=True)
    time.sleep(2)  # the sightings of those boots written (hotdesk.sightings: once a second), the server idle again
    plan.write_text(json.dumps(flows))
    before = cpu_seconds(target.server)
    finished = subprocess.run(
        [sys.executable, "-m", "bench.login_storm", str(plan)], capture_output=True, text=True, check=True
    )
    storm = json.loads(finished.stdout.strip().splitlines()[-1])
    storm["cpu_ms"] = 1000 * (cpu_seconds(target.server) - before) / max(storm["requests"], 1)
    return storm


def fast_path(population: seed.Population, args, work: Path, servers: list[Process]) -> Target:
    """nginx with deploy/nginx/hotdesk-fast.conf's /fast/ locations (access log off, as for the static
    file) in front of a hotdesk that publishes, on the main database; every phone's file
    published first, by fetching each once through it. Its rounds come before the login storm,
    whose logins (through the non-publishing server) would otherwise leave its files stale."""
    directory = args.memory_dir / "published"
    env = {
        "HOTDESK_DATABASE_URL": population.url,
        "HOTDESK_SECRET_KEY": SECRET_KEY,
        "HOTDESK_INSTANCE_PATH": str(work),
        "HOTDESK_PUBLISH_DIR": str(directory),
    }
    servers.append(app := Gunicorn("wsgi:app", work / "hotdesk-fast.log", env, workers=args.workers))
    port = free_port()
    snippet = work / "hotdesk-fast.conf"  # the shipped locations, logging off as for the static file
    snippet.write_text(
        (ROOT / "deploy/nginx/hotdesk-fast.conf")
        .read_text()
        .replace("/var/lib/hotdesk/published/", f"{directory}/")
        .replace("access_log /var/log/nginx/hotdesk.access.log hotdesk_fast;", "access_log off;")
        .replace("/var/log/nginx/", f"{work}/")
        .replace("/etc/nginx/snippets/hotdesk-proxy.conf", str(ROOT / "deploy/nginx/hotdesk-proxy.conf"))
    )
    site = f"""
    access_log off;
    keepalive_requests 1000000;
    upstream hotdesk {{ server 127.0.0.1:{app.port}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        include {snippet};
    }}"""
    servers.append(nginx := Nginx(work / "nginx-fast", site, [port], workers=args.workers))
    requests = work / "fetch-fast.txt"
    phones = random.Random(args.phones).sample(population.users, len(population.users))
    seed.request_list(
        requests,
        phones,
        lambda p: [f"{p.mac}.cfg"],
        lambda p: f"/fast/{p.mac}/{signature(SECRET_KEY, p.mac, p.password)}/",
    )
    say(f"fast path: publishing {len(phones):,} phones' files")
    published = wrk(nginx.url, requests, connections=args.connections, count=len(phones))
    if published.errors:
        raise SystemExit(
            f"bench: {published.errors} errors while publishing the fast path's files (see {app.log_path})"
        )
    return Target(nginx.url, requests, nginx)


def static_file(body: Path, work: Path, args) -> Nginx:
    """nginx serving `body` for every provisioning path, as a static file."""
    if NGINX is None:
        raise SystemExit("bench: nginx is not installed (Debian package nginx)")
    port = free_port()
    site = f"""
    access_log off;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {body.parent};
        location /provision/ {{
            default_type "text/plain; charset=utf-8";
            add_header Cache-Control no-store;
            try_files /{body.name} =404;
        }}
    }}"""
    return Nginx(work / "nginx", site, [port], workers=args.workers)


def memory_mb(pid: int) -> tuple[float, float]:
    rss = int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))
    pss = int(re.search(r"Pss:\s+(\d+)", Path(f"/proc/{pid}/smaps_rollup").read_text()).group(1))
    return rss / 1024, pss / 1024


def check_log(server: Process) -> None:
    """A 500 or a worker that died would make every number meaningless: say so loudly."""
    trouble = [
        line for line in server.log().splitlines() if re.search(r"Traceback|WORKER TIMEOUT|Exception on|CRITICAL", line)
    ]
    if trouble:
        say(f"WARNING: {len(trouble)} error lines in {server.log_path}, first: {trouble[0]}")


def report(r: Results, args) -> str:
    t = r.targets
    fetch, rendering, bare, static, fast = (
        t[f"hotdesk {args.phones}"],
        t[f"rendering {args.phones}"],
        t["bare"],
        t["static"],
        t["fast"],
    )
    bare_free, hotdesk_free = t["bare free"], t["hotdesk free"]
    small, large = t[f"hotdesk {min(args.sizes)}"], t[f"hotdesk {max(args.sizes)}"]
    small_rendering, large_rendering = t[f"rendering {min(args.sizes)}"], t[f"rendering {max(args.sizes)}"]
    login, paced, boot = r.login, r.paced, r.boot

    def row(*cells) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    measured = [
        row("measurement", "req/s", "p50 ms", "p99 ms", "errors", "server CPU ms/req"),
        "|---|--:|--:|--:|--:|--:|",
        *(
            row(
                f"config fetch, hotdesk, {size:,} devices ({label})",
                f"{t[f'{kind} {size}'].rate:,.0f}",
                f"{t[f'{kind} {size}'].p50_ms:.1f}",
                f"{t[f'{kind} {size}'].p99_ms:.1f}",
                t[f"{kind} {size}"].errors,
                f"{t[f'{kind} {size}'].cpu_ms:.2f}",
            )
            for kind, label in (
                ("hotdesk", "as deployed: the copy rendered at the phone's last fetch"),
                ("rendering", "no HOTDESK_PUBLISH_DIR: every fetch rendered"),
            )
            for size in sorted({*args.sizes, args.phones})
        ),
        row(
            "same bytes, bare Flask + gunicorn (same workers)",
            f"{bare.rate:,.0f}",
            f"{bare.p50_ms:.1f}",
            f"{bare.p99_ms:.1f}",
            bare.errors,
            f"{bare.cpu_ms:.3f}",
        ),
        row(
            "same bytes, bare Flask + gunicorn, workers free to move between CPUs (HOTDESK_PIN_WORKERS=0)",
            f"{bare_free.rate:,.0f}",
            f"{bare_free.p50_ms:.1f}",
            f"{bare_free.p99_ms:.1f}",
            bare_free.errors,
            f"{bare_free.cpu_ms:.3f}",
        ),
        row(
            f"config fetch, hotdesk, {args.phones:,} devices (as deployed), workers free to move between CPUs",
            f"{hotdesk_free.rate:,.0f}",
            f"{hotdesk_free.p50_ms:.1f}",
            f"{hotdesk_free.p99_ms:.1f}",
            hotdesk_free.errors,
            f"{hotdesk_free.cpu_ms:.2f}",
        ),
        row(
            "same bytes, nginx static file",
            f"{static.rate:,.0f}",
            f"{static.p50_ms:.1f}",
            f"{static.p99_ms:.1f}",
            static.errors,
            f"{static.cpu_ms:.3f}",
        ),
        row(
            f"config fetch, nginx fast path (published files), {args.phones:,} devices",
            f"{fast.rate:,.0f}",
            f"{fast.p50_ms:.1f}",
            f"{fast.p99_ms:.1f}",
            fast.errors,
            f"{fast.cpu_ms:.3f}",
        ),
        row(
            f"boot storm: {args.phones:,} phones × 2 files, {args.connections} connections, {boot.seconds:.1f} s",
            f"{boot.rate:,.0f}",
            f"{boot.p50_ms:.1f}",
            f"{boot.p99_ms:.1f}",
            boot.errors,
            "",
        ),
        row(
            f"login storm: {login['flows']} phones, {args.login_concurrency} at a time, each request",
            f"{login['requests'] / login['seconds']:,.0f}",
            f"{login['request_p50_ms']:.1f}",
            f"{login['request_p99_ms']:.1f}",
            login["errors"],
            f"{login['cpu_ms']:.2f}",
        ),
        row(
            "login storm, each whole flow (guest config → form → submit → reload → user config)",
            f"{login['flows'] / login['seconds']:,.1f} flows/s",
            f"{login['flow_p50_ms']:.0f}",
            f"{login['flow_p99_ms']:.0f}",
            login["errors"],
            "",
        ),
        row(
            f"login storm, people at desks ({args.think:g} s to type, {args.think:g} s to restart): "
            f"{paced['flows']} phones, "
            f"{args.login_concurrency} at a time, each flow's time waiting for the server",
            f"{paced['flows'] / paced['seconds']:,.1f} flows/s",
            f"{paced['flow_p50_ms']:.0f}",
            f"{paced['flow_p99_ms']:.0f}",
            paced["errors"],
            f"{paced['cpu_ms']:.2f}",
        ),
    ]

    def verdict(ok: bool) -> str:
        return "pass" if ok else "**FAIL**"

    vs_bare = fetch.rate / bare.rate
    cost, cost_rendering = large.cpu_ms / small.cpu_ms, large_rendering.cpu_ms / small_rendering.cpu_ms
    worst_rss = max(rss for rss, _ in r.memory)
    paced_ok = paced["errors"] == 0 and paced["flow_p99_ms"] <= TARGETS["login_p99_ms"]
    targets = [
        row("target", "measured", "verdict"),
        "|---|---|---|",
        row(
            f"config fetch ≥ {TARGETS['fetch_vs_bare']}× bare Flask (req/s), as deployed",
            f"{vs_bare:.3f}× (server CPU per request: {fetch.cpu_ms / bare.cpu_ms:.1f}× bare's)",
            verdict(vs_bare >= TARGETS["fetch_vs_bare"]),
        ),
        row(
            "config fetch, every fetch rendered (no HOTDESK_PUBLISH_DIR), vs bare Flask",
            f"{rendering.rate / bare.rate:.3f}× (server CPU per request: {rendering.cpu_ms / bare.cpu_ms:.1f}× bare's)",
            "for information",
        ),
        row(
            "config fetch vs nginx static file (the physical limit)",
            f"{fetch.rate / static.rate:.4f}×",
            "for information",
        ),
        row(
            f"fast path ≥ {TARGETS['fast_vs_static']}× nginx static (req/s)",
            f"{fast.rate / static.rate:.3f}× ({fast.errors} errors)",
            verdict(fast.rate / static.rate >= TARGETS["fast_vs_static"] and fast.errors == 0),
        ),
        row(
            "boot storm: 0 errors",
            f"{boot.errors} errors in {boot.requests:,} answers",
            verdict(boot.errors == 0 and boot.requests == 2 * args.phones),
        ),
        row(
            f"login flow p99 ≤ {TARGETS['login_p99_ms']:.0f} ms at {args.login_concurrency} concurrent phones"
            " (people at desks)",
            f"p99 {paced['flow_p99_ms']:.0f} ms, {paced['errors']} errors, "
            f"{paced['notifies']} of {paced['flows']} NOTIFYs answered"
            f" (server CPU per flow: {paced['cpu_ms'] * paced['requests'] / max(paced['ok'], 1):.1f} ms)",
            verdict(paced_ok),
        ),
        row(
            f"the same {args.login_concurrency} phones with no pause between steps"
            " (a closed loop: its p99 is concurrency ÷ throughput)",
            f"p99 {login['flow_p99_ms']:.0f} ms at {login['flows'] / login['seconds']:,.1f} flows/s, "
            f"{login['errors']} errors, "
            f"{login['notifies']} of {login['flows']} NOTIFYs answered",
            "for information" if login["errors"] == 0 else "**FAIL** (errors)",
        ),
        row(
            f"workers as deployed ({pinning()}) vs free to move between CPUs",
            f"bare Flask: {bare.rate / bare_free.rate:.2f}× the req/s, {bare.cpu_ms / bare_free.cpu_ms:.2f}× the CPU"
            f" per request; hotdesk as deployed: {fetch.rate / hotdesk_free.rate:.2f}× the req/s,"
            f" {fetch.cpu_ms / hotdesk_free.cpu_ms:.2f}× the CPU per request",
            "for information",
        ),
        row(
            f"{max(args.sizes):,}-device cost ≤ {TARGETS['scale_cost']}× {min(args.sizes):,}-device cost"
            " (server CPU per request)",
            f"{cost:.2f}× (req/s: {small.rate / large.rate:.2f}×); every fetch rendered: {cost_rendering:.2f}×",
            verdict(max(cost, cost_rendering) <= TARGETS["scale_cost"]),
        ),
        row(
            f"RSS ≤ {TARGETS['rss_mb']:.0f} MB per worker at {max(args.sizes):,} devices",
            ", ".join(f"{rss:.0f} MB (PSS {pss:.0f})" for rss, pss in r.memory),
            verdict(worst_rss <= TARGETS["rss_mb"]),
        ),
    ]
    errors = login["first_errors"] + paced["first_errors"]
    notes = f"\n\nfirst login-storm errors: {errors[:3]}" if errors else ""
    return machine(args) + "\n\n" + "\n".join(measured) + "\n\n" + "\n".join(targets) + notes


def machine(args, load: str | None = None, servers: bool = True) -> str:
    """The run's machine and setup; `load`: how the load was made, when not wrk's fetch rounds;
    `servers`: whether gunicorn served it."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 1024**2
    nginx = (
        subprocess.run([NGINX, "-v"], check=False, capture_output=True, text=True).stderr.strip().split("/")[-1]
        if NGINX
        else "-"
    )
    database = "PostgreSQL" if args.database_url and args.database_url.startswith("postgresql") else "SQLite (WAL)"
    load = load or (
        f"nginx {nginx} · wrk, {args.connections} keep-alive connections; req/s and latencies are medians of"
        f" {args.rounds} interleaved {args.seconds:g} s runs"
    )
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {cpu}, {os.cpu_count()} CPUs, {memory:.0f} GiB"
        f" · Linux {platform.release()} · Python {platform.python_version()} · {database}"
        + (f" · gunicorn {args.workers} workers (deploy/gunicorn.conf.py, {pinning()})" if servers else "")
        + f" · {load} · load average before the run {args.load_before:.2f}"
    )


def pinning() -> str:
    """What deploy/gunicorn.conf.py does with the workers' CPUs in this run's environment."""
    return "workers free to move" if os.environ.get("HOTDESK_PIN_WORKERS") == "0" else "each worker kept to one CPU"


def record(table: str, marker: str = "bench") -> None:
    text = README.read_text()
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    before, rest = text.split(start, 1)
    README.write_text(f"{before}{start}\n{table}\n{end}{rest.split(end, 1)[1]}")


if __name__ == "__main__":
    main()
