"""The emulated phones of tests/phones.py over real HTTP: a stand-in for the Flask test client.

`LiveClient.get` takes what `Phone.get` passes the test client, sends it over a keep-alive
connection to a running server (gunicorn, nginx), and answers with what `Phone` reads from a
test response. The phone's address is whatever the socket's source is: `environ_base` cannot
change it over the wire.
"""

from __future__ import annotations

import base64
import http.client
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit


@dataclass(frozen=True)
class LiveResponse:
    status_code: int
    data: bytes
    headers: http.client.HTTPMessage

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


class LiveClient:
    """One phone's HTTP client: one keep-alive connection per server it talks to."""

    def __init__(
        self, base_url: str, *, ssl_context: ssl.SSLContext | None = None, timeout: float = 30.0, retry: bool = True
    ):
        self.base_url = base_url
        self.retry = retry
        self.ssl_context = ssl_context
        self.timeout = timeout
        self._connections: dict[tuple[str, str], http.client.HTTPConnection] = {}

    def get(self, url: str, *, headers=None, auth=None, environ_base=None, **_ignored) -> LiveResponse:
        parts = urlsplit(urljoin(self.base_url, url))
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        sent = dict(headers or {})
        if auth is not None:
            sent["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        key = (parts.scheme, parts.netloc)
        reused = key in self._connections
        try:
            return self._exchange(key, target, sent)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server may close an idle keep-alive connection just as we reuse it: one retry on a
            # fresh connection, as HTTP clients do. A fresh connection that fails is a real failure.
            self._drop(key)
            if not (reused and self.retry):
                raise
            return self._exchange(key, target, sent)

    def close(self) -> None:
        for key in list(self._connections):
            self._drop(key)

    def _exchange(self, key: tuple[str, str], target: str, headers: dict[str, str]) -> LiveResponse:
        connection = self._connections.get(key) or self._connect(*key)
        try:
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            body = response.read()
        except BaseException:
            self._drop(key)
            raise
        if response.will_close:
            self._drop(key)
        return LiveResponse(response.status, body, response.headers)

    def _connect(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        if scheme == "https":
            connection = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self.ssl_context)
        else:
            connection = http.client.HTTPConnection(netloc, timeout=self.timeout)
        self._connections[(scheme, netloc)] = connection
        return connection

    def _drop(self, key: tuple[str, str]) -> None:
        connection = self._connections.pop(key, None)
        if connection is not None:
            connection.close()
