"""gunicorn for hotdesk: `gunicorn -c deploy/gunicorn.conf.py wsgi:app` (behind nginx), and `make run`.

HOTDESK_BIND (default 127.0.0.1:8000, the upstream in deploy/nginx/hotdesk.conf) and
HOTDESK_WORKERS (default: one per CPU) override; so do gunicorn's own command-line options.
HOTDESK_PIN_WORKERS=0 lets the workers move between CPUs (by default each keeps to one).
`kill -HUP <master>` reloads code and this file: new workers start, old ones finish what they
are serving (up to graceful_timeout) and exit, so no phone sees a refused connection.
"""

import gc
import os
import re
from pathlib import Path

bind = os.environ.get("HOTDESK_BIND", "127.0.0.1:8000")
# Rendering a file is CPU work in Python: more processes than CPUs only adds memory and switching.
# The threads overlap waits on a remote PostgreSQL and keep phones' connections alive.
workers = int(os.environ.get("HOTDESK_WORKERS") or os.cpu_count() or 1)
# gthread, except that a request reaches a thread only once it has fully arrived: clients that
# trickle their headers (slowloris) cost a socket each, not a thread (hotdesk/serving.py).
worker_class = "hotdesk.serving.RequestFirstWorker"
# Two, not more: threads of one worker share its interpreter lock, so each extra one mostly
# interleaves requests (and stretches the login lock's hold) rather than adding work done; the
# login storm in bench/ had a lower p99 and a higher throughput with 2 than with 4. The second
# keeps a worker answering phones while one slow request (a large import, say) runs.
threads = 2
keepalive = 5

timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 20
# Each worker creates its app, and so its own database pool, after the fork; HUP reloads the code.
preload_app = False

# No access log: phone-app GETs carry the PIN in the query string (the phones' only way to submit).
# nginx keeps the access log, without the query (deploy/nginx/hotdesk.conf).
accesslog = None
errorlog = "-"
# gunicorn's error log quotes malformed request lines (and failing requests' URIs) verbatim: this
# logger cuts their query strings out (hotdesk/serving.py).
logger_class = "hotdesk.serving.QueryFreeLogger"
loglevel = "info"

# Proxy headers are trusted in one place, the app's ProxyFix (HOTDESK_TRUSTED_PROXIES); gunicorn
# would otherwise read X-Forwarded-Proto from any local peer by itself.
secure_scheme_headers = {}


# Prometheus (hotdesk/metrics.py): each worker writes its counts to files here and /metrics adds them
# up. Set before any worker imports prometheus_client, which reads it once. Both listeners of
# `make run` (HOTDESK_ADMIN_BIND) share it, so the admin one's /metrics counts the phones' fetches.
# Best on a tmpfs (/run/hotdesk/metrics, say); by default beside the database in the instance directory.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    from hotdesk.config import default_instance_path

    instance = Path(os.environ.get("HOTDESK_INSTANCE_PATH") or default_instance_path())
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(instance / "metrics")
_METRICS_FILE = re.compile(r"[a-z_]+_(\d+)\.db")


def on_starting(server):
    """Counts of processes that are gone are dropped (a counter reset, which Prometheus expects
    of a restart); those of live ones — the other listener's workers — are kept."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in directory.iterdir():
        match = _METRICS_FILE.fullmatch(path.name)
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def child_exit(server, worker):
    from prometheus_client import multiprocess

    # Its gauges go; its counts stay in the sums (its last second's fetches it wrote as it exited:
    # hotdesk.metrics.FetchCounts; a worker killed outright loses them).
    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # Everything loaded so far (the app, SQLAlchemy's mappers, Jinja, lxml) lives as long as the
    # worker: gc.freeze() keeps it out of the collector's full passes, which otherwise walk the
    # whole heap and hold a request up for tens of milliseconds.
    gc.freeze()


# Each worker keeps to one CPU, the workers spread over those the master may use. Measured in
# bench/ on 2 CPUs shared with other work (bench/README.md, "CPU affinity"): a worker kept to its
# CPU spends about 5 % less CPU per request than one free to move (bare Flask too), and the login
# storm's p99 was lower, not higher. HOTDESK_PIN_WORKERS=0 lets them move.
PIN_WORKERS = os.environ.get("HOTDESK_PIN_WORKERS", "1") != "0" and hasattr(os, "sched_setaffinity")


def pre_fork(server, worker):
    # In the master, which knows which CPUs its live workers keep to: a replaced worker's CPU is
    # the one given to its successor.
    if PIN_WORKERS:
        taken = [getattr(other, "cpu", None) for other in server.WORKERS.values()]
        worker.cpu = min(sorted(os.sched_getaffinity(0)), key=taken.count)


def post_fork(server, worker):
    if PIN_WORKERS:
        os.sched_setaffinity(0, {worker.cpu})
