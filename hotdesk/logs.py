"""hotdesk's log lines: plain text, or one JSON object a line (HOTDESK_LOG_FORMAT=json), each with
the id of the request it was written for; never a query string or a secret in a path.

Phone-app GETs carry the PIN in their query string (the phones' only way to submit), and some
paths are secrets themselves: a phone's app token (`/phone/<token>/`), its fast path
(`/fast/<mac>/<signature>/`), a tenant's provisioning path (`/provision/t/<path>/`), a softphone's
configuration token (`/app/config/<token>`, `/app/qr/<token>`), a desk phone's access-code challenge
(`/phone/<token>/login/<address>/access-code/<challenge>`), a password link
(`/portal/password/<token>`). `scrubbed` cuts all of them out of
whatever is logged, by hotdesk or by gunicorn (hotdesk.serving).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from contextvars import ContextVar
from datetime import UTC, datetime

_QUERY = re.compile(r"\?[^\s'\"]*")
_PATH_SECRETS = re.compile(
    r"(/phone/|/fast/[0-9a-fA-F]{12}/|/provision/t/|/app/config/|/app/qr/|/access-code/|/portal/password/)[^/\s'\"?]+"
)

request_id: ContextVar[str | None] = ContextVar("hotdesk_request_id", default=None)
_GIVEN_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def without_queries(text: str) -> str:
    """`GET /phone/t/login?password=1234 HTTP/1.1` -> `GET /phone/t/login?… HTTP/1.1`."""
    return _QUERY.sub("?…", text)


def scrubbed(text: str) -> str:
    """No query string and no secret path segment: `GET /phone/…/login?… HTTP/1.1`."""
    return _PATH_SECRETS.sub(r"\1…", without_queries(text))


def new_request_id(given: str | None) -> str:
    """The id of a request: the one a proxy in front gave it (X-Request-Id), if it looks like one, else new."""
    if given is not None and _GIVEN_ID.fullmatch(given):
        return given
    return secrets.token_hex(8)


class Scrub(logging.Filter):
    """Every record's message and traceback, scrubbed; the request's id attached."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message or "/" in message:
            record.msg, record.args = scrubbed(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrubbed(record.exc_text)
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        given = getattr(record, "request_id", None) or request_id.get()
        if given:
            entry["request_id"] = given
        for name in ("method", "path", "status", "duration_ms"):
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info and not record.exc_text:
            record.exc_text = scrubbed(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
