"""What operators' tools read: /healthz and /readyz (every listener, for a load balancer's health
check every second), /metrics (Prometheus; the admin listener), and the provisioning metrics,
counted around everything that answers a fetch (the published copies' middleware included)."""

from __future__ import annotations

import ipaddress
import logging
import time

from flask import Blueprint, Response, jsonify, request

from hotdesk import health, logs, metrics
from hotdesk.admin import accounts
from hotdesk.web import db, hotdesk
from hotdesk.web.named_phone import peek

health_bp = Blueprint("health", __name__)
metrics_bp = Blueprint("metrics", __name__)

ANSWERED_FROM = "hotdesk.answered_from"  # "copy": the published copy answered (web/published_answers.py)
FILE_KIND = "hotdesk.file_kind"  # guest, user, common (web/provision.py) or device (a copy's)


@health_bp.route("/healthz")
def healthz() -> Response:
    """The process serves: nothing else asked."""
    return _health([])


@health_bp.route("/readyz")
def readyz() -> Response:
    """The database reachable and migrated, the publish directory writable (when set)."""
    running = hotdesk()
    return _health(health.problems(running.engine, running.config.publish_dir))


def _health(problems: list[str]) -> Response:
    response = jsonify({"status": "unavailable" if problems else "ok", "problems": problems})
    response.status_code = 503 if problems else 200
    response.headers["Cache-Control"] = "no-store"
    return response


@metrics_bp.route("/metrics")
def scrape() -> Response:
    """Prometheus text, to loopback (not through a proxy) or a system API token with the read scope."""
    if not (_from_this_host() or _system_token()):
        response = jsonify({"error": "metrics are for this host, or Authorization: Bearer <system API token>"})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="hotdesk"'
        return response
    return Response(metrics.exposition(hotdesk().sessions), content_type=metrics.CONTENT_TYPE)


def _from_this_host() -> bool:
    """Loopback, and not a request a proxy on this host passed on (it says whom for); behind trusted
    proxies the address is already the client's."""
    if "X-Forwarded-For" in request.headers and not hotdesk().config.trusted_proxies:
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _system_token() -> bool:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    token = accounts.token_named_by(db(), secret.strip())
    return (
        token is not None
        and not accounts.token_expired(token)
        and token.tenant_id is None  # the counts are the installation's, every tenant's
        and "read" in accounts.token_scopes(token)
    )


class ProvisioningMetrics:
    """WSGI middleware, outermost: counts each provisioning fetch by brand, kind and outcome, and
    times it, whoever answered it (the published copy before Flask, or Flask)."""

    PATHS = ("/provision/", "/fast/")

    def __init__(self, app):
        self.app = app
        metrics.FETCHES.write_every_second()

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith(self.PATHS):
            return self.app(environ, start_response)
        started = time.perf_counter()
        status = []

        def start(code, headers, exc_info=None):
            status.append(code)
            return start_response(code, headers, exc_info)

        answer = self.app(environ, start)
        code = status[0][:3] if status else "500"
        outcome = environ.get(ANSWERED_FROM, "rendered") if code == "200" else code
        phone = peek(environ)
        brand = phone.brand.key if phone is not None and phone.brand is not None else "unknown"
        metrics.FETCHES.count(brand, environ.get(FILE_KIND, "none"), outcome, time.perf_counter() - started)
        return answer


requests_log = logging.getLogger("hotdesk.request")


class RequestIds:
    """WSGI middleware, outermost: each request gets an id (a well-formed X-Request-Id from the proxy
    in front, else a new one) that every log line written for it carries and its answer names
    (X-Request-Id). With JSON logs, one line a request: method, path (no query, no secret path),
    status, time taken."""

    def __init__(self, app, *, log_requests: bool):
        self.app, self.log_requests = app, log_requests

    def __call__(self, environ, start_response):
        given = logs.new_request_id(environ.get("HTTP_X_REQUEST_ID"))
        token = logs.request_id.set(given)
        started = time.perf_counter()
        status = []

        def start(code, headers, exc_info=None):
            status.append(code)
            return start_response(code, [*headers, ("X-Request-Id", given)], exc_info)

        try:
            return self.app(environ, start)
        finally:
            if self.log_requests:
                requests_log.info(
                    "%s %s %s",
                    environ.get("REQUEST_METHOD", ""),
                    logs.scrubbed(environ.get("PATH_INFO", ""))[:300],
                    status[0][:3] if status else "-",
                    extra={
                        "method": environ.get("REQUEST_METHOD", ""),
                        "path": logs.scrubbed(environ.get("PATH_INFO", ""))[:300],
                        "status": int(status[0][:3]) if status else None,
                        "duration_ms": round(1000 * (time.perf_counter() - started), 2),
                    },
                )
            logs.request_id.reset(token)
