"""The login storm's load generator, a process of its own: `python -m bench.login_storm PLAN.json`.

Each flow is a user logging in on a guest phone, driven by tests/phones.py's YealinkPhone over
real HTTP: boot as guest (common file, <mac>.cfg), press External (the URL the guest file holds),
submit extension and PIN, then reload (both files again) and find the user's line. A UDP
responder plays the phones' SIP side and answers each NOTIFY 200 OK. Prints one JSON line.

`think_seconds` 0: each phone sends its next request the moment the last answer arrives (a closed
loop: flows then queue behind each other and measure throughput). Above 0: the user takes that
long to type extension and PIN, and the phone as long again to restart before it fetches its new
files — a person at a desk; a flow's time is then what the phone spent waiting for the server.

A plan with `boot_only` boots each of its phones once as a guest and prints how many: what the
phones did when they became guests, before the storm's clock (bench/__main__.py).
"""

from __future__ import annotations

import gc
import json
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.live_http import LiveClient
from tests.live_servers import NotifyResponder
from tests.phones import YealinkPhone


class TimedClient(LiveClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.latencies: list[float] = []

    def get(self, url, **kwargs):
        start = time.perf_counter()
        try:
            return super().get(url, **kwargs)
        finally:
            self.latencies.append(time.perf_counter() - start)


def login_flow(base_url: str, phone: dict, number: str, pin: str, think: float) -> tuple[float, list[float], float]:
    time.sleep(random.uniform(0, 2 * think))  # people reach their desks at any moment of a flow
    client = TimedClient(base_url)
    arrived = time.time()
    emulator = YealinkPhone(client, phone["mac"], credentials=(phone["username"], phone["password"]))
    start = time.perf_counter()
    try:
        if emulator.boot().get("account.1.enable") != "0":
            raise AssertionError("the phone did not boot as a guest")
        form = emulator.press("External")
        time.sleep(think)  # the user types extension and PIN
        answer = emulator.submit(form, extension=number, password=pin)
        if answer.findtext("Title") != "Logged in":
            raise AssertionError(f"login answered {emulator.text(answer)!r}")
        time.sleep(think)  # the phone restarts
        if emulator.boot().get("account.1.user_name") != number:
            raise AssertionError("the reloaded phone does not have the user's line")
        waited = sum(client.latencies) if think else time.perf_counter() - start
        return waited, client.latencies, arrived
    finally:
        client.close()


def boot_as_guest(base_url: str, phone: dict) -> None:
    """What the phone did when it became a guest (its last logout, or its first boot): fetch its guest
    files, which hotdesk publishes (hotdesk.published) and answers from then on without rendering."""
    client = LiveClient(base_url)
    try:
        files = YealinkPhone(client, phone["mac"], credentials=(phone["username"], phone["password"])).boot()
    finally:
        client.close()
    if files.get("account.1.enable") != "0":
        raise AssertionError("the phone did not boot as a guest")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def main(plan_path: str) -> None:
    plan = json.loads(Path(plan_path).read_text())
    if plan.get("boot_only"):
        with ThreadPoolExecutor(plan["concurrency"]) as pool:
            list(pool.map(lambda phone: boot_as_guest(plan["base_url"], phone), plan["phones"]))
        print(json.dumps({"booted": len(plan["phones"])}))
        return
    # 32 phones are 32 threads of this one process: hand the interpreter lock over every
    # millisecond rather than every 5, or a phone's answer waits for other phones' parsing.
    # (Spreading them over several processes was no better on 2 CPUs: more processes to schedule.)
    sys.setswitchinterval(0.001)
    responder = NotifyResponder(plan["sip_port"])
    # Before the clock starts: the first emulator imports tests.conftest (the app, pytest), a second
    # in which no phone thread runs, and the first exchange sets up what HTTP needs; then the heap
    # this left is frozen, or the collector's full passes over it stop every phone thread for
    # 35-260 ms at a time during the storm (gc.callbacks, 2026-12-06). Paid by the first phones to
    # arrive, these made the paced storm's p99 (their answers 60-160 ms, then their submits at once).
    YealinkPhone(LiveClient(plan["base_url"]), "000000000000")
    warm = LiveClient(plan["base_url"])
    warm.get("/bench-warm-up")  # a 404 that changes nothing
    warm.close()
    gc.collect()
    gc.freeze()
    started = time.perf_counter()
    with ThreadPoolExecutor(plan["concurrency"]) as pool:
        futures = [
            pool.submit(login_flow, plan["base_url"], phone, number, pin, plan.get("think_seconds", 0.0))
            for phone, (number, pin) in zip(plan["phones"], plan["extensions"], strict=True)
        ]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result())
            except Exception as error:  # a failed flow is a result, not a crash of the generator
                outcomes.append(f"{type(error).__name__}: {error}"[:200])
    elapsed = time.perf_counter() - started
    responder.close()
    done = [outcome for outcome in outcomes if not isinstance(outcome, str)]
    errors = [outcome for outcome in outcomes if isinstance(outcome, str)]
    flows = [seconds for seconds, _, _ in done]
    requests = [latency for _, latencies, _ in done for latency in latencies]
    steps = [latencies for _, latencies, _ in done]
    first = min((arrived for _, _, arrived in done), default=0.0)
    slowest = sorted(done, key=lambda flow: -flow[0])[:8]
    print(
        json.dumps(
            {
                "flows": len(outcomes),
                "ok": len(flows),
                "errors": len(errors),
                "first_errors": errors[:3],
                "seconds": elapsed,
                "flow_p50_ms": 1000 * percentile(flows, 0.50),
                "flow_p99_ms": 1000 * percentile(flows, 0.99),
                "request_p50_ms": 1000 * percentile(requests, 0.50),
                "request_p99_ms": 1000 * percentile(requests, 0.99),
                "requests": len(requests),
                "notifies": responder.received,
                "step_p99_ms": [
                    round(1000 * percentile(list(step), 0.99), 1) for step in zip(*steps, strict=True)
                ],  # where a slow flow spent its time
                # the slowest flows: when they started (s into the run) and each answer's time (ms)
                "slowest": [
                    [round(arrived - first, 2), [round(1000 * latency, 1) for latency in latencies]]
                    for _, latencies, arrived in slowest
                ],
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
