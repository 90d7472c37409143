"""A phone's own file answered from its published copy (hotdesk.published), before Flask.

Phones fetch the same file again and again: auto-provisioning every few minutes or hours, a
check-sync, a reboot. When the copy rendered last time still exists it is current (its device's
changes delete it the moment they commit), so the answer is that copy:

- /provision/<file>: when the request's credentials prove the device's, as they were when the
  copy was written, and its User-Agent is the one the copy was written for;
- /fast/<mac>/<sig>/<file>: the device's secret path, as nginx serves it (deploy/nginx), for a
  phone that reaches hotdesk without nginx in front.

Every copy was rendered for the device's own credentials (hotdesk.trust: Proof.OWN_CREDENTIALS),
and both ways above prove them, so a copy never reaches a request that does not prove the device.
Everything else goes on to the provisioning blueprint as if this did not exist: a first fetch,
another User-Agent (new firmware), credentials that do not prove the device's, the global
credentials, a common file from a phone whose User-Agent does not name its MAC; /fast/ paths without
a copy go where nginx sends them, /provision/fast/.
"""

from __future__ import annotations

import re

from werkzeug.wrappers import Request

from hotdesk.brands import BRANDS, FileKind
from hotdesk.published import PublishedFiles, Reader
from hotdesk.sightings import Sightings
from hotdesk.web import http_auth
from hotdesk.web.named_phone import named_by, remember
from hotdesk.web.operations import ANSWERED_FROM, FILE_KIND

PROVISION, FAST = "/provision/", "/fast/"
_FAST_PATH = re.compile(r"/fast/([0-9a-f]{12})/([0-9a-f]{32})/([^/]+)")


class PublishedAnswers:
    """WSGI middleware around the app (inside ProxyFix, so that addresses are the phones')."""

    def __init__(self, app, files: PublishedFiles, sightings: Sightings, nonces: http_auth.DigestNonces):
        self.app, self.files, self.sightings, self.nonces = app, files, sightings, nonces

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET":
            path = environ.get("PATH_INFO", "")
            answer = None
            if path.startswith(PROVISION) and "HTTP_AUTHORIZATION" in environ:
                answer = self._by_credentials(environ, path[len(PROVISION) :])
            elif path.startswith(FAST):
                answer = self._by_path(environ, path)
                if answer is None:
                    environ = environ | {"PATH_INFO": "/provision" + path}
            if answer is not None:
                body, content_type = answer
                environ[ANSWERED_FROM] = "copy"
                start_response(
                    "200 OK",
                    [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")],
                )
                return [body]
        return self.app(environ, start_response)

    def _by_credentials(self, environ, filename: str) -> tuple[bytes, str] | None:
        request = Request(environ)
        user_agent = request.headers.get("User-Agent", "")
        phone = named_by(user_agent, request.headers, filename)
        remember(environ, filename, phone)
        # A common file is published among the device's own too: found by the MAC in the User-Agent.
        mac = phone.mac
        if phone.requested is None or mac is None:
            return None
        reader = self.files.reader(mac)
        if reader is None or reader.user_agent != user_agent:
            return None
        # Digest answers are checked against this host's nc marks like any other (http_auth). There
        # is no failure throttle here: only a device's own credentials, generated and long, open a
        # copy; anything else goes on to the blueprint, which counts failures (web/ratelimit.py).
        if not http_auth.proves(request, reader.username, reader.ha1, self.nonces):
            return None
        return self._copy(environ, mac, reader, filename, phone.requested.kind, request.remote_addr)

    def _by_path(self, environ, path: str) -> tuple[bytes, str] | None:
        match = _FAST_PATH.fullmatch(path)
        if match is None:
            return None
        mac, sig, filename = match.groups()
        reader = self.files.reader(mac)
        if reader is None or reader.sig != sig:
            return None
        return self._copy(environ, mac, reader, filename, None, environ.get("REMOTE_ADDR"))

    def _copy(
        self, environ, mac: str, reader: Reader, filename: str, kind: FileKind | None, ip: str | None
    ) -> tuple[bytes, str] | None:
        body = self.files.read(mac, reader.sig, filename)
        brand = BRANDS.get(reader.brand)
        if body is None or brand is None:
            return None
        self.sightings.saw(reader.device_id, mac, ip)
        if kind is None:
            requested = brand.requested_file(filename)
            kind = requested.kind if requested is not None else FileKind.DEVICE
        environ[FILE_KIND] = "common" if kind is FileKind.COMMON else "user" if reader.user else "guest"
        return body, brand.config_content_type
