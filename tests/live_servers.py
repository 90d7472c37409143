"""gunicorn and nginx as real processes on loopback ports, started from the files in deploy/,
and a UDP peer that answers their NOTIFYs as a crowd of phones would.

Used by the deployment and crash-safety tests and by the benchmark (bench/). Each process
writes its log to a file beside its configuration; `log()` reads it for a failure message.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests import tools

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
NGINX = tools.which("nginx")


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(
    port: int, process: subprocess.Popen, log: Path, host: str = "127.0.0.1", timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited ({process.returncode}):\n{_tail(log)}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout}s:\n{_tail(log)}")


class Process:
    """A server process; `stop()` ends it gracefully, then by force."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path = ROOT):
        self.log_path = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def children(self) -> list[int]:
        """The running child processes (not one that died and is not reaped yet)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [int(pid) for pid in children if _state(int(pid)) not in {"Z", "X", None}]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class Gunicorn(Process):
    """`gunicorn -c deploy/gunicorn.conf.py APP` on a loopback port."""

    def __init__(self, app: str, log: Path, env: dict[str, str], *, workers: int = 1, port: int | None = None):
        self.port = port or free_port()
        args = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(GUNICORN_CONF),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            app,
        ]
        super().__init__(args, log, env={**os.environ, **env})
        self.workers = workers
        wait_for_port(self.port, self.process, log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_for_workers(self, timeout: float = 30.0) -> list[int]:
        """The workers' pids, once as many as configured are running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.children()
            if len(pids) == self.workers:
                return pids
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn has {len(self.children())} of {self.workers} workers:\n{_tail(self.log_path)}")


class Nginx(Process):
    """nginx in the foreground with its own prefix directory, serving the given `http { }` contents."""

    def __init__(self, directory: Path, http: str, ports: list[int], *, workers: int = 1):
        directory.mkdir(parents=True, exist_ok=True)
        conf = directory / "nginx.conf"
        # As root, nginx's workers would switch to `nobody`, which cannot read a private temp dir.
        user = "user root root;" if os.geteuid() == 0 else ""
        conf.write_text(
            f"""{user}
daemon off;
worker_processes {workers};
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
{http}
}}
"""
        )
        log = directory / "error.log"
        super().__init__([NGINX, "-p", str(directory), "-c", str(conf), "-e", str(log)], log)
        self.url = f"http://127.0.0.1:{ports[0]}"
        for port in ports:
            wait_for_port(port, self.process, log)

    def stop(self, sig: int = signal.SIGQUIT, timeout: float = 30.0) -> None:
        super().stop(sig, timeout)


class NotifyResponder:
    """Answers every SIP NOTIFY to 127.0.0.1:port with 200 OK, as the phones would; counts them."""

    def __init__(self, port: int = 0):
        self.received = 0
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", port))
        self.port = self.socket.getsockname()[1]
        self.socket.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                data, peer = self.socket.recvfrom(65535)
            except TimeoutError:
                continue
            head = data.decode("utf-8", "replace").split("\r\n\r\n", 1)[0].split("\r\n")
            if not head[0].startswith("NOTIFY "):
                continue
            self.received += 1
            copied = [
                line
                for line in head[1:]
                if line.split(":", 1)[0].strip().lower() in {"via", "from", "to", "call-id", "cseq"}
            ]
            self.socket.sendto(
                ("\r\n".join(["SIP/2.0 200 OK", *copied, "Content-Length: 0"]) + "\r\n\r\n").encode(), peer
            )

    def close(self, settle: float = 2.0) -> None:
        time.sleep(settle)  # NOTIFYs go out in the background after the answers
        self.running = False
        self.thread.join()
        self.socket.close()


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _tail(path: Path, size: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""
