"""An Asterisk Manager Interface peer for the tests, speaking the wire protocol as Asterisk
documents it: the banner `Asterisk Call Manager/5.0.x`, messages of `Key: Value` lines ended by an
empty line, `Login` first (Response: Success / Error, Message), each answer repeating the action's
`ActionID`, unsolicited `Event:` messages in between. It can refuse the login, drop the connection
after an action, answer slowly, and answer out of turn."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

BANNER = b"Asterisk Call Manager/5.0.1\r\n"


@dataclass
class AmiPeer:
    username: str = "hotdesk"
    secret: str = "Ami-Secret-9"
    endpoints: set[str] = field(default_factory=lambda: {"1001", "1002", "2001"})
    refuse_login: bool = False
    drop_after_actions: int | None = None  # close the connection after this many PJSIPNotify actions
    delay: float = 0.0  # seconds before each PJSIPNotify answer
    actions: list[dict[str, list[str]]] = field(default_factory=list)  # every action received, in order
    connections: int = 0

    def __post_init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._server.close()
        for sock in self._open:
            sock.close()

    def notifies(self) -> list[dict[str, list[str]]]:
        return [a for a in self.actions if a["action"] == ["PJSIPNotify"]]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, list[str]]]:
        deadline = time.monotonic() + timeout
        while len(self.notifies()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.notifies()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        buffer = b""
        logged_in = False
        notified = 0
        try:
            conn.sendall(BANNER)
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    buffer += chunk
                raw, _, buffer = buffer.partition(b"\r\n\r\n")
                message: dict[str, list[str]] = {}
                for line in raw.decode().split("\r\n"):
                    key, _, value = line.partition(": ")
                    message.setdefault(key.lower(), []).append(value)
                self.actions.append(message)
                action = message.get("action", [""])[0].lower()
                action_id = message.get("actionid", [""])[0]
                if action == "login":
                    good = message.get("username") == [self.username] and message.get("secret") == [self.secret]
                    if self.refuse_login or not good:
                        self._answer(conn, action_id, "Error", "Authentication failed")
                        return  # Asterisk closes the connection after a failed login
                    logged_in = True
                    self._answer(conn, action_id, "Success", "Authentication accepted")
                    conn.sendall(b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n")
                elif not logged_in:
                    self._answer(conn, action_id, "Error", "Permission denied")
                elif action == "pjsipnotify":
                    notified += 1
                    if self.drop_after_actions is not None and notified > self.drop_after_actions:
                        conn.close()
                        return
                    time.sleep(self.delay)
                    # Out of turn first: an event, and an answer to an action of someone else's.
                    conn.sendall(b"Event: ContactStatus\r\nPrivilege: system,all\r\nContactStatus: Reachable\r\n\r\n")
                    conn.sendall(b"Response: Success\r\nActionID: not-yours-1\r\nMessage: Pong\r\n\r\n")
                    endpoint = message.get("endpoint", [None])[0]
                    if endpoint is not None and endpoint not in self.endpoints:
                        self._answer(conn, action_id, "Error", f"Unable to retrieve endpoint {endpoint}")
                    else:
                        self._answer(conn, action_id, "Success", "NOTIFY sent")
                else:
                    self._answer(conn, action_id, "Error", "Invalid/unknown command")
        except OSError:
            return

    @staticmethod
    def _answer(conn: socket.socket, action_id: str, response: str, text: str) -> None:
        conn.sendall(f"Response: {response}\r\nActionID: {action_id}\r\nMessage: {text}\r\n\r\n".encode())
