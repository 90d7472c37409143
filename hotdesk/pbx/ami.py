"""Asterisk's Manager Interface (AMI), as much of it as hotdesk needs: log in, send
`Action: PJSIPNotify`, read the answer.

The protocol (docs.asterisk.org, AMI): over TCP (port 5038) the server first sends a banner line,
`Asterisk Call Manager/<version>`; then each side sends messages of `Key: Value` lines ended by an
empty line. An action carries an `ActionID`, which its answer (`Response: Success` or `Error`,
with a `Message`) repeats; events (`Event: ...`) may come in between, and are skipped here.
`Login` (Username, Secret; `Events: off`) comes first. PJSIPNotify needs the `system` write class.

One connection per server is kept and used by one action at a time; a connection that drops, or
does not answer in time, is closed and the next action opens a new one (a failed one is retried
once on a fresh connection when the old one was found dead before anything was sent). The secret
is never in an error, a log line or the history.
"""

from __future__ import annotations

import itertools
import socket
import threading
from dataclasses import dataclass, field

CONNECT_TIMEOUT = 3.0  # seconds; the NOTIFY then falls back to UDP
ANSWER_TIMEOUT = 5.0
BANNER = "Asterisk Call Manager/"
MAX_MESSAGE = 64 * 1024  # an answer longer than this is not one hotdesk asked for


class AmiError(Exception):
    """The action got no answer: the server cannot be reached, is not Asterisk, refused the login,
    dropped the connection or did not answer in time. One line, never the secret."""


class LoginRefused(AmiError):
    pass


@dataclass(frozen=True)
class AmiServer:
    host: str
    port: int
    username: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class Answer:
    success: bool  # Response: Success
    message: str  # its Message, e.g. "NOTIFY sent"


def _clean(value: str) -> str:
    """A header value: no line breaks (they would start another header, or another action)."""
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("an AMI header value with a line break")
    return value


class AmiClient:
    """One kept connection to one Manager Interface; actions one at a time."""

    def __init__(self, server: AmiServer):
        self.server = server
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def action(self, name: str, headers: list[tuple[str, str]]) -> Answer:
        with self._lock:
            for attempt in (1, 2):
                kept = self._sock is not None
                try:
                    return self._action(name, headers)
                except _DeadConnection:
                    self.close_unlocked()
                    if not kept or attempt == 2:
                        raise AmiError(f"{self._where()} closed the connection") from None
                    # The kept connection had died meanwhile (Asterisk restarted): once more, anew.
            raise AssertionError("unreachable")

    def _action(self, name: str, headers: list[tuple[str, str]]) -> Answer:
        try:
            if self._sock is None:
                self._connect()
            return self._exchange(name, headers)
        except _DeadConnection:
            raise
        except TimeoutError:
            self.close_unlocked()
            raise AmiError(f"no answer from {self._where()} within {ANSWER_TIMEOUT:g} s") from None
        except OSError as error:
            self.close_unlocked()
            raise AmiError(f"{self._where()}: {error.strerror or error}") from None
        except AmiError:
            self.close_unlocked()
            raise

    def _where(self) -> str:
        return f"AMI {self.server.host}:{self.server.port}"

    def _connect(self) -> None:
        try:
            self._sock = socket.create_connection((self.server.host, self.server.port), timeout=CONNECT_TIMEOUT)
        except TimeoutError:
            raise AmiError(f"{self._where()}: no connection within {CONNECT_TIMEOUT:g} s") from None
        self._sock.settimeout(ANSWER_TIMEOUT)
        self._buffer = b""
        banner = self._read_until(b"\r\n", first=True).decode("utf-8", "replace")
        if not banner.startswith(BANNER):
            raise AmiError(f"{self._where()} is not an Asterisk Manager Interface")
        answer = self._exchange(
            "Login", [("Username", self.server.username), ("Secret", self.server.secret), ("Events", "off")]
        )
        if not answer.success:
            raise LoginRefused(f"{self._where()} refused the login of {self.server.username!r}: {answer.message}")

    def _exchange(self, name: str, headers: list[tuple[str, str]]) -> Answer:
        action_id = f"hotdesk-{next(self._ids)}"
        lines = [f"Action: {_clean(name)}", f"ActionID: {action_id}"]
        lines += [f"{_clean(key)}: {_clean(value)}" for key, value in headers]
        assert self._sock is not None
        try:
            self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        except (BrokenPipeError, ConnectionResetError):
            raise _DeadConnection from None
        while True:
            message = self._read_message()
            if "event" in message:
                continue  # unsolicited: not an answer
            if message.get("actionid") != action_id:
                continue  # an answer to something else (a late one, after a timeout)
            return Answer(message.get("response", "").lower() == "success", message.get("message", "")[:200])

    def _read_message(self) -> dict[str, str]:
        raw = self._read_until(b"\r\n\r\n")
        message: dict[str, str] = {}
        for line in raw.decode("utf-8", "replace").split("\r\n"):
            key, sep, value = line.partition(":")
            if sep:
                message.setdefault(key.strip().lower(), value.strip())
        return message

    def _read_until(self, end: bytes, *, first: bool = False) -> bytes:
        assert self._sock is not None
        while end not in self._buffer:
            if len(self._buffer) > MAX_MESSAGE:
                raise AmiError(f"{self._where()} sent a message longer than {MAX_MESSAGE} bytes")
            try:
                chunk = self._sock.recv(4096)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                if first:
                    raise AmiError(f"{self._where()} closed the connection before its banner")
                raise _DeadConnection
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(end)
        return message

    def close_unlocked(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._buffer = None, b""

    def close(self) -> None:
        with self._lock:
            self.close_unlocked()


class _DeadConnection(Exception):
    """The peer closed the connection (Asterisk restarted, a firewall forgot it)."""


_clients: dict[AmiServer, AmiClient] = {}
_clients_lock = threading.Lock()


def client_for(server: AmiServer) -> AmiClient:
    """The process's kept connection to that server, as those credentials."""
    with _clients_lock:
        client = _clients.get(server)
        if client is None:
            for old in [s for s in _clients if (s.host, s.port) == (server.host, server.port)]:
                _clients.pop(old).close()  # other credentials: the settings changed
            client = _clients[server] = AmiClient(server)
        return client


def close_all() -> None:
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def pjsip_notify(
    server: AmiServer,
    *,
    endpoint: str | None,
    uri: str | None,
    event: str,
    body: str = "",
    content_type: str | None = None,
) -> Answer:
    """Ask Asterisk to send a NOTIFY to `endpoint` (its registered contacts) or else to `uri`.
    AmiError when it could not be asked; an Answer (success or Asterisk's refusal) otherwise."""
    target = [("Endpoint", endpoint)] if endpoint else [("URI", uri or "")]
    variables = [("Variable", f"Event={event}")]
    if body:
        if "," in body or (content_type and "," in content_type):
            # AMI splits a Variable header at commas: such a body cannot be sent this way.
            raise AmiError("the NOTIFY's body has a comma, which AMI cannot carry")
        variables += [("Variable", f"Content-Type={content_type}"), ("Variable", f"Content={body}")]
    return client_for(server).action("PJSIPNotify", target + variables)
