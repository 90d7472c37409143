"""wrk (Debian's package), the load generator for every fixed-request measurement."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("requests.lua")


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    errors: int  # socket errors, timeouts and answers other than 200
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk(
    url: str, request_list: Path, *, connections: int, threads: int = 2, seconds: float = 10, count: int | None = None
) -> Run:
    """Keep-alive load from `request_list` for `seconds`, or (count) until that many answers came back."""
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed (Debian package wrk)")
    if count is not None:
        threads, seconds = 1, 600  # an upper bound: the script ends the run at `count` answers
    args = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds:g}s",
        "--timeout",
        "30s",
        "-s",
        str(SCRIPT),
        url,
        "--",
        str(request_list),
        str(threads),
        str(count or 0),
    ]
    finished = subprocess.run(args, capture_output=True, text=True, check=True)
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    socket_errors = sum(result[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    if count is not None:
        # Answers already read when the thread stopped are counted too: at most `connections` more.
        requests, errors = min(result["counted"], count), result["counted_failed"] + socket_errors
    else:
        requests, errors = result["requests"], result["status_errors"] + socket_errors
    return Run(requests, result["duration_us"] / 1e6, errors, result["p50_us"] / 1000, result["p99_us"] / 1000)
