"""What every throughput measurement of `make bench` records: a server, its runs, its CPU time."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from bench.wrk import Run
from tests.live_servers import Process


@dataclass(frozen=True)
class Measured:
    run: Run
    cpu_seconds: float  # what the server's processes spent on the run


@dataclass
class Target:
    """One server answering the same requests; measured in every round, interleaved with the others."""

    url: str
    requests: Path
    server: Process
    runs: list[Measured] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(m.run.rate for m in self.runs)

    @property
    def p50_ms(self) -> float:
        return statistics.median(m.run.p50_ms for m in self.runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(m.run.p99_ms for m in self.runs)

    @property
    def errors(self) -> int:
        return sum(m.run.errors for m in self.runs)

    @property
    def cpu_ms(self) -> float:
        """Server CPU time per answer: unlike req/s, barely moved by other load on the machine."""
        return 1000 * sum(m.cpu_seconds for m in self.runs) / sum(m.run.requests for m in self.runs)


def cpu_seconds(server: Process) -> float:
    ticks = 0
    for pid in [server.pid, *server.children()]:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")
