"""`python -m bench.metrics_in_process`: what Prometheus metrics add to a config fetch's CPU, measured
in one process (run by `make bench BENCH_ARGS="--metrics"`, bench/operations.py).

Between gunicorn servers with metrics on and off, a few microseconds a fetch drown in the rounds'
noise: two identical servers measured in the same rounds differ by several per cent on this
machine (bench/README.md). Here the same process holds the app as wsgi.py makes it twice, with
metrics on and off, and calls each with the same fetches, alternating short batches of each
(on-off, then off-on) and timing them in process CPU time (every thread: the metrics' own writer
too). What the metrics add is the median of the batches' paired differences.

Prometheus's multiprocess mode is on, as under gunicorn (PROMETHEUS_MULTIPROC_DIR, set by the
caller before anything imports prometheus_client). Prints JSON: per kind (deployed: the published
copies answer; rendering: every fetch rendered) the CPU µs per fetch with metrics on and off and
the added µs (median and quartiles of the paired batches).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import io
import json
import statistics
import sys
import time
from pathlib import Path

from hotdesk.app import create_app
from hotdesk.config import Config

BATCHES = {"deployed": (200, 300), "rendering": (100, 40)}  # pairs of batches, fetches in a batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=Path, required=True, help="bench/seed.py's request list")
    parser.add_argument("--work", type=Path, required=True, help="the instance directory")
    parser.add_argument("--published", type=Path, required=True, help="where the publish directories go (a tmpfs)")
    args = parser.parse_args()
    fetches = [_environ(line) for line in args.requests.read_text().splitlines()]
    measured = {}
    for kind, (pairs, batch) in BATCHES.items():
        apps = {metrics: _app(args, kind, metrics) for metrics in ("on", "off")}
        for app in apps.values():  # deployed: every phone's copy rendered and published
            for environ in fetches if kind == "deployed" else fetches[:batch]:
                _fetch(app, environ)
        gc.collect()
        gc.freeze()  # as gunicorn's workers do after loading (deploy/gunicorn.conf.py)
        spent: dict[str, list[float]] = {"on": [], "off": []}
        for pair in range(pairs):
            for metrics in ("on", "off") if pair % 2 == 0 else ("off", "on"):
                chosen = [fetches[(pair * batch + n) % len(fetches)] for n in range(batch)]
                started = time.process_time()
                for environ in chosen:
                    _fetch(apps[metrics], environ)
                spent[metrics].append(1e6 * (time.process_time() - started) / batch)
        added = [on - off for on, off in zip(spent["on"], spent["off"], strict=True)]
        q1, median, q3 = statistics.quantiles(added, n=4)
        measured[kind] = {
            "on_us": statistics.median(spent["on"]),
            "off_us": statistics.median(spent["off"]),
            "added_us": median,
            "added_q1_us": q1,
            "added_q3_us": q3,
            "pairs": pairs,
            "batch": batch,
        }
        gc.unfreeze()
        for app in apps.values():
            app.extensions["hotdesk"].engine.dispose()
    json.dump(measured, sys.stdout)


def _app(args, kind: str, metrics: str):
    env = {
        "HOTDESK_DATABASE_URL": args.database_url,
        "HOTDESK_SECRET_KEY": "bench-secret-key",
        "HOTDESK_INSTANCE_PATH": str(args.work),
        "HOTDESK_METRICS": metrics,
    }
    if kind == "deployed":
        env["HOTDESK_PUBLISH_DIR"] = str(args.published / f"published-in-process-{metrics}")
    config = dataclasses.replace(Config.from_env(env), send_mail=False)  # no mail thread: none is sent
    return create_app(config)


def _environ(line: str) -> dict:
    path, authorization, user_agent = line.split("\t")
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": authorization,
        "HTTP_USER_AGENT": user_agent,
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def _fetch(app, environ: dict) -> None:
    """One fetch, as gunicorn makes it: the answer read to its end and closed."""
    status = []
    answer = app({**environ, "wsgi.input": io.BytesIO()}, lambda code, headers, exc_info=None: status.append(code))
    try:
        for _ in answer:
            pass
    finally:
        if hasattr(answer, "close"):
            answer.close()
    if not status or not status[0].startswith("200"):
        raise SystemExit(f"bench: {environ['PATH_INFO']} answered {status}")


if __name__ == "__main__":
    main()
