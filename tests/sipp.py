"""sipp, the real SIP peer the tests use as a desk phone receiving NOTIFY."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests import tools

SCENARIO = Path(__file__).parent / "sip" / "notify_uas.xml"
SIPP = tools.which("sipp")
EVENT = "check-sync;reboot=false"


def free_udp_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def udp_port_bound(port: int) -> bool | None:
    """Is anything bound to this UDP port? None if /proc is not there to tell."""
    found = None
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        found = found or any(int(line.split()[1].rsplit(":", 1)[1], 16) == port for line in lines)
    return found


# --- sipp ---------------------------------------------------------------------------------


class Sipp:
    def __init__(self, tmp_path: Path, expected_event: str) -> None:
        self.port = free_udp_port()
        self.messages = tmp_path / "msgs.log"
        self.output = tmp_path / "sipp.out"
        self.cmd = [
            SIPP,
            "-sf",
            str(SCENARIO),
            "-m",
            "1",
            "-p",
            str(self.port),
            "-i",
            "127.0.0.1",
            "-set",
            "expected_event",
            expected_event,
            "-trace_msg",
            "-message_file",
            str(self.messages),
            "-trace_err",
            "-error_file",
            str(tmp_path / "errors.log"),
            "-timeout",
            "20s",
            "-timeout_error",
            "-nostdin",
        ]
        with open(self.output, "wb") as out:
            # cwd=tmp_path: sipp drops its own log files next to where it runs.
            self.proc = subprocess.Popen(
                self.cmd, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_listening(self, timeout: float = 15.0) -> None:
        # Watch the socket table rather than probing with bind(): a probe could steal the
        # port from sipp while it starts.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"sipp exited early ({self.proc.returncode}):\n{self.diagnostics()}")
            bound = udp_port_bound(self.port)
            if bound is None:
                time.sleep(1.0)  # no /proc: give sipp a moment and hope
                return
            if bound:
                return
            time.sleep(0.05)
        pytest.fail(f"sipp did not start listening on udp/{self.port}:\n{self.diagnostics()}")

    def wait(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def diagnostics(self) -> str:
        parts = []
        for path in sorted(self.output.parent.glob("*")):
            if path.is_file() and path.suffix in {".log", ".out"}:
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return " ".join(self.cmd) + "\n" + "\n".join(parts)


@pytest.fixture
def sipp_uas(tmp_path):
    if SIPP is None:
        tools.missing("sipp")
    started = []

    def start(expected_event: str = EVENT) -> Sipp:
        peer = Sipp(tmp_path, expected_event)
        started.append(peer)
        peer.wait_listening()
        return peer

    yield start
    for peer in started:
        peer.kill()


def received_requests(message_log: Path) -> list[str]:
    """The SIP requests sipp logged as received (its -trace_msg file)."""
    text = message_log.read_text(errors="replace")
    chunks = re.split(r"^-{10,}.*$", text, flags=re.MULTILINE)
    return [c.split(":", 1)[1].strip() for c in chunks if "message received" in c]
