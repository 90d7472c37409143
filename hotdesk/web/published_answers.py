"""A phone's own file answered from its published copy (hotdesk.published), before Flask.

Phones fetch the same file again and again: auto-provisioning every few minutes or hours, a
check-sync, a reboot. When the copy rendered last time still exists it is current (its device's
changes delete it the moment they commit), so the answer is that copy: the request's credentials
are checked against the device's as they were when the copy was written, and the User-Agent
must be the one it was written for. Everything else goes on to the provisioning blueprint as if
this did not exist: a first fetch, another User-Agent (new firmware), credentials that do not
prove the device's, a common file, the global credentials.
"""

from __future__ import annotations

from werkzeug.wrappers import Request

from hotdesk import brands
from hotdesk.brands import FileKind
from hotdesk.published import PublishedFiles
from hotdesk.sightings import Sightings
from hotdesk.web import http_auth

PREFIX = "/provision/"


class PublishedAnswers:
    """WSGI middleware around the app (inside ProxyFix, so that addresses are the phones')."""

    def __init__(self, app, files: PublishedFiles, sightings: Sightings, secret_key: str):
        self.app, self.files, self.sightings, self.secret_key = app, files, sightings, secret_key

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and "HTTP_AUTHORIZATION" in environ:
            path = environ.get("PATH_INFO", "")
            if path.startswith(PREFIX):
                answer = self._copy(Request(environ), path[len(PREFIX):])
                if answer is not None:
                    body, content_type = answer
                    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
                    return [body]
        return self.app(environ, start_response)

    def _copy(self, request: Request, filename: str) -> tuple[bytes, str] | None:
        user_agent = request.headers.get("User-Agent", "")
        found = brands.recognise(user_agent, request.headers)
        if found is None:
            return None
        brand, identity = found
        requested = brand.requested_file(filename)
        if requested is None or requested.kind is not FileKind.DEVICE or identity.mac not in (None, requested.mac):
            return None
        reader = self.files.reader(requested.mac)
        if reader is None or reader.user_agent != user_agent:
            return None
        if not http_auth.proves(request, reader.username, reader.ha1, self.secret_key):
            return None
        body = self.files.read(requested.mac, reader.sig, filename)
        if body is None:
            return None
        self.sightings.saw(reader.device_id, requested.mac, request.remote_addr)
        return body, brand.config_content_type
